"""Batch and streaming scoring of recordings with a loaded model.

- :mod:`~cardioliquid.scoring.inference`: :func:`predict_beats`,
  :func:`predict_windows`, :func:`score_recording` (shared by evaluate, score
  and the app);
- :mod:`~cardioliquid.scoring.stream`: :class:`BeatStream`,
  :class:`WindowStream`, :func:`replay` (live replay, equal to batch);
- :mod:`~cardioliquid.scoring.writers`: WFDB ``.cla``, SzCORE ``_events.tsv``,
  tables, manifests;
- :mod:`~cardioliquid.scoring.batch`: :func:`score_paths` (``cardioliquid score``);
- :mod:`~cardioliquid.scoring.distributed`: the same through Lightning DDP.
"""

from __future__ import annotations

from cardioliquid.scoring.inference import (
    BeatPredictions,
    SeizureEvent,
    WindowPredictions,
    predict_beats,
    predict_windows,
    score_recording,
    windows_to_events,
)
from cardioliquid.scoring.stream import BeatStream, WindowStream, replay

__all__ = [
    "BeatPredictions",
    "BeatStream",
    "SeizureEvent",
    "WindowPredictions",
    "WindowStream",
    "predict_beats",
    "predict_windows",
    "replay",
    "score_recording",
    "windows_to_events",
]
