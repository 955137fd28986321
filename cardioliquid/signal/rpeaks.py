"""R-peak detection for unannotated ECG with a kept detector (wfdb.processing).

``xqrs`` is wfdb's XQRS (learning thresholds from the first seconds); ``gqrs``
is wfdb's port of PhysioNet's gqrs. Both are run on one lead in mV; the
detections are moved to the local maximum of |signal| within 50 ms so windows
centre on the R peak as the MIT-BIH annotations do.

XQRS spends almost all its time in wfdb's ``find_local_peaks``, a Python
loop over every sample. :func:`find_local_peaks` is an exact vectorised
equivalent (same peaks, proved by a test against wfdb's) that is swapped in
while XQRS runs; the detector itself is unchanged. See the module's README
section for the measured speeds.
"""

from __future__ import annotations

import contextlib
import io
import logging

import numpy as np
from scipy.ndimage import maximum_filter1d
from wfdb import processing
from wfdb.processing import qrs as wfdb_qrs

from cardioliquid._check import check_option

DETECTORS: tuple[str, ...] = ("xqrs", "gqrs")


def find_local_peaks(sig: np.ndarray, radius: int) -> np.ndarray:
    """Vectorised :func:`wfdb.processing.find_local_peaks` (identical output).

    A sample is a peak when it equals the maximum of ``sig[i - radius : i + radius]``
    (clipped at the edges); scanning left to right, the search resumes
    ``radius`` samples after each accepted peak.
    """
    sig = np.asarray(sig)
    if sig.size == 0 or np.min(sig) == np.max(sig):
        return np.empty(0)
    radius = int(radius)
    # size 2r, origin 0 -> the window [i - r, i + r - 1], as wfdb's slice.
    local_max = maximum_filter1d(sig, size=2 * radius, mode="constant", cval=-np.inf)
    candidates = np.flatnonzero(sig == local_max)
    peaks, next_allowed = [], 0
    for c in candidates.tolist():
        if c >= next_allowed:
            peaks.append(c)
            next_allowed = c + radius
    return np.array(peaks)


@contextlib.contextmanager
def _fast_peak_search():
    original = wfdb_qrs.find_local_peaks
    wfdb_qrs.find_local_peaks = find_local_peaks
    try:
        yield
    finally:
        wfdb_qrs.find_local_peaks = original


def detect_r_peaks(x: np.ndarray, fs: float, method: str = "xqrs",
                   refine_s: float = 0.05) -> np.ndarray:
    """Sample indices of the R peaks in one ECG lead.

    Parameters
    ----------
    x : ndarray, shape (n_samples,)
        One lead, physical units (mV).
    fs : float
        Sampling rate (Hz).
    method : {"xqrs", "gqrs"}
        The wfdb detector.
    refine_s : float
        Radius (s) within which each detection moves to the largest |x|;
        0 keeps the detector's positions.

    Returns
    -------
    ndarray of int64, sorted and unique.
    """
    check_option("method", method, DETECTORS)
    sig = np.asarray(x, dtype=np.float64)
    if sig.size < int(2 * fs):
        return np.zeros(0, dtype=np.int64)
    # wfdb prints progress and logs warnings on silent stretches: keep them out of batch logs.
    logger = logging.getLogger("wfdb")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), _fast_peak_search():
            if method == "xqrs":
                det = processing.XQRS(sig=sig, fs=fs)
                det.detect(verbose=False)
                peaks = np.asarray(det.qrs_inds, dtype=np.int64)
            else:
                peaks = np.asarray(processing.gqrs_detect(sig=sig, fs=fs), dtype=np.int64)
    finally:
        logger.setLevel(level)
    if peaks.size and refine_s > 0:
        radius = max(1, round(refine_s * fs))
        peaks = np.asarray(
            processing.correct_peaks(sig - np.median(sig), peaks, radius, radius, "compare"),
            dtype=np.int64,
        )
    peaks = peaks[(peaks >= 0) & (peaks < sig.size)]
    return np.unique(peaks)
