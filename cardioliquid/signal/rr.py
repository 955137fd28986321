"""RR-interval features of each heartbeat: the named sets and how each is computed.

A beat's timing against its neighbours and against the patient's own rhythm
drives inter-patient SVEB detection; in seconds or as ratios (which transfer
across databases and rates), these are the per-beat features that
:func:`cardioliquid.signal.windows.beat_windows` appends first.

This module owns the RR feature sets a
:class:`~cardioliquid.signal.config.BeatPreprocessing` names by
``rr_feature_set`` (:data:`RR_FEATURE_SETS`), their names and constants, and
the functions that compute each group from R-peak positions. Whether a stretch
of beats lies in atrial fibrillation is :mod:`cardioliquid.signal.rhythm`'s;
its causal statistics enter here as the irregularity features.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from cardioliquid._check import check_option
from cardioliquid.signal.config import BeatPreprocessing
from cardioliquid.signal.rhythm import causal_rhythm_statistics

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

EPISODE_RR_FEATURE_NAMES: tuple[str, ...] = ("pre_over_episode_reference", "episode_beats")
"""As :data:`ONSET_RR_FEATURE_NAMES`, but a run ends only when the rhythm is back, not one
interval: both the beat's pre-RR and the causal local median are back above
:data:`ONSET_END` of the reference. An irregular tachycardia (atrial tachycardia with
variable conduction) has single intervals near the old rate that end an onset run, after
which its own rate becomes the reference; it stays one episode here. Causal."""

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
    "robust_absolute_local_episode": (*LOCAL_RR_FEATURE_NAMES, *EPISODE_RR_FEATURE_NAMES),
    "robust_absolute_local_onset_episode": (*LOCAL_RR_FEATURE_NAMES, *ONSET_RR_FEATURE_NAMES,
                                            *EPISODE_RR_FEATURE_NAMES),
}

DEFAULT_RR_S = 1.0
"""RR interval (s) assumed when a record has fewer than two beats."""


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
                      robust: np.ndarray | None = None, end: str = "beat") -> np.ndarray:
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
    ``robust``: as in :func:`record_reference_features`. ``end="rhythm"``: a run
    ends only where the causal local median is back above :data:`ONSET_END` times
    the reference too (:data:`EPISODE_RR_FEATURE_NAMES`).

    Returns
    -------
    ndarray of float32, shape (n, 2)
    """
    check_option("end", end, ("beat", "rhythm"))
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
        back = pre[i] >= ONSET_END * ref
        if end == "rhythm":
            back = back and local[i] >= ONSET_END * ref
        if count and back:
            count = 0
        if not count and pre[i] < ONSET_EARLY * local[i]:
            ref, count = local[i], 1
        elif count:
            count += 1
        reference = ref if count else local[i]
        out[i, 0] = pre[i] / max(reference, 1e-6)
        out[i, 1] = np.log1p(count) / np.log(100.0)
    return out


def episode_rr_features(sample: np.ndarray, fs: float, local_rr_beats: int = 10,
                        robust: np.ndarray | None = None) -> np.ndarray:
    """:func:`onset_rr_features` whose runs end when the rhythm is back
    (:data:`EPISODE_RR_FEATURE_NAMES`).

    Returns
    -------
    ndarray of float32, shape (n, 2)
    """
    return onset_rr_features(sample, fs, local_rr_beats, robust, end="rhythm")


def _irregularity(sample: np.ndarray, fs: float, local_rr_beats: int,
                  robust: np.ndarray) -> np.ndarray:
    return causal_rhythm_statistics(sample, fs)


_EXTRA_RR_FEATURES = (
    (IRREGULARITY_FEATURE_NAMES, _irregularity),
    (AHEAD_RR_FEATURE_NAMES, ahead_rr_features),
    (ONSET_RR_FEATURE_NAMES, onset_rr_features),
    (EPISODE_RR_FEATURE_NAMES, episode_rr_features),
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


def rr_feature_matrix(samples: np.ndarray, fs: float, prep: BeatPreprocessing) -> np.ndarray:
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
