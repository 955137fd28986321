"""Beat morphology against the record's median beat (its template).

The median beat of a record is its dominant morphology even when ectopic beats
are common. :func:`template_features` describes how each beat departs from it
(correlation, RMS difference and amplitude ratio) over the QRS or the P-wave
region, optionally at each beat's best alignment. This module owns those
features, their names and the compared regions;
:func:`cardioliquid.signal.windows.beat_windows` appends them after the RR
features. The P-wave region against the *recent* beats, rather than the whole
record, is :mod:`cardioliquid.signal.atrial`'s.
"""

from __future__ import annotations

import numpy as np

TEMPLATE_FEATURE_NAMES: tuple[str, ...] = (
    "template_corr",  # Pearson correlation with the record's median beat over the QRS
    "template_diff",  # RMS of (beat - median beat) over RMS of the median beat, QRS
    "template_amp",  # peak-to-peak amplitude over the median beat's, QRS
)
"""The morphology features of ``template_features``, in order."""

TEMPLATE_QRS_S: tuple[float, float] = (0.1, 0.15)
"""QRS region compared with the template: 100 ms before to 150 ms after the R peak."""

TEMPLATE_P_FEATURE_NAMES: tuple[str, ...] = ("p_corr", "p_diff", "p_amp")
"""The features of ``template_features`` over the P-wave region, in order."""

TEMPLATE_P_WAVE_S: tuple[float, float] = (0.25, -0.06)
"""P-wave region compared with the template: 250 ms to 60 ms before the R peak."""


def template_features(windows: np.ndarray, pre: int, fs: float,
                      region_s: tuple[float, float] = TEMPLATE_QRS_S,
                      max_lag: int = 0, from_beats: np.ndarray | None = None) -> np.ndarray:
    """Morphology of each beat relative to the median beat of ``windows``.

    Parameters
    ----------
    windows : ndarray, shape (n, 1, n_times)
        Normalised beat windows of one record (or stream segment).
    pre : int
        Samples before the R peak in each window.
    fs : float
        Rate of the windows (Hz).
    region_s : (float, float)
        Compared region: from ``region_s[0]`` s before to ``region_s[1]`` s
        after the R peak (default the QRS, :data:`TEMPLATE_QRS_S`).
    max_lag : int
        Compare each beat with the template at its best alignment within
        ``max_lag`` samples (highest correlation), and build the template from
        beats so aligned. Beat positions quantised at a low recording rate (a
        7.8 ms grid at 128 Hz) or placed by a detector jitter by a sample or
        two; unaligned, a sharp QRS then looks unlike its own template. 0
        compares at the given positions.
    from_beats : ndarray of bool, shape (n,), optional
        The beats the median beat is built from (default all; beats beside a
        signal gap are left out so a long gap cannot flatten the template).

    Returns
    -------
    ndarray of float32, shape (n, 3)
        See :data:`TEMPLATE_FEATURE_NAMES`.
    """
    n, _, t = windows.shape
    if n == 0:
        return np.zeros((0, len(TEMPLATE_FEATURE_NAMES)), dtype=np.float32)
    lo = max(0, pre - round(region_s[0] * fs))
    hi = min(t, pre + round(region_s[1] * fs))
    if hi - lo < 2:
        raise ValueError(f"template region {region_s} s around the R peak holds {hi - lo} "
                         f"samples of the {t}-sample windows; widen pre_s/post_s")
    seg = windows[:, 0, lo:hi].astype(np.float64)
    build = np.ones(n, dtype=bool)
    if from_beats is not None and np.any(from_beats):
        build = np.asarray(from_beats, dtype=bool)
    # The median beat is the dominant morphology even when ectopic beats are common.
    template = np.median(seg[build], axis=0)
    eps = 1e-6
    lag = min(int(max_lag), lo, t - hi)
    if lag > 0:
        seg, template = _align_to_template(windows[:, 0], lo, hi, lag, template, build)
    b = seg - seg.mean(axis=1, keepdims=True)
    m = template - template.mean()
    corr = (b @ m) / np.maximum(np.linalg.norm(b, axis=1) * np.linalg.norm(m), eps)
    t_rms = max(float(np.sqrt(np.mean(m**2))), eps)
    diff = np.sqrt(np.mean((b - m) ** 2, axis=1)) / t_rms
    amp = np.ptp(seg, axis=1) / max(float(np.ptp(template)), eps)
    return np.stack([corr, diff, amp], axis=1).astype(np.float32)


ALIGN_CHUNK_BEATS = 8192
"""Beats aligned at a time: every shift of every beat at once took 3 x 196 MB for a 24-hour
record's 108,000 beats; a chunk's shifts take 15 MB (the same arithmetic, beat by beat)."""


def _align_to_template(x: np.ndarray, lo: int, hi: int, lag: int, template: np.ndarray,
                       build: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each beat's ``[lo, hi)`` segment at its best-correlated shift within ``lag``
    samples, and the median of the aligned ``build`` segments (two passes)."""
    shifts = np.arange(-lag, lag + 1)
    aligned = np.empty((len(x), hi - lo), dtype=np.float64)
    for _ in range(2):
        m = template - template.mean()
        m_norm = np.linalg.norm(m)
        for a in range(0, len(x), ALIGN_CHUNK_BEATS):
            b = min(a + ALIGN_CHUNK_BEATS, len(x))
            segs = np.stack([x[a:b, lo + k:hi + k] for k in shifts], axis=1).astype(np.float64)
            centred = segs - segs.mean(axis=2, keepdims=True)
            norms = np.linalg.norm(centred, axis=2)
            corr = (centred @ m) / np.maximum(norms * m_norm, 1e-6)
            aligned[a:b] = segs[np.arange(b - a), corr.argmax(axis=1)]
        template = np.median(aligned[build], axis=0)
    return aligned, template
