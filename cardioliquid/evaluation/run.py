"""Evaluate one record: a model (or a predictions folder) against its expert annotations.

What ``cardioliquid evaluate`` runs per record, and what pipelines call
directly. Beats come from :func:`cardioliquid.scoring.beats.predict_beats`;
seizure events from the one event rule with the model's decision settings
(``loaded.decision``, flags applied), the events ``cardioliquid score`` writes.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from cardioliquid.decision.events import detection_time
from cardioliquid.decision.settings import DecisionSettings
from cardioliquid.errors import RecordingError
from cardioliquid.evaluation import ec57
from cardioliquid.evaluation import seizure as sz
from cardioliquid.evaluation.records import read_predictions
from cardioliquid.io import load_ecg, load_recording
from cardioliquid.scoring.beats import predict_beats
from cardioliquid.scoring.checks import check_reference_beats
from cardioliquid.scoring.windows import predict_windows
from cardioliquid.training.adapt import adapt_to_patient, adaptation_settings


def model_digest(loaded: Any) -> str | None:
    """SHA-256 of the model file, so a result can be matched to the weights that made it."""
    path = Path(getattr(loaded, "path", "") or "")
    if not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _model_beats(rec: Any, loaded: Any, beats: str) -> tuple[np.ndarray, np.ndarray]:
    pred = predict_beats(rec, loaded, beats=beats)
    return np.asarray(pred.sample, dtype=np.int64), np.asarray(pred.labels, dtype=str)


def _adapt(loaded: Any, rec: Any, minutes: float) -> Any:
    return adapt_to_patient(loaded, rec, minutes, **adaptation_settings(loaded))


def evaluate_arrhythmia_record(
    data: Path,
    record: str,
    loaded: Any = None,
    predictions: Path | None = None,
    calibrate_minutes: float = 0.0,
    beats: str = "reference",
    window_s: float = ec57.MATCH_WINDOW_S,
) -> ec57.RecordComparison:
    """EC57 comparison of one record, from a model or from a prediction file.

    Raises
    ------
    RecordingError
        The record has no reference beats, or none after ``calibrate_minutes``
        (nothing to score: a failed record, not a record of zero beats).
    """
    rec = load_ecg(data / record)
    if rec.beats is None or len(rec.beats) == 0:
        state = (rec.meta.get("reference_annotations") or {}).get("state", "missing")
        raise RecordingError(
            data / f"{record}.atr",
            f"expected reference beat annotations to evaluate against, got a file that is "
            f"{state}",
        )
    check_reference_beats(rec, loaded)  # far fewer than the QRS complexes: corrupt, refused
    scored = (rec.beats.aami != "") & (rec.beats.sample >= 60.0 * calibrate_minutes * rec.fs)
    if calibrate_minutes > 0 and not scored.any():  # checked before adapting on them
        raise RecordingError(
            data / record,
            f"no beats after minute {calibrate_minutes:g}: the record lasts "
            f"{rec.duration_s / 60:.1f} min",
        )
    if predictions is not None:
        sample, cls = read_predictions(predictions, record)
    else:
        model = _adapt(loaded, rec, calibrate_minutes) if calibrate_minutes > 0 else loaded
        sample, cls = _model_beats(rec, model, beats)
    return ec57.compare_recording(
        rec, sample, cls, start_s=60.0 * calibrate_minutes, window_s=window_s
    )


def _beside(file: str | None, recording: Path) -> str | None:
    """``file`` relative to ``recording``'s folder (results name no machine's folders)."""
    return None if file is None else os.path.relpath(file, recording.parent)


def evaluate_seizure_recording(
    path: Path,
    loaded: Any,
    settings: DecisionSettings | None = None,
    params: sz.SzcoreParams | None = None,
) -> tuple[sz.SeizureCounts, dict[str, Any]]:
    """Counts and a timeline (reference, detections, probabilities) of one EEG file.

    Parameters
    ----------
    path : Path
        An EEG file with seizure annotations.
    loaded : LoadedModel
        A seizure model.
    settings : DecisionSettings, optional
        The event rule; default the model's own (``loaded.decision``).
    params : SzcoreParams, optional
        Event scoring parameters; default SzCORE's.
    """
    settings = settings or loaded.decision
    rec = load_recording(path)
    if rec.meta.get("seizure_source") is None:  # no truth: every detection would be false
        raise RecordingError(path, "no seizure annotations: expected a BIDS/SzCORE "
                                   "_events.tsv beside it (its header alone for a seizure-free "
                                   "file), EDF+ annotations, a CHB-MIT summary or a .seizures "
                                   "file")
    pred = predict_windows(rec, loaded)
    events = pred.events(settings)
    hyp = [(e.onset, e.offset) for e in events]
    # when a stream knows each event: its alert time, as the app raises it
    raised = [detection_time(e, pred.start_s, pred.end_s, pred.proba, settings) for e in events]
    prep = loaded.preprocessing
    truth = sz.window_labels(
        pred.start_s, prep.window_s, rec.seizures, getattr(prep, "min_overlap", 0.5)
    )
    # Window-level scores judge the network's raw decisions: the threshold, no smoothing.
    decided = (pred.seizure_proba >= settings.threshold).astype(int)
    counts = sz.count_recording(rec.seizures, hyp, rec.duration_s, params, truth, decided,
                                raised)
    timeline = {
        "duration_s": rec.duration_s,
        # the truth file beside the recording (or a folder up), named from its folder
        "truth": {"source": rec.meta.get("seizure_source"),
                  "file": _beside(rec.meta.get("seizure_file"), Path(path))},
        "ref": list(rec.seizures),
        "hyp": hyp,
        "t": (pred.start_s + prep.window_s / 2).tolist(),
        "p": pred.seizure_proba.astype(float).tolist(),
    }
    return counts, timeline
