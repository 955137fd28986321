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
  :mod:`~cardioliquid.scoring.inputs`: a record's input files (never overwritten,
  fingerprinted for ``--resume``);
- :mod:`~cardioliquid.scoring.distributed`: the same through Lightning DDP.

Calls, events and alerts are decided by :mod:`cardioliquid.decision`.
"""

from __future__ import annotations

from importlib import import_module

# Where each public name lives. They are imported on first use (module __getattr__),
# not here: they bring torch, and `cardioliquid score --help` imports this package
# (for cardioliquid.scoring.cli) and answers without it.
_EXPORTS = {
    "BeatPredictions": "results",
    "BeatStream": "stream",
    "WindowPredictions": "results",
    "WindowStream": "stream",
    "predict_beats": "beats",
    "predict_windows": "windows",
    "replay": "stream",
    "score_recording": "recording",
}

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


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(import_module(f"cardioliquid.scoring.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'cardioliquid.scoring' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
