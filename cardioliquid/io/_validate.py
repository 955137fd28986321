"""Checks every loader runs before returning a :class:`Recording`.

They reject input no model can use: no finite sample, or no variation at all.
NaN stretches (WFDB stores a signal dropout as invalid samples) load as NaN;
what to do with them is the later layer's choice (:mod:`cardioliquid.signal.quality`:
ECG beats touching a gap are unclassifiable, EEG windows refuse them).
"""

from __future__ import annotations

import numpy as np

from cardioliquid.errors import RecordingError
from cardioliquid.io.recording import Recording


def check_loadable(rec: Recording) -> Recording:
    """Raise :class:`RecordingError` if ``rec`` holds no finite sample or is flat everywhere.

    Returns ``rec`` unchanged otherwise.
    """
    where = rec.source or rec.record_id
    if rec.n_samples == 0:
        raise RecordingError(where, "empty signal: expected at least one sample, got 0")
    finite = np.isfinite(rec.signal)
    if not finite.any():
        raise RecordingError(
            where, f"no signal: expected finite samples, got NaN/inf in all {finite.size} "
            f"samples of channel(s) {rec.channel_names}")
    live = finite.any(axis=1)
    spread = [np.ptp(row[ok]) for row, ok in zip(rec.signal[live], finite[live], strict=True)]
    if rec.n_samples > 1 and all(v == 0 for v in spread):
        raise RecordingError(
            where, "flat signal: expected a varying signal, got constant values in every channel"
        )
    return rec
