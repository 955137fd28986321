"""Atrial activity before each beat: how its P-wave region matches the recent rhythm's.

An RR interval cannot tell atrial fibrillation from sinus rhythm with frequent
premature atrial beats: both are irregular. The P wave can. In sinus rhythm
the segment before each QRS holds the same P wave beat after beat, and a
premature atrial beat's P wave departs from it; in AF there is no P wave, only
fibrillatory waves that differ from beat to beat. Two causal features describe
this for each beat, from the beat windows the model already reads:

- ``p_local_corr``: correlation of the beat's P-wave region with the median
  P-wave region of the :data:`ATRIAL_WINDOW_BEATS` beats before it (the
  *recent* rhythm, unlike the record-wide template of
  :func:`cardioliquid.signal.templates.template_features`);
- ``atrial_consistency``: the median of ``p_local_corr`` over the beat and the
  beats before it in that window. High in sinus rhythm, with or without
  ectopy; low in AF and flutter (about 0.2 to 0.4 on the MIT-BIH and SVDB
  training records against 0.6 to 0.95 in their sinus rhythm).
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

ATRIAL_FEATURE_NAMES: tuple[str, ...] = ("p_local_corr", "atrial_consistency")
"""The features of :func:`atrial_features`, in order."""

ATRIAL_P_WAVE_S: tuple[float, float] = (0.25, -0.06)
"""Region read around each R peak, as ``template_features``' ``region_s``: from 250 ms before
to -60 ms after it, so 250 to 60 ms before it (the P wave and PR segment)."""

ATRIAL_WINDOW_BEATS = 32
"""Beats before each beat whose P-wave regions make its local template."""

ATRIAL_MIN_BEATS = 4
"""Fewer usable earlier beats than this (a record's first beats): the beat joins its template."""

ATRIAL_AF_MAX = 0.5
"""Atrial consistency below which the recent beats have no consistent P wave (AF-like).

Fixed from the training records before any run used it: 0.04 to 0.28 in their
annotated AF and flutter, 0.54 to 0.93 in their sinus rhythm, frequent ectopy
included."""

_CHUNK = 4096  # beats per vectorised pass: bounds memory on 24-hour records


def atrial_features(windows: np.ndarray, pre: int, fs: float,
                    usable: np.ndarray | None = None,
                    window: int = ATRIAL_WINDOW_BEATS, from_beat: int = 0) -> np.ndarray:
    """Per-beat atrial-activity features (:data:`ATRIAL_FEATURE_NAMES`).

    Parameters
    ----------
    windows : ndarray, shape (n, 1, n_times)
        Normalised beat windows of one record (or stream segment), in time order.
    pre : int
        Samples before the R peak in each window.
    fs : float
        Rate of the windows (Hz).
    usable : ndarray of bool, shape (n,), optional
        Beats whose P-wave region may join a template (beats beside a signal
        gap are left out); default all.
    window : int
        Earlier beats in each beat's template and consistency window.
    from_beat : int
        The first beat whose features are wanted: the rows before it are left
        at 0 (a stream segment's context beats). Beat ``i`` reads the
        ``2 * window`` beats before it, so only those are computed: on a long
        context, far less work for the same values.

    Returns
    -------
    ndarray of float32, shape (n, 2)
        Causal: a beat's features depend on it and the beats before it only.
        A beat with fewer than :data:`ATRIAL_MIN_BEATS` usable beats before it
        (a record's first beats) joins them in its own template.
    """
    n, _, t = windows.shape
    out = np.zeros((n, len(ATRIAL_FEATURE_NAMES)), dtype=np.float32)
    if from_beat > 0:
        start = max(0, int(from_beat) - 2 * window)
        ok = None if usable is None else np.asarray(usable, dtype=bool)[start:]
        out[start:] = atrial_features(windows[start:], pre, fs, ok, window)
        out[:from_beat] = 0.0
        return out
    lo = max(0, pre - round(ATRIAL_P_WAVE_S[0] * fs))
    hi = min(t, pre + round(ATRIAL_P_WAVE_S[1] * fs))
    if n == 0 or hi - lo < 2:
        return out
    seg = windows[:, 0, lo:hi].astype(np.float64)
    seg -= seg.mean(axis=1, keepdims=True)
    seg /= np.maximum(np.linalg.norm(seg, axis=1, keepdims=True), 1e-6)
    ok = np.ones(n, dtype=bool) if usable is None else np.asarray(usable, dtype=bool)
    # Unusable beats never join a template: NaN rows drop out of nanmedian.
    pool = np.where(ok[:, None], seg, np.nan)
    padded = np.concatenate([np.full((window, seg.shape[1]), np.nan), pool])
    # Usable beats among the `window` before each beat.
    cum = np.concatenate([[0], np.cumsum(ok)])
    idx = np.arange(n)
    n_before = cum[idx] - cum[np.maximum(0, idx - window)]
    corr = np.empty(n)
    for a in range(0, n, _CHUNK):
        b = min(n, a + _CHUNK)
        # Rows a..b-1 of padded[i : i + window] are the `window` beats before beat i.
        earlier = sliding_window_view(padded[a:b + window - 1], window, axis=0)
        # Most beats have `window` usable beats before them: a plain median, far faster than
        # nanmedian, gives the same values there.
        full = n_before[a:b] == window
        template = np.empty((b - a, seg.shape[1]))
        template[full] = np.median(earlier[full], axis=-1)
        with warnings.catch_warnings():  # all-NaN rows: too few beats, replaced below
            warnings.simplefilter("ignore", RuntimeWarning)
            template[~full] = np.nanmedian(earlier[~full], axis=-1)
        for r in np.flatnonzero(n_before[a:b] < ATRIAL_MIN_BEATS):
            # Too few usable beats before (a record's first beats): the beat joins them.
            i = a + r
            own = np.concatenate([pool[max(0, i - window):i], seg[i:i + 1]])
            template[r] = np.nanmedian(own, axis=0)
        template = np.nan_to_num(template)
        template -= template.mean(axis=1, keepdims=True)
        norm = np.maximum(np.linalg.norm(template, axis=1), 1e-6)
        corr[a:b] = np.sum(seg[a:b] * template, axis=1) / norm
    out[:, 0] = corr
    # The consistency window: the beat and the window - 1 beats before it (unusable ones out).
    scored = sliding_window_view(
        np.concatenate([np.full(window - 1, np.nan), np.where(ok, corr, np.nan)]), window)
    full = np.concatenate([np.zeros(window - 1, bool), ok]).cumsum()
    full = (full[window - 1:] - np.concatenate([[0], full[:-window]])) == window
    consistency = np.empty(n)
    consistency[full] = np.median(scored[full], axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        consistency[~full] = np.nanmedian(scored[~full], axis=-1)
    out[:, 1] = np.nan_to_num(consistency, nan=0.0)
    return out

