"""Seizure probability of every sliding window of an EEG recording.

:func:`predict_windows` is what ``cardioliquid score``, ``cardioliquid
evaluate`` and the app call. The preprocessing comes from the checkpoint and
runs through :func:`cardioliquid.signal.windows.eeg_windows`; events come from
:meth:`~cardioliquid.scoring.results.WindowPredictions.events` with the
model's decision settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from cardioliquid.decision.unusable import mark_background
from cardioliquid.io.recording import Recording
from cardioliquid.scoring.checks import check_fits, recording_label, windowing_errors
from cardioliquid.scoring.results import WindowPredictions
from cardioliquid.scoring.runner import DEFAULT_BATCH_SIZE, run_model
from cardioliquid.scoring.segments import (
    DEFAULT_EEG_CONTEXT_S,
    DEFAULT_EEG_LOOKAHEAD_S,
    Segment,
    iter_segments,
    slice_recording,
    window_segment_plan,
)
from cardioliquid.signal.windows import EEGWindows, eeg_windows

if TYPE_CHECKING:
    from cardioliquid.models.checkpoint import LoadedModel


def _eeg_windows(rec: Recording, loaded: LoadedModel, require_signal: bool = True) -> EEGWindows:
    with windowing_errors(rec, "EEG"):
        return eeg_windows(rec, loaded.preprocessing, require_signal=require_signal)


def score_window_segment(
    rec: Recording,
    loaded: LoadedModel,
    seg: Segment | None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    hx: Any = None,
) -> tuple[np.ndarray, np.ndarray, Any]:
    """Windows of one segment (the whole recording when ``seg`` is None).

    Returns absolute window starts (seconds), probabilities and the final state.
    """
    ew = _eeg_windows(rec, loaded, require_signal=seg is None)
    offset = 0 if seg is None else seg.read_start
    # Starts on the recording's sample grid, so segments and the whole agree.
    start_samples = np.round(np.asarray(ew.start_s, dtype=np.float64) * rec.fs).astype(np.int64)
    start_samples += offset
    x, usable = ew.x, ew.usable
    if seg is not None:
        keep = (start_samples >= seg.keep_start) & (start_samples < seg.keep_stop)
        start_samples, x, usable = start_samples[keep], x[keep], usable[keep]
    proba, hx = run_model(loaded, x, None, batch_size, hx, where=recording_label(rec))
    # No detection where the signal has a gap: the window's call is background.
    return start_samples / rec.fs, mark_background(proba, usable, loaded.classes), hx


def predict_windows(
    rec: Recording,
    loaded: LoadedModel,
    batch_size: int = DEFAULT_BATCH_SIZE,
    segment_s: float | None = None,
    context_s: float = DEFAULT_EEG_CONTEXT_S,
    lookahead_s: float = DEFAULT_EEG_LOOKAHEAD_S,
) -> WindowPredictions:
    """Seizure probability of every sliding window of an EEG recording.

    Parameters
    ----------
    rec : Recording
        An EEG recording holding the channels the model reads.
    loaded : LoadedModel
        A seizure model.
    batch_size : int
        Windows per forward pass.
    segment_s : float, optional
        Preprocess in segments of this length (what a stream computes); must
        be a multiple of the model's hop. None: the whole recording at once.
    context_s, lookahead_s : float
        Signal read before and after each segment (multiples of the hop).

    Returns
    -------
    WindowPredictions
        Use :meth:`WindowPredictions.events` with ``loaded.decision`` for seizure events.

    Raises
    ------
    ContractError, RecordingError
        The model does not fit the recording; the message names the file.
    """
    check_fits(rec, loaded)
    prep = loaded.preprocessing
    if segment_s is None:
        start, proba, _ = score_window_segment(rec, loaded, None, batch_size)
    else:
        plan = window_segment_plan(rec.fs, prep, segment_s, context_s, lookahead_s)
        parts_s, parts_p, hx = [], [], None
        for seg in iter_segments(rec.n_samples, plan):
            sub = slice_recording(rec, seg.read_start, seg.read_stop)
            s, p, hx = score_window_segment(sub, loaded, seg, batch_size, hx)
            parts_s.append(s)
            parts_p.append(p)
        start = np.concatenate(parts_s) if parts_s else np.zeros(0)
        proba = np.concatenate(parts_p) if parts_p else np.zeros((0, len(loaded.classes)))
    return WindowPredictions(
        start,
        start + prep.window_s,
        proba,
        loaded.classes,
        rec.record_id,
        rec.duration_s,
        list(prep.channels) or list(rec.channel_names),
    )
