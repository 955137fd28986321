"""From a :class:`Recording` to model inputs: heartbeat windows and EEG sliding windows.

The steps are fixed by the preprocessing spec saved in every checkpoint
(:class:`~cardioliquid.signal.config.BeatPreprocessing`,
:class:`~cardioliquid.signal.config.WindowPreprocessing`), so training, batch
scoring and the app build identical inputs.

Beats: lead by name -> resample to ``prep.fs`` -> zero-phase band-pass ->
record-robust normalisation -> a window ``[R - pre_s, R + post_s)`` around
each R peak (zero padded at the record edges, so every beat gets a window),
plus RR-interval features in seconds or as ratios (they transfer across
databases and rates; RR timing drives inter-patient SVEB detection).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np

from cardioliquid._check import check_option
from cardioliquid.errors import RecordingError
from cardioliquid.io.recording import Recording
from cardioliquid.signal.atrial import ATRIAL_FEATURE_NAMES, atrial_features
from cardioliquid.signal.config import BeatPreprocessing, WindowPreprocessing
from cardioliquid.signal.filters import bandpass, check_band, notch
from cardioliquid.signal.leads import listed_leads, select_lead
from cardioliquid.signal.montage import to_bipolar
from cardioliquid.signal.normalize import normalize_record, normalize_windows
from cardioliquid.signal.quality import unusable_samples
from cardioliquid.signal.resample import resample_signal, rescale_samples
from cardioliquid.signal.rhythm import causal_rhythm_statistics
from cardioliquid.signal.rpeaks import detect_r_peaks

RR_FEATURE_NAMES: tuple[str, ...] = (
    "pre_rr_s",  # interval from the previous beat
    "post_rr_s",  # interval to the next beat
    "local_rr_s",  # mean of the previous ``local_rr_beats`` intervals
    "record_rr_s",  # mean RR interval of the whole record
    "pre_over_local",
    "post_over_pre",
    "pre_over_record",
)
"""The RR features of the ``"full"`` set, in order."""

RELATIVE_RR_FEATURE_NAMES: tuple[str, ...] = (
    "pre_over_local",
    "post_over_local",
    "post_over_pre",
    "pre_over_record",
    "local_over_record",
)
"""The RR features of the ``"relative"`` set: ratios only, free of the heart rate's scale."""

RHYTHM_RR_FEATURE_NAMES: tuple[str, ...] = (
    *RELATIVE_RR_FEATURE_NAMES,
    "local_rr_cv",  # coefficient of variation of the previous intervals (causal)
)
"""The ``"rhythm"`` set: the ratios plus how irregular the preceding rhythm is.

A short interval means a premature (SVEB) beat in a regular rhythm but not in
atrial fibrillation, whose irregular beats are normal (N) in the AAMI classes.
"""

ROBUST_RR_FEATURE_NAMES: tuple[str, ...] = (
    "pre_over_local_median",
    "post_over_local_median",
    "post_over_pre",
    "pre_over_record_median",
    "local_median_over_record_median",
    "local_rr_mad",  # median absolute deviation of the previous intervals over their median
)
"""The ``"robust"`` set: the ratios of ``"rhythm"`` against medians instead of means.

Pauses and ectopic beats drag a mean RR but not a median: against a mean
pulled up by pauses, ordinary sinus beats look premature. The irregularity
is a median absolute deviation, which isolated pauses and ectopic beats
hardly move while atrial fibrillation does.
"""

ROBUST_ABSOLUTE_RR_FEATURE_NAMES: tuple[str, ...] = (
    *ROBUST_RR_FEATURE_NAMES,
    "pre_rr_s",
    "post_rr_s",
    "local_rr_median_s",  # median of the previous ``local_rr_beats`` intervals
)
"""The ``"robust_absolute"`` set: the ``"robust"`` ratios plus the intervals in seconds.

Ratios to the patient's own rhythm assume that rhythm is sinus; when ectopic
beats dominate a record they set the medians and look ordinary. Absolute
intervals keep the heart rate itself in view.
"""

IRREGULARITY_FEATURE_NAMES: tuple[str, ...] = (
    "rr_nrmssd",  # RMS of successive differences over the mean interval
    "rr_turning_points",  # turning-point ratio (2/3 for independent intervals)
    "rr_entropy",  # histogram entropy of the intervals over log 16
)
"""Irregularity of the intervals behind a beat (causal), appended by the ``*_irregularity``
sets: the statistics of the AF test (:func:`cardioliquid.signal.rhythm.causal_rhythm_statistics`)
as inputs the model weighs itself, instead of a fixed gate that drops S calls."""

SLOW_RR_QUANTILE = 0.9
"""Quantile of a record's intervals taken as its slow (sinus) reference RR."""

RECORD_REFERENCE_FEATURE_NAMES: dict[str, tuple[str, ...]] = {
    # de Chazal 2004's references: pauses pull a mean up, and so do the slower sinus
    # beats of a record where fast ectopic runs are the majority.
    "mean": ("pre_over_record_mean", "local_mean_over_record_mean"),
    # The record's slow end (its 90th-percentile interval): the sinus rate, when
    # premature beats dominate the record and so set its median.
    "slow": ("pre_over_record_slow", "local_median_over_record_slow"),
}
"""Extra record-level references of the ``"robust_absolute_*"`` sets, by kind.

Medians are what runs of ectopic beats and pauses do not drag, and so they fail
exactly where ectopy is the majority: its beats set the median and look
ordinary against it. These references keep the record's slower rhythm in view.
"""

AHEAD_RR_FEATURE_NAMES: tuple[str, ...] = ("post2_over_local_median", "post2_over_post")
"""The interval after the post-RR (next beat to the one after it), over the local median and
over the post-RR: after an isolated premature beat the rhythm returns (about 1), in atrial
fibrillation it does not, and in a run of ectopic beats it stays short. Two beats of look-ahead."""

ONSET_RR_FEATURE_NAMES: tuple[str, ...] = ("pre_over_onset_reference", "run_beats")
"""The pre-RR over the local rhythm from before the current run began, and the run's length so
far (log-scaled beats, 0 outside a run): a run that began with an abrupt early beat (a
paroxysm) keeps its prematurity for as long as it lasts, where sinus tachycardia, which
speeds up gradually, never starts one. Causal."""

ONSET_EARLY = 0.8
"""A beat whose pre-RR is below this fraction of the local median starts a run."""

ONSET_END = 0.9
"""A run ends at the first beat whose pre-RR is back above this fraction of its reference."""

LOCAL_RR_FEATURE_NAMES: tuple[str, ...] = tuple(
    n for n in ROBUST_ABSOLUTE_RR_FEATURE_NAMES if "_over_record" not in n)
"""``"robust_absolute"`` without the ratios over the record's median, which a majority of
ectopic beats sets."""

RR_FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "full": RR_FEATURE_NAMES,
    "relative": RELATIVE_RR_FEATURE_NAMES,
    "rhythm": RHYTHM_RR_FEATURE_NAMES,
    "robust": ROBUST_RR_FEATURE_NAMES,
    "robust_absolute": ROBUST_ABSOLUTE_RR_FEATURE_NAMES,
    "robust_irregularity": (*ROBUST_RR_FEATURE_NAMES, *IRREGULARITY_FEATURE_NAMES),
    "robust_absolute_irregularity": (*ROBUST_ABSOLUTE_RR_FEATURE_NAMES,
                                     *IRREGULARITY_FEATURE_NAMES),
    "robust_absolute_mean": (*ROBUST_ABSOLUTE_RR_FEATURE_NAMES,
                             *RECORD_REFERENCE_FEATURE_NAMES["mean"]),
    "robust_absolute_slow": (*ROBUST_ABSOLUTE_RR_FEATURE_NAMES,
                             *RECORD_REFERENCE_FEATURE_NAMES["slow"]),
    "robust_absolute_references": (*ROBUST_ABSOLUTE_RR_FEATURE_NAMES,
                                   *RECORD_REFERENCE_FEATURE_NAMES["mean"],
                                   *RECORD_REFERENCE_FEATURE_NAMES["slow"]),
    "robust_absolute_ahead": (*ROBUST_ABSOLUTE_RR_FEATURE_NAMES, *AHEAD_RR_FEATURE_NAMES),
    "robust_absolute_onset": (*ROBUST_ABSOLUTE_RR_FEATURE_NAMES, *ONSET_RR_FEATURE_NAMES),
    # Without the ratios over the record's median, which a majority of ectopic beats sets.
    "robust_absolute_local": LOCAL_RR_FEATURE_NAMES,
    "robust_absolute_local_onset": (*LOCAL_RR_FEATURE_NAMES, *ONSET_RR_FEATURE_NAMES),
}

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

DEFAULT_RR_S = 1.0
"""RR interval (s) assumed when a record has fewer than two beats."""


@dataclass
class BeatWindows:
    """Heartbeat windows of one recording.

    Attributes
    ----------
    x : ndarray of float32, shape (n, 1, n_times)
    features : ndarray of float32, shape (n, n_features)
    sample : ndarray of int64, shape (n,)
        R-peak positions at the recording's original rate.
    labels : ndarray of int64, shape (n,)
        Index in ``prep.classes``, -1 when unknown (detected or unlisted beats).
    lead : str
        The lead the windows come from.
    detected : bool
        True when the R peaks were detected, not annotated.
    usable : ndarray of bool, shape (n,)
        False for a beat whose window, or an RR interval to a neighbour,
        touches a NaN or flat (lead-off) stretch of the lead: its shape and
        rhythm are unknown, so it is unclassifiable (AAMI Q) and its label is
        -1 (no training, no calibration on it). All True by default.
    """

    x: np.ndarray
    features: np.ndarray
    sample: np.ndarray
    labels: np.ndarray
    lead: str = ""
    detected: bool = False
    usable: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.usable is None:
            self.usable = np.ones(len(self.sample), dtype=bool)

    def __len__(self) -> int:
        return int(self.sample.shape[0])


@dataclass
class EEGWindows:
    """Sliding EEG windows of one recording.

    Attributes
    ----------
    x : ndarray of float32, shape (n, n_channels, n_times)
    start_s : ndarray of float64, shape (n,)
        Window start times in seconds from the recording start.
    labels : ndarray of int64, shape (n,)
        1 when at least ``prep.min_overlap`` of the window lies in a seizure,
        else 0; -1 for a window that is not ``usable``.
    channel_names : list of str
    usable : ndarray of bool, shape (n,)
        False for a window that overlaps a signal gap: a stretch where more
        than the allowed share of channels is NaN or flat (electrodes off, a
        recorder pause). All True by default.
    """

    x: np.ndarray
    start_s: np.ndarray
    labels: np.ndarray
    channel_names: list[str] = field(default_factory=list)
    usable: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.usable is None:
            self.usable = np.ones(len(self.start_s), dtype=bool)

    def __len__(self) -> int:
        return int(self.start_s.shape[0])


def n_beat_features(prep: BeatPreprocessing) -> int:
    """Number of per-beat features :func:`beat_windows` appends (RR, then template)."""
    return len(beat_feature_names(prep))


def beat_feature_names(prep: BeatPreprocessing) -> tuple[str, ...]:
    """Names of the per-beat features :func:`beat_windows` appends, in order."""
    names = rr_feature_names(prep) if prep.rr_features else ()
    if prep.template_features:
        names += TEMPLATE_FEATURE_NAMES
    if prep.template_p_wave:
        names += TEMPLATE_P_FEATURE_NAMES
    if prep.atrial_features:
        names += ATRIAL_FEATURE_NAMES
    return names


def rr_feature_names(prep: BeatPreprocessing) -> tuple[str, ...]:
    """Names of the RR features ``prep`` asks for, in order."""
    check_option("rr_feature_set", prep.rr_feature_set, sorted(RR_FEATURE_SETS))
    return RR_FEATURE_SETS[prep.rr_feature_set]


def relative_rr_features(full: np.ndarray) -> np.ndarray:
    """The ``"relative"`` set from the ``"full"`` one (see :data:`RELATIVE_RR_FEATURE_NAMES`)."""
    pre, post, local, record = (full[:, i].astype(np.float64) for i in range(4))
    eps = 1e-6
    rel = np.stack([
        pre / np.maximum(local, eps), post / np.maximum(local, eps), post / np.maximum(pre, eps),
        pre / np.maximum(record, eps), local / np.maximum(record, eps),
    ], axis=1)  # fmt: skip
    return rel.astype(np.float32)


def _pre_post_rr(sample: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intervals (s) between beats at ``sample`` (n >= 2): all of them, pre-RR and post-RR.

    The first beat borrows its post-RR as pre-RR, the last its pre-RR as post-RR.
    """
    d = np.diff(np.asarray(sample, dtype=np.float64)) / fs
    return d, np.concatenate([[d[0]], d]), np.concatenate([d, [d[-1]]])


def rr_features(sample: np.ndarray, fs: float, local_rr_beats: int = 10) -> np.ndarray:
    """RR-interval features (see :data:`RR_FEATURE_NAMES`) of beats at ``sample``.

    The first beat borrows its post-RR as pre-RR, the last its pre-RR as
    post-RR; the local average is causal (past intervals only), so streaming
    gives the same features as batch except for the record mean.

    Returns
    -------
    ndarray of float32, shape (n, 7)
    """
    s = np.asarray(sample, dtype=np.float64)
    n = s.size
    if n == 0:
        return np.zeros((0, len(RR_FEATURE_NAMES)), dtype=np.float32)
    if n == 1:
        rr = np.full(1, DEFAULT_RR_S)
        pre = post = local = record = rr
    else:
        d, pre, post = _pre_post_rr(s, fs)
        k = max(1, int(local_rr_beats))
        csum = np.concatenate([[0.0], np.cumsum(pre)])
        idx = np.arange(n)
        lo = np.maximum(0, idx - k)
        count = idx - lo
        local = np.where(count > 0, (csum[idx] - csum[lo]) / np.maximum(count, 1), pre)
        record = np.full(n, d.mean())
    eps = 1e-6
    feats = np.stack([
        pre, post, local, record,
        pre / np.maximum(local, eps), post / np.maximum(pre, eps), pre / np.maximum(record, eps),
    ], axis=1)  # fmt: skip
    return feats.astype(np.float32)


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


def _align_to_template(x: np.ndarray, lo: int, hi: int, lag: int, template: np.ndarray,
                       build: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each beat's ``[lo, hi)`` segment at its best-correlated shift within ``lag``
    samples, and the median of the aligned ``build`` segments (two passes)."""
    shifts = np.arange(-lag, lag + 1)
    segs = np.stack([x[:, lo + k:hi + k] for k in shifts], axis=1).astype(np.float64)
    centred = segs - segs.mean(axis=2, keepdims=True)
    norms = np.linalg.norm(centred, axis=2)
    rows = np.arange(len(x))
    for _ in range(2):
        m = template - template.mean()
        corr = (centred @ m) / np.maximum(norms * np.linalg.norm(m), 1e-6)
        aligned = segs[rows, corr.argmax(axis=1)]
        template = np.median(aligned[build], axis=0)
    return aligned, template


def rr_irregularity(sample: np.ndarray, fs: float, local_rr_beats: int = 10) -> np.ndarray:
    """Coefficient of variation of the ``local_rr_beats`` intervals before each beat's own.

    Causal, and the beat's own pre-RR is left out, so one premature beat does
    not make its own rhythm look irregular. Beats with fewer than two earlier
    intervals get 0.

    Returns
    -------
    ndarray of float32, shape (n,)
    """
    s = np.asarray(sample, dtype=np.float64)
    n = s.size
    if n < 3:
        return np.zeros(n, dtype=np.float32)
    d = np.diff(s) / fs  # d[j] is the interval ending at beat j + 1
    k = max(2, int(local_rr_beats))
    c1 = np.concatenate([[0.0], np.cumsum(d)])
    c2 = np.concatenate([[0.0], np.cumsum(d**2)])
    # Intervals before beat i's own pre-RR d[i-1]: d[i-1-k : i-1].
    idx = np.arange(n)
    hi = np.maximum(idx - 1, 0)
    lo = np.maximum(hi - k, 0)
    count = hi - lo
    m = np.where(count > 0, (c1[hi] - c1[lo]) / np.maximum(count, 1), 0.0)
    var = np.where(count > 0, (c2[hi] - c2[lo]) / np.maximum(count, 1) - m**2, 0.0)
    cv = np.sqrt(np.maximum(var, 0.0)) / np.maximum(m, 1e-6)
    return np.where(count >= 2, cv, 0.0).astype(np.float32)


def robust_rr_features(sample: np.ndarray, fs: float, local_rr_beats: int = 10,
                       absolute: bool = False) -> np.ndarray:
    """The ``"robust"`` RR features (see :data:`ROBUST_RR_FEATURE_NAMES`) of beats at ``sample``.

    The local reference is the median of the ``local_rr_beats`` intervals
    before each beat's own (causal); the record reference is the median of
    all the record's intervals. Edge beats borrow as in :func:`rr_features`.

    Parameters
    ----------
    absolute : bool
        Also return pre-RR, post-RR and the local median in seconds (the
        ``"robust_absolute"`` set, :data:`ROBUST_ABSOLUTE_RR_FEATURE_NAMES`).

    Returns
    -------
    ndarray of float32, shape (n, 6) or (n, 9)
    """
    s = np.asarray(sample, dtype=np.float64)
    n = s.size
    if n < 2:
        row = [1, 1, 1, 1, 1, 0] + ([DEFAULT_RR_S] * 3 if absolute else [])
        return np.tile(np.array(row, dtype=np.float32), (n, 1))
    d, pre, post = _pre_post_rr(s, fs)
    k = max(1, int(local_rr_beats))
    # Row i of the view holds pre[i - k : i]: the intervals before beat i's own,
    # NaN-padded at the start so early beats use the intervals they have.
    past = np.lib.stride_tricks.sliding_window_view(
        np.concatenate([np.full(k, np.nan), pre]), k)[:n]
    has_past = np.arange(n) > 0
    with np.errstate(all="ignore"):
        past = np.where(has_past[:, None], past, pre[:, None])
        local = np.nanmedian(past, axis=1)
        mad = np.nanmedian(np.abs(past - local[:, None]), axis=1)
    record = float(np.median(d))
    eps = 1e-6
    feats = np.stack([
        pre / np.maximum(local, eps), post / np.maximum(local, eps), post / np.maximum(pre, eps),
        pre / max(record, eps), local / max(record, eps), mad / np.maximum(local, eps),
    ], axis=1)  # fmt: skip
    if absolute:
        feats = np.concatenate([feats, np.stack([pre, post, local], axis=1)], axis=1)
    return feats.astype(np.float32)


def _robust_absolute(s: np.ndarray, fs: float, local_rr_beats: int,
                     robust: np.ndarray | None) -> np.ndarray:
    """``robust`` if given, else the ``"robust_absolute"`` features of the beats at ``s``."""
    return robust if robust is not None else robust_rr_features(s, fs, local_rr_beats,
                                                                absolute=True)


def record_reference_features(sample: np.ndarray, fs: float, local_rr_beats: int = 10,
                              kinds: tuple[str, ...] = ("mean",),
                              robust: np.ndarray | None = None) -> np.ndarray:
    """Pre-RR and the local rhythm over record-level references (see
    :data:`RECORD_REFERENCE_FEATURE_NAMES`), two columns per kind in ``kinds``.

    ``"mean"``: the pre-RR over the record's mean interval, and the causal mean
    of the ``local_rr_beats`` intervals before each beat's own over it.
    ``"slow"``: the pre-RR over the record's :data:`SLOW_RR_QUANTILE` interval,
    and the causal local median over it. A stream computes the record
    references over its segment and context, as it does the median.
    ``robust``: the beats' ``"robust_absolute"`` features, when already computed.

    Returns
    -------
    ndarray of float32, shape (n, 2 * len(kinds))
    """
    for kind in kinds:
        check_option("record reference", kind, sorted(RECORD_REFERENCE_FEATURE_NAMES))
    s = np.asarray(sample, dtype=np.float64)
    n = s.size
    if n < 2:
        return np.ones((n, 2 * len(kinds)), dtype=np.float32)
    full = rr_features(s, fs, local_rr_beats)  # pre, post, causal local mean, record mean
    robust = _robust_absolute(s, fs, local_rr_beats, robust)
    pre, local_mean, local_median = full[:, 0], full[:, 2], robust[:, 8]
    d = np.diff(s) / fs
    eps = 1e-6
    cols = []
    for kind in kinds:
        if kind == "mean":
            ref = max(float(d.mean()), eps)
            cols += [pre / ref, local_mean / ref]
        else:
            ref = max(float(np.quantile(d, SLOW_RR_QUANTILE)), eps)
            cols += [pre / ref, local_median / ref]
    return np.stack(cols, axis=1).astype(np.float32)


def ahead_rr_features(sample: np.ndarray, fs: float, local_rr_beats: int = 10,
                      robust: np.ndarray | None = None) -> np.ndarray:
    """The second interval after each beat over its causal local median and over its post-RR
    (see :data:`AHEAD_RR_FEATURE_NAMES`); the last beats borrow the last interval.
    ``robust``: as in :func:`record_reference_features`.

    Returns
    -------
    ndarray of float32, shape (n, 2)
    """
    s = np.asarray(sample, dtype=np.float64)
    n = s.size
    if n < 2:
        return np.ones((n, 2), dtype=np.float32)
    robust = _robust_absolute(s, fs, local_rr_beats, robust)
    post, local = robust[:, 7].astype(np.float64), robust[:, 8].astype(np.float64)
    d = np.diff(s) / fs
    post2 = np.concatenate([d[1:], np.full(min(n, 2), d[-1])])[:n]
    eps = 1e-6
    return np.stack([post2 / np.maximum(local, eps), post2 / np.maximum(post, eps)],
                    axis=1).astype(np.float32)


def onset_rr_features(sample: np.ndarray, fs: float, local_rr_beats: int = 10,
                      robust: np.ndarray | None = None) -> np.ndarray:
    """Each beat's pre-RR over the rhythm from before its run began, and the run's length (see
    :data:`ONSET_RR_FEATURE_NAMES`).

    A run starts at a beat whose pre-RR is below :data:`ONSET_EARLY` times the
    causal local median; its reference is that median, the rhythm before it.
    It lasts until a beat's pre-RR is back above :data:`ONSET_END` times the
    reference, so an isolated premature beat (followed by its pause) is a run
    of one beat, and a long tachycardia stays a run after the local median has
    caught up with it.
    Outside a run the reference is the local median itself. Causal: a stream
    gives the same values as a whole record once its context holds the run's onset.
    ``robust``: as in :func:`record_reference_features`.

    Returns
    -------
    ndarray of float32, shape (n, 2)
    """
    s = np.asarray(sample, dtype=np.float64)
    n = s.size
    out = np.zeros((n, 2), dtype=np.float32)
    if n < 2:
        out[:, 0] = 1.0
        return out
    robust = _robust_absolute(s, fs, local_rr_beats, robust)
    pre, local = robust[:, 6].astype(np.float64), robust[:, 8].astype(np.float64)
    ref, count = 0.0, 0
    for i in range(n):  # a state machine over the beats: O(n), once per record
        if count and pre[i] >= ONSET_END * ref:
            count = 0
        if not count and pre[i] < ONSET_EARLY * local[i]:
            ref, count = local[i], 1
        elif count:
            count += 1
        reference = ref if count else local[i]
        out[i, 0] = pre[i] / max(reference, 1e-6)
        out[i, 1] = np.log1p(count) / np.log(100.0)
    return out


def _irregularity(sample: np.ndarray, fs: float, local_rr_beats: int,
                  robust: np.ndarray) -> np.ndarray:
    return causal_rhythm_statistics(sample, fs)


_EXTRA_RR_FEATURES = (
    (IRREGULARITY_FEATURE_NAMES, _irregularity),
    (AHEAD_RR_FEATURE_NAMES, ahead_rr_features),
    (ONSET_RR_FEATURE_NAMES, onset_rr_features),
    *((extra, partial(record_reference_features, kinds=(kind,)))
      for kind, extra in RECORD_REFERENCE_FEATURE_NAMES.items()),
)
"""Feature groups computed beside the ``"robust_absolute"`` set, each by a function of
``(sample, fs, local_rr_beats, robust=...)`` that reuses that set's features."""

_ROBUST_FAMILY = frozenset(ROBUST_ABSOLUTE_RR_FEATURE_NAMES).union(
    *(names for names, _ in _EXTRA_RR_FEATURES))
"""Every feature name a set of the ``"robust"`` family can hold."""


def _robust_family_matrix(samples: np.ndarray, fs: float, k: int,
                          names: tuple[str, ...]) -> np.ndarray:
    """The columns ``names`` of the ``"robust"`` family: the ``"robust_absolute"`` features,
    computed once, and the groups of :data:`_EXTRA_RR_FEATURES` the set names."""
    robust = robust_rr_features(samples, fs, k, absolute=True)
    cols = dict(zip(ROBUST_ABSOLUTE_RR_FEATURE_NAMES, robust.T, strict=True))
    for group, compute in _EXTRA_RR_FEATURES:
        if set(group) <= set(names):
            cols.update(zip(group, compute(samples, fs, k, robust=robust).T, strict=True))
    return np.stack([cols[n] for n in names], axis=1).astype(np.float32, copy=False)


def _rr_feature_matrix(samples: np.ndarray, fs: float, prep: BeatPreprocessing) -> np.ndarray:
    """The RR features ``prep`` asks for, ``(n, len(rr_feature_names(prep)))`` (or none)."""
    if not prep.rr_features:
        return np.zeros((samples.size, 0), dtype=np.float32)
    names = rr_feature_names(prep)
    k = prep.local_rr_beats
    if set(names) <= _ROBUST_FAMILY:
        return _robust_family_matrix(samples, fs, k, names)
    full = rr_features(samples, fs, k)
    if names is RR_FEATURE_NAMES:
        return full
    rel = relative_rr_features(full)
    if names is RELATIVE_RR_FEATURE_NAMES:
        return rel
    return np.concatenate([rel, rr_irregularity(samples, fs, k)[:, None]], axis=1)


def _beat_labels(aami: np.ndarray, classes: list[str]) -> np.ndarray:
    lookup = {c: i for i, c in enumerate(classes)}
    return np.array([lookup.get(str(a), -1) for a in aami], dtype=np.int64)


def prepare_lead(rec: Recording, prep: BeatPreprocessing, check_quality: bool = True,
                 max_flat_s: float = 2.0, require_signal: bool = True,
                 ) -> tuple[str, np.ndarray, np.ndarray]:
    """The preferred lead of ``rec`` resampled, band-passed and normalised as ``prep`` says.

    NaN samples (a WFDB signal dropout) are bridged by linear interpolation
    before filtering, so a gap cannot spread through the filter; they and
    flat stretches of at least ``max_flat_s`` (lead off) are returned as
    ``bad`` for the caller to leave out.

    Parameters
    ----------
    rec : Recording
    prep : BeatPreprocessing
    check_quality : bool
        Count flat stretches as bad too (NaN samples always are).
    max_flat_s : float
        Shortest flat stretch counted as bad.
    require_signal : bool
        Raise when the lead is bad throughout; False returns zeros with
        ``bad`` all True (a stream's segment inside a long gap).

    Returns
    -------
    lead : str
    x : ndarray of float32, shape (n_samples at ``prep.fs``,)
    bad : ndarray of bool, shape (rec.n_samples,)
        Unusable samples of the lead, at the recording's rate.

    Raises
    ------
    RecordingError
        No usable lead, a rate too low for the band-pass, or (with
        ``require_signal``) no usable sample in the lead.
    """
    where = rec.source or rec.record_id
    lead = select_lead(rec, prep.lead_preference)
    check_band(rec.fs, prep.bandpass, where)
    x = np.asarray(rec.signal[rec.channel_names.index(lead)], dtype=np.float32)
    bad = unusable_samples(x, rec.fs, max_flat_s) if check_quality else ~np.isfinite(x)
    if bad.all():
        if require_signal:
            raise RecordingError(
                where, f"no usable signal in lead {lead}: expected some finite, varying "
                f"samples, got NaN or flat (lead off) stretches of {max_flat_s:g} s or more "
                "throughout")
        return lead, np.zeros(round(rec.n_samples * prep.fs / rec.fs), np.float32), bad
    x = resample_signal(bridge_nan(x), rec.fs, prep.fs)
    x = bandpass(x, prep.fs, tuple(prep.bandpass), prep.filter_order)
    return lead, normalize_record(x, prep.normalization), bad


def bridge_nan(x: np.ndarray) -> np.ndarray:
    """``x`` with NaN/inf samples replaced by linear interpolation between finite ones."""
    nan = ~np.isfinite(x)
    if not nan.any() or nan.all():
        return x
    idx = np.arange(x.size)
    x = x.copy()
    x[nan] = np.interp(idx[nan], idx[~nan], x[~nan])
    return x


def usable_beats(samples: np.ndarray, bad: np.ndarray, fs: float,
                 prep: BeatPreprocessing) -> np.ndarray:
    """Beats whose window and RR intervals to both neighbours avoid ``bad`` samples.

    Parameters
    ----------
    samples : ndarray of int, shape (n,)
        Sorted R-peak positions at ``fs``.
    bad : ndarray of bool, shape (n_samples,)
        Unusable samples at ``fs`` (:func:`prepare_lead`).
    fs : float
    prep : BeatPreprocessing
        Gives the window (``pre_s``, ``post_s``).

    Returns
    -------
    ndarray of bool, shape (n,)
    """
    samples = np.asarray(samples, dtype=np.int64)
    if not bad.any() or samples.size == 0:
        return np.ones(samples.shape, dtype=bool)
    # Bad samples in [a, b) is cum[b] - cum[a], with a and b clipped to the record.
    cum = np.concatenate([[0], np.cumsum(bad, dtype=np.int64)])

    def touches(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a, b = np.clip(a, 0, bad.size), np.clip(b, 0, bad.size)
        return cum[np.maximum(a, b)] - cum[a] > 0

    ok = ~touches(samples - round(prep.pre_s * fs), samples + round(prep.post_s * fs) + 1)
    rr_bad = touches(samples[:-1], samples[1:] + 1)  # interval i joins beats i and i + 1
    ok[1:] &= ~rr_bad
    ok[:-1] &= ~rr_bad
    return ok


def beat_windows(
    rec: Recording,
    prep: BeatPreprocessing,
    beat_samples: np.ndarray | None = None,
    detector: str = "xqrs",
    check_quality: bool = True,
    max_flat_s: float = 2.0,
    require_signal: bool = True,
) -> BeatWindows:
    """Cut one window per heartbeat of an ECG recording, with RR features.

    Parameters
    ----------
    rec : Recording
        ECG recording (any rate at least twice the band-pass upper corner).
    prep : BeatPreprocessing
        The preprocessing spec (from the checkpoint).
    beat_samples : ndarray of int, optional
        R-peak positions at ``rec.fs``; default ``rec.beats`` when annotated,
        else R peaks detected with ``detector`` (wfdb XQRS/gqrs at ``prep.fs``).
    detector : {"xqrs", "gqrs"}
        The kept detector for unannotated recordings.
    check_quality : bool
        Treat flat (lead-off) stretches of the chosen lead like NaN gaps.
    max_flat_s : float
        Shortest flat stretch (s) treated as a gap when ``check_quality``.
    require_signal : bool
        Raise when the lead holds no usable sample at all (False: every beat
        is returned unusable, as a stream's segment inside a long gap).

    Returns
    -------
    BeatWindows
        Beats touching a gap (NaN or flat stretch) are marked not ``usable``;
        R peaks detected inside a gap are dropped.

    Raises
    ------
    RecordingError
        No usable lead, a rate too low for the band-pass, or a lead without
        any usable sample.
    """
    lead, x, bad = prepare_lead(rec, prep, check_quality, max_flat_s, require_signal)
    detected = False
    if beat_samples is not None:
        samples = np.asarray(beat_samples, dtype=np.int64)
        labels = np.full(samples.shape, -1, dtype=np.int64)
    elif rec.beats is not None:
        samples = rec.beats.sample
        labels = _beat_labels(rec.beats.aami, list(prep.classes))
    elif bad.all():  # nothing to detect in
        samples = np.zeros(0, dtype=np.int64)
        labels = np.zeros(0, dtype=np.int64)
        detected = True
    else:
        raw = bridge_nan(np.asarray(rec.signal[rec.channel_names.index(lead)]))
        peaks = detect_r_peaks(resample_signal(raw, rec.fs, prep.fs), prep.fs, method=detector)
        samples = np.unique(rescale_samples(peaks, prep.fs, rec.fs))
        samples = samples[~bad[np.clip(samples, 0, bad.size - 1)]]
        labels = np.full(samples.shape, -1, dtype=np.int64)
        detected = True
    order = np.argsort(samples, kind="stable")
    samples, labels = samples[order], labels[order]
    usable = usable_beats(samples, bad, rec.fs, prep)
    labels = np.where(usable, labels, -1)

    pre = round(prep.pre_s * prep.fs)
    centre = rescale_samples(samples, rec.fs, prep.fs)
    windows = _cut(x, centre, prep)
    feats = _rr_feature_matrix(samples, rec.fs, prep)
    lag = round(prep.template_align_s * prep.fs)
    if prep.template_features:
        qrs = template_features(windows, pre, prep.fs, max_lag=lag, from_beats=usable)
        feats = np.concatenate([feats, qrs], axis=1)
    if prep.template_p_wave:
        p_wave = template_features(windows, pre, prep.fs, TEMPLATE_P_WAVE_S, max_lag=lag,
                                   from_beats=usable)
        feats = np.concatenate([feats, p_wave], axis=1)
    if prep.atrial_features:
        feats = np.concatenate([feats, atrial_features(windows, pre, prep.fs, usable)], axis=1)
    if prep.stack_leads > 1:
        windows = np.concatenate(
            [windows, _further_lead_windows(rec, prep, lead, samples, centre, windows,
                                            check_quality, max_flat_s)], axis=1)
    if prep.template_subtract and len(windows):
        windows = windows - np.median(windows, axis=0, keepdims=True)
    return BeatWindows(windows, feats, samples, labels, lead=lead, detected=detected,
                       usable=usable)


def _cut(x: np.ndarray, centre: np.ndarray, prep: BeatPreprocessing) -> np.ndarray:
    """Windows ``(n, 1, n_times)`` of the prepared lead ``x`` around R peaks ``centre``."""
    pre, post = round(prep.pre_s * prep.fs), round(prep.post_s * prep.fs)
    padded = np.pad(x, (pre, post))
    # Window [c - pre, c + post) of x is [c, c + pre + post) of the padded lead.
    idx = np.clip(centre, 0, x.size - 1)[:, None] + np.arange(pre + post)[None, :]
    return padded[idx][:, None, :].astype(np.float32)


def _further_lead_windows(rec: Recording, prep: BeatPreprocessing, first: str,
                          samples: np.ndarray, centre: np.ndarray, windows: np.ndarray,
                          check_quality: bool, max_flat_s: float) -> np.ndarray:
    """The channels after the first of stacked windows (``prep.stack_leads``).

    Each further listed lead is cut at the first lead's beats; a lead the
    recording lacks repeats the first lead's windows, and a beat beside a gap
    in a further lead gets zeros there (its usability is the first lead's).
    """
    leads = [lead for lead in listed_leads(rec.channel_names, prep.lead_preference)
             if lead != first][:prep.stack_leads - 1]
    parts = []
    for lead in leads:
        one = replace(prep, lead_preference=[lead])
        _, x, bad = prepare_lead(rec, one, check_quality, max_flat_s, require_signal=False)
        w = _cut(np.nan_to_num(x), centre, prep)
        w[~usable_beats(samples, bad, rec.fs, prep)] = 0.0
        parts.append(w)
    parts += [windows] * (prep.stack_leads - 1 - len(leads))
    return np.concatenate(parts, axis=1)


def _eeg_channels(rec: Recording, prep: WindowPreprocessing) -> Recording:
    if not prep.channels:
        return rec
    if all(c in rec.channel_names for c in prep.channels):
        return rec.pick(list(prep.channels))
    return to_bipolar(rec, prep.channels)


def _to_microvolts(rec: Recording) -> np.ndarray:
    factor = {"uv": 1.0, "µv": 1.0, "mv": 1e3, "v": 1e6}.get(rec.units.lower())
    if factor is None:
        raise RecordingError(rec.source or rec.record_id,
                             f"EEG units: expected uV, mV or V, got {rec.units!r}")
    return rec.signal * np.float32(factor)


def eeg_windows(rec: Recording, prep: WindowPreprocessing, check_quality: bool = True,
                max_flat_s: float = 2.0, max_flat_fraction: float = 0.5,
                require_signal: bool = True) -> EEGWindows:
    """Cut sliding windows from an EEG recording, labelled by seizure overlap.

    Channels: ``prep.channels`` picked by name when present, else derived as
    bipolar pairs (:func:`~cardioliquid.signal.montage.to_bipolar`); all
    channels when ``prep.channels`` is empty. Then resample to ``prep.fs``,
    band-pass, optional notch, and normalise per ``prep.normalization``.

    A channel's NaN samples (and, with ``check_quality``, its flat stretches
    of ``max_flat_s`` or more) are bad; NaN is bridged before filtering. Where
    more than ``max_flat_fraction`` of the channels are bad at once (a single
    channel: whenever it is), the signal has a gap, and the windows that
    overlap it are returned not ``usable``, labelled -1: no training and no
    detection on them. A few dead electrodes (CHB-MIT has some) are not a gap.

    Parameters
    ----------
    require_signal : bool
        Raise when no window is usable; False returns them all unusable (a
        stream's segment inside a long gap).

    Raises
    ------
    RecordingError
        Missing channels, a rate too low for the band-pass, a recording
        shorter than one window, or (with ``require_signal``) no usable window.
    """
    where = rec.source or rec.record_id
    sub = _eeg_channels(rec, prep)
    check_band(rec.fs, prep.bandpass, where)
    data = _to_microvolts(sub)
    if check_quality:
        bad = np.stack([unusable_samples(row, rec.fs, max_flat_s) for row in data])
    else:
        bad = ~np.isfinite(data)
    gap = bad.mean(axis=0) > (max_flat_fraction if len(bad) > 1 else 0.0)
    if not np.isfinite(data).all():
        # bridge_nan leaves a channel without any finite sample as it is: zero it.
        data = np.nan_to_num(np.stack([bridge_nan(row) for row in data]))
    x = resample_signal(data, rec.fs, prep.fs, axis=1)
    x = bandpass(x, prep.fs, tuple(prep.bandpass), prep.filter_order, axis=1)
    if prep.notch:
        x = notch(x, prep.fs, prep.notch, axis=1)
    n_times, hop = prep.n_times, prep.n_hop
    if x.shape[1] < n_times:
        raise RecordingError(where, f"recording too short: expected at least one "
                                    f"{prep.window_s:g} s window, got {rec.duration_s:.2f} s")
    starts = np.arange(0, x.shape[1] - n_times + 1, hop, dtype=np.int64)
    view = np.lib.stride_tricks.sliding_window_view(x, n_times, axis=1)[:, starts]
    windows = np.ascontiguousarray(view.transpose(1, 0, 2))
    windows = normalize_windows(windows, prep.normalization, prep.scale_uv)

    mask = np.zeros(x.shape[1], dtype=np.float64)
    for onset, offset in rec.seizures:
        mask[max(0, round(onset * prep.fs)): max(0, round(offset * prep.fs))] = 1.0
    csum = np.concatenate([[0.0], np.cumsum(mask)])
    overlap = (csum[starts + n_times] - csum[starts]) / n_times
    labels = (overlap >= prep.min_overlap).astype(np.int64)
    usable = np.ones(len(starts), dtype=bool)
    if gap.any():
        # Gap samples at the recording's rate -> count per window on the model's grid.
        gap_cum = np.concatenate([[0], np.cumsum(gap, dtype=np.int64)])
        lo = np.clip(np.floor(starts * rec.fs / prep.fs).astype(np.int64), 0, gap.size)
        hi = np.clip(np.ceil((starts + n_times) * rec.fs / prep.fs).astype(np.int64), 0, gap.size)
        usable = gap_cum[hi] - gap_cum[lo] == 0
        if require_signal and not usable.any():
            n_bad = int(bad.any(axis=1).sum())
            raise RecordingError(
                where, f"no usable window: expected EEG with stretches of {prep.window_s:g} s "
                f"free of NaN or flat (>= {max_flat_s:g} s) signal in most channels, got gaps "
                f"throughout ({n_bad} of {len(bad)} channel(s) affected)")
        labels = np.where(usable, labels, -1)
    return EEGWindows(windows, starts / prep.fs, labels, list(sub.channel_names), usable)
