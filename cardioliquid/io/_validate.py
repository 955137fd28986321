"""Checks every loader runs before returning a :class:`Recording`.

They reject input no model can use (NaN samples, a signal with no variation
at all). Finer quality checks (flat or clipped segments) live in
:mod:`cardioliquid.signal.quality`, a later layer.
"""

from __future__ import annotations

import numpy as np

from cardioliquid.errors import RecordingError
from cardioliquid.io.recording import Recording


def check_loadable(rec: Recording) -> Recording:
    """Raise :class:`RecordingError` if ``rec`` holds NaN/inf samples or is flat everywhere.

    Returns ``rec`` unchanged otherwise.
    """
    where = rec.source or rec.record_id
    if rec.n_samples == 0:
        raise RecordingError(where, "empty signal: expected at least one sample, got 0")
    finite = np.isfinite(rec.signal)
    if not finite.all():
        ch, t = np.nonzero(~finite)
        bad_ch = sorted({rec.channel_names[c] for c in ch})
        raise RecordingError(
            where,
            f"NaN segment: expected finite samples, got {int((~finite).sum())} NaN/inf samples "
            f"in channel(s) {bad_ch}, the first at {t.min() / rec.fs:.2f} s",
        )
    if rec.n_samples > 1 and np.all(np.ptp(rec.signal, axis=1) == 0):
        raise RecordingError(
            where, "flat signal: expected a varying signal, got constant values in every channel"
        )
    return rec
