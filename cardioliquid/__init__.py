"""CardioLiquid: compact, explainable liquid neural networks for ECG and EEG."""

from __future__ import annotations

from cardioliquid._version import __version__

__all__ = ["__version__", "create_model", "load_model", "load_recording", "score_recording"]


def __getattr__(name: str):
    # Lazy public entry points: `import cardioliquid` (every CLI start) stays free of
    # torch, MNE and wfdb, so `cardioliquid --help` answers at once.
    if name == "load_recording":
        from cardioliquid.io import load_recording

        return load_recording
    if name == "create_model":
        from cardioliquid.models import create_model

        return create_model
    if name == "load_model":
        from cardioliquid.models.checkpoint import load_model

        return load_model
    if name == "score_recording":
        from cardioliquid.scoring import score_recording

        return score_recording
    raise AttributeError(name)
