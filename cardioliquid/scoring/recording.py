"""Score one recording with a model: the package's one-call entry point."""

from __future__ import annotations

from pathlib import Path

from cardioliquid.io import load_recording
from cardioliquid.io.recording import Recording
from cardioliquid.models.checkpoint import LoadedModel, load_model
from cardioliquid.scoring.beats import predict_beats
from cardioliquid.scoring.results import BeatPredictions, WindowPredictions
from cardioliquid.scoring.runner import DEFAULT_BATCH_SIZE
from cardioliquid.scoring.windows import predict_windows


def score_recording(
    path_or_rec: str | Path | Recording,
    model: str | Path | LoadedModel | None = None,
    beats: str = "auto",
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> BeatPredictions | WindowPredictions:
    """Score one recording with a model: beats for ECG, windows for EEG.

    Parameters
    ----------
    path_or_rec : str, path or Recording
        A recording file (WFDB header, EDF/BDF, anything MNE reads) or a
        loaded :class:`~cardioliquid.io.recording.Recording`.
    model : str, path or LoadedModel, optional
        A shipped model name, a checkpoint file, or a loaded model; default
        ``"arrhythmia"`` for ECG and ``"seizure"`` for EEG.
    beats : {"auto", "reference", "detect"}
        R-peak source for ECG (see :func:`predict_beats`).
    batch_size : int
        Windows per forward pass.

    Returns
    -------
    BeatPredictions or WindowPredictions

    Examples
    --------
    >>> import cardioliquid as cl
    >>> pred = cl.score_recording("mitdb/100.hea")  # doctest: +SKIP
    >>> pred.counts()  # doctest: +SKIP
    """
    rec = load_recording(path_or_rec) if isinstance(path_or_rec, (str, Path)) else path_or_rec
    if model is None:
        model = "arrhythmia" if rec.modality == "ecg" else "seizure"
    loaded = model if isinstance(model, LoadedModel) else load_model(model)
    if loaded.task == "arrhythmia":
        return predict_beats(rec, loaded, beats=beats, batch_size=batch_size)
    return predict_windows(rec, loaded, batch_size=batch_size)
