"""Checks every loader runs before returning a :class:`Recording`.

They reject input no model can use: no finite sample, or no variation at all.
NaN stretches (WFDB stores a signal dropout as invalid samples) load as NaN;
the windowing leaves out the beats and EEG windows that touch such a gap
(:func:`cardioliquid.signal.quality.unusable_samples`).
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
    # channel by channel, and without a copy of the signal: a 24-hour record is 250 MB
    live = [row for row in rec.signal if np.isfinite(row).any()]  # channels with some signal
    if not live:
        raise RecordingError(
            where, f"no signal: expected finite samples, got NaN/inf in all {rec.signal.size} "
            f"samples of channel(s) {rec.channel_names}")
    if rec.n_samples > 1 and all(np.nanmax(row) == np.nanmin(row) for row in live):
        raise RecordingError(
            where, "flat signal: expected a varying signal, got constant values in every channel"
        )
    return rec
