"""Batch and streaming scoring of recordings with a loaded model.

- :mod:`~cardioliquid.scoring.beats`: :func:`predict_beats` (ECG) and
  :mod:`~cardioliquid.scoring.windows`: :func:`predict_windows` (EEG), shared by
  evaluate, score and the app; :mod:`~cardioliquid.scoring.recording`:
  :func:`score_recording`, either from a file;
- :mod:`~cardioliquid.scoring.results`: :class:`BeatPredictions`,
  :class:`WindowPredictions`;
- :mod:`~cardioliquid.scoring.runner` (the network over windows),
  :mod:`~cardioliquid.scoring.segments` (segment planning),
  :mod:`~cardioliquid.scoring.checks` (does the model fit the recording);
- :mod:`~cardioliquid.scoring.stream`: :class:`BeatStream`,
  :class:`WindowStream`, :func:`replay` (live replay, equal to batch);
- :mod:`~cardioliquid.scoring.writers`: WFDB ``.cla``, SzCORE ``_events.tsv``,
  tables, manifests;
- :mod:`~cardioliquid.scoring.batch`: :func:`score_paths` (``cardioliquid score``);
- :mod:`~cardioliquid.scoring.distributed`: the same through Lightning DDP.

Calls, events and alerts are decided by :mod:`cardioliquid.decision`.
"""

from __future__ import annotations

from cardioliquid.scoring.beats import predict_beats
from cardioliquid.scoring.recording import score_recording
from cardioliquid.scoring.results import BeatPredictions, WindowPredictions
from cardioliquid.scoring.stream import BeatStream, WindowStream, replay
from cardioliquid.scoring.windows import predict_windows

__all__ = [
    "BeatPredictions",
    "BeatStream",
    "WindowPredictions",
    "WindowStream",
    "predict_beats",
    "predict_windows",
    "replay",
    "score_recording",
]
