"""Rhythm from RR intervals: which beats lie in atrial fibrillation.

In atrial fibrillation there is no regular rhythm for a beat to be premature
against: an early beat there is not a premature (S) beat, and the MIT-BIH
cardiologists labelled the conducted beats of AF normal (N). A beat classifier
sees ten or so intervals around a beat; a rhythm test over two minutes of them
tells AF from an isolated early beat far better.

:func:`af_beats` follows Dash et al. (2009): over 128 consecutive RR
intervals with the 8 longest and 8 shortest left out (so isolated ectopic
beats and pauses do not count), the rhythm is AF when all three hold:

- the RMS of successive differences over the mean interval exceeds 0.1
  (the rhythm varies a lot, beat to beat);
- the turning-point ratio lies between 0.54 and 0.77 (the variation is
  random; 2/3 is the value of independent intervals);
- the Shannon entropy of a 16-bin histogram of the intervals, over log 16,
  exceeds 0.7 (the intervals spread over many values).

The thresholds are the published ones, set on other recordings than those we
train on, and fixed here: nothing in this module was fit to MIT-BIH.

References
----------
Dash S, Chon KH, Lu S, Raeder EA. Automatic real time detection of atrial
fibrillation. Ann Biomed Eng 37(9):1701-1709, 2009.
"""

from __future__ import annotations

import numpy as np

AF_WINDOW_BEATS = 128
"""RR intervals per test window."""

AF_TRIM = 8
"""Longest and shortest intervals left out of each window (each side)."""

AF_NRMSSD_MIN = 0.1
AF_TPR_RANGE = (0.54, 0.77)
AF_ENTROPY_MIN = 0.7
AF_HISTOGRAM_BINS = 16
AF_NN_NRMSSD = 0.10
"""RMSSD of the intervals between consecutive normal beats over their mean, above which an
irregular rhythm is AF-specific (:func:`af_specific_beats`). On DS1's expert labels, around
beats the AF test flags, the AF records have medians 0.27 (201) and 0.35 (203); records
whose frequent ectopy passes the AF test stay at 0.04-0.07 (106, 119, 208, 223)."""
AF_MIN_NN = 32
"""Fewest normal-to-normal intervals in a window for an AF-specific reading."""
_CHUNK = 8192  # windows per vectorised pass: bounds memory on 24-hour records


def af_windows(rr: np.ndarray, window: int = AF_WINDOW_BEATS, trim: int = AF_TRIM) -> np.ndarray:
    """Whether each run of ``window`` consecutive intervals of ``rr`` looks like AF.

    Parameters
    ----------
    rr : ndarray, shape (m,)
        RR intervals in seconds, in order.
    window, trim : int
        Intervals per window; longest and shortest left out on each side.

    Returns
    -------
    ndarray of bool, shape (max(m - window + 1, 0),)
        Element ``j`` tests ``rr[j : j + window]``.
    """
    rr = np.asarray(rr, dtype=np.float64).reshape(-1)
    if window - 2 * trim < 4:
        raise ValueError(f"an AF window of {window} intervals trimmed by {trim} on each "
                         "side leaves fewer than 4")
    n_windows = rr.size - window + 1
    if n_windows <= 0:
        return np.zeros(0, dtype=bool)
    views = np.lib.stride_tricks.sliding_window_view(rr, window)
    return np.concatenate([_dash_test(views[i:i + _CHUNK], trim)
                           for i in range(0, n_windows, _CHUNK)])


def rhythm_statistics(x: np.ndarray, trim: int) -> np.ndarray:
    """Dash et al.'s three irregularity statistics of each row of ``x`` (windows of intervals).

    Parameters
    ----------
    x : ndarray, shape (rows, width)
        Windows of RR intervals (s), each in time order.
    trim : int
        Longest and shortest intervals of each row left out (each side), so
        isolated ectopic beats and pauses do not count.

    Returns
    -------
    ndarray of float64, shape (rows, 3)
        The RMS of successive differences over the mean interval, the
        turning-point ratio and the 16-bin histogram entropy over log 16.
    """
    rows, width = x.shape
    # Drop exactly ``trim`` longest and shortest, keeping the others in time order.
    rank = np.argsort(np.argsort(x, axis=1, kind="stable"), axis=1)
    kept = (rank >= trim) & (rank < width - trim)
    y = x[kept].reshape(rows, width - 2 * trim)
    d = np.diff(y, axis=1)
    nrmssd = np.sqrt(np.mean(d**2, axis=1)) / np.maximum(y.mean(axis=1), 1e-9)
    tpr = np.mean(d[:, :-1] * d[:, 1:] < 0, axis=1)
    lo, hi = y.min(axis=1, keepdims=True), y.max(axis=1, keepdims=True)
    span = np.where(hi > lo, hi - lo, 1.0)
    bins = np.minimum((AF_HISTOGRAM_BINS * (y - lo) / span).astype(np.int64),
                      AF_HISTOGRAM_BINS - 1)
    flat = bins + AF_HISTOGRAM_BINS * np.arange(rows)[:, None]
    counts = np.bincount(flat.ravel(), minlength=rows * AF_HISTOGRAM_BINS)
    p = counts.reshape(rows, AF_HISTOGRAM_BINS) / y.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.sum(np.where(p > 0, p * np.log(p), 0.0), axis=1) / np.log(AF_HISTOGRAM_BINS)
    entropy = entropy + 0.0  # one bin: -0.0 becomes 0.0
    return np.stack([nrmssd, tpr, entropy], axis=1)


def _dash_test(x: np.ndarray, trim: int) -> np.ndarray:
    """The three-part AF test on each row of ``x`` (windows of intervals)."""
    nrmssd, tpr, entropy = rhythm_statistics(x, trim).T
    return ((nrmssd > AF_NRMSSD_MIN) & (tpr > AF_TPR_RANGE[0]) & (tpr < AF_TPR_RANGE[1])
            & (entropy > AF_ENTROPY_MIN))


IRREGULARITY_WINDOW_BEATS = 32
"""Intervals behind each beat in :func:`causal_rhythm_statistics`: about 25 s at 75 bpm,
so a scored segment's context (30 min by default) holds them (stream equals batch)."""

IRREGULARITY_TRIM = 2
"""Longest and shortest of those intervals left out (each side)."""


def causal_rhythm_statistics(sample: np.ndarray, fs: float,
                             window: int = IRREGULARITY_WINDOW_BEATS,
                             trim: int = IRREGULARITY_TRIM) -> np.ndarray:
    """How irregular the rhythm behind each beat is: :func:`rhythm_statistics`, causal.

    Row ``i`` describes the ``window`` intervals that end at beat ``i`` (its
    own pre-RR included), so a stream knows it as soon as the beat arrives.
    A beat with fewer intervals behind it repeats the first interval in the
    missing places (a regular rhythm: no evidence of irregularity yet).
    These are the AF test's statistics as model inputs, not its verdict: a
    model can learn when an irregular rhythm makes an early beat ordinary.

    Parameters
    ----------
    sample : ndarray of int, shape (n,)
        Beat positions in samples, increasing.
    fs : float
        Sampling rate of ``sample`` (Hz).
    window, trim : int
        Intervals per window; longest and shortest left out on each side.

    Returns
    -------
    ndarray of float32, shape (n, 3)
        nRMSSD, turning-point ratio and histogram entropy (see
        :func:`rhythm_statistics`); a regular rhythm's (0, 0, 0) for n < 2.
    """
    if window - 2 * trim < 4:
        raise ValueError(f"a window of {window} intervals trimmed by {trim} on each side "
                         "leaves fewer than 4")
    s = np.asarray(sample, dtype=np.float64).reshape(-1)
    n = s.size
    if n < 2:
        return np.zeros((n, 3), dtype=np.float32)
    d = np.diff(s) / float(fs)
    pre = np.concatenate([[d[0]], d])  # the first beat borrows its post-RR, as the RR features do
    padded = np.concatenate([np.full(window - 1, pre[0]), pre])
    views = np.lib.stride_tricks.sliding_window_view(padded, window)
    out = np.concatenate([rhythm_statistics(views[i:i + _CHUNK], trim)
                          for i in range(0, n, _CHUNK)])
    return out.astype(np.float32)


def af_beats(sample: np.ndarray, fs: float, causal: bool = False,
             window: int = AF_WINDOW_BEATS, trim: int = AF_TRIM) -> np.ndarray:
    """Which beats lie in a stretch of atrial-fibrillation-like rhythm.

    Parameters
    ----------
    sample : ndarray of int, shape (n,)
        Beat (R-peak) positions in samples, increasing.
    fs : float
        Sampling rate of ``sample`` (Hz).
    causal : bool
        Test each beat with the ``window`` intervals that end at it (what a
        live stream knows; the first ``window`` beats are never flagged).
        False: the window centred on the beat (clamped at the ends of the
        record), for a whole recording.
    window, trim : int
        See :func:`af_windows`.

    Returns
    -------
    ndarray of bool, shape (n,)
        False everywhere when there are ``window`` intervals or fewer.
    """
    s = np.asarray(sample, dtype=np.float64).reshape(-1)
    n = s.size
    tests = af_windows(np.diff(s) / float(fs), window, trim)
    if tests.size == 0:
        return np.zeros(n, dtype=bool)
    idx = np.arange(n)
    if causal:
        # Intervals rr[i - window : i] end at beat i.
        return np.where(idx >= window, tests[np.clip(idx - window, 0, tests.size - 1)], False)
    return tests[np.clip(idx - window // 2, 0, tests.size - 1)]


class AFTracker:
    """:func:`af_beats` with ``causal=True``, fed beat by beat (a live stream).

    Keeps the last ``window`` beat positions, so pushing a recording's beats in
    any blocks gives the flags of one call on all of them.

    Parameters
    ----------
    fs : float
        Sampling rate of the positions pushed.
    window, trim : int
        See :func:`af_windows`.
    specific : bool
        Keep only AF-specific flags (:func:`af_beats` then :func:`af_specific_beats`,
        causal); :meth:`push` then needs which beats are normal.
    """

    def __init__(self, fs: float, window: int = AF_WINDOW_BEATS, trim: int = AF_TRIM,
                 specific: bool = False) -> None:
        self.fs = float(fs)
        self.window = int(window)
        self.trim = int(trim)
        self.specific = bool(specific)
        self._recent = np.zeros(0, dtype=np.int64)
        self._normal = np.zeros(0, dtype=bool)

    def push(self, sample: np.ndarray, normal: np.ndarray | None = None) -> np.ndarray:
        """Flags of the beats at ``sample`` (later than every beat pushed before).

        ``normal``: which of them are normal beats (the model's own N calls), for a
        ``specific`` tracker; beats pushed without it (the rhythm before a stream's
        start) count as not normal.
        """
        sample = np.asarray(sample, dtype=np.int64).reshape(-1)
        is_n = (np.zeros(sample.size, dtype=bool) if normal is None
                else np.asarray(normal, dtype=bool).reshape(-1))  # fmt: skip
        joined = np.concatenate([self._recent, sample])
        joined_n = np.concatenate([self._normal, is_n])
        # With ``window`` beats kept, every new beat has its full window of
        # intervals; before that, local indices are the record's own.
        flags = af_beats(joined, self.fs, causal=True, window=self.window, trim=self.trim)
        if self.specific:  # judge only the new beats; the kept ones were judged before
            flags[: joined.size - sample.size] = False
            flags = af_specific_beats(flags, joined, self.fs, joined_n, causal=True,
                                      window=self.window)  # fmt: skip
        self._recent = joined[-self.window:]
        self._normal = joined_n[-self.window:]
        return flags[joined.size - sample.size:]


def af_specific_beats(af: np.ndarray, sample: np.ndarray, fs: float, normal: np.ndarray,
                      causal: bool = False, window: int = AF_WINDOW_BEATS) -> np.ndarray:
    """The beats of ``af`` whose irregularity is AF-specific: normal beats are irregular too.

    The RR test of :func:`af_beats` also fires on frequent ectopy (bigeminy, runs of
    premature beats), where the rhythm between *normal* beats stays regular; in AF
    it does not. A flagged beat stays flagged when the window around it (the one
    :func:`af_beats` used) holds at least :data:`AF_MIN_NN` intervals from a normal
    beat to the next and their RMS successive difference over their mean is at
    least :data:`AF_NN_NRMSSD`.

    Parameters
    ----------
    af : ndarray of bool, shape (n,)
        Flags of :func:`af_beats` for these beats.
    sample : ndarray of int, shape (n,)
        Beat positions (samples at ``fs``), increasing.
    fs : float
    normal : ndarray of bool, shape (n,)
        Which beats are normal (a model's own N calls, before any gate).
    causal, window
        As :func:`af_beats`: the ``window`` intervals ending at the beat, or centred on it.

    Returns
    -------
    ndarray of bool, shape (n,)
    """
    af = np.asarray(af, dtype=bool).reshape(-1)
    s = np.asarray(sample, dtype=np.float64).reshape(-1)
    normal = np.asarray(normal, dtype=bool).reshape(-1)
    out = np.zeros(af.shape, dtype=bool)
    if s.size < 2:
        return out
    rr = np.diff(s) / float(fs)  # rr[j]: from beat j to beat j + 1
    nn = normal[1:] & normal[:-1]
    for i in np.flatnonzero(af):
        if causal:  # the intervals that end at beat i, never a later one
            lo, hi = max(0, i - window), i
        else:
            lo = int(np.clip(i - window // 2, 0, max(rr.size - window, 0)))
            hi = lo + window
        x = rr[lo:hi][nn[lo:hi]]
        if x.size >= AF_MIN_NN:
            out[i] = np.sqrt(np.mean(np.diff(x) ** 2)) / np.mean(x) >= AF_NN_NRMSSD
    return out
