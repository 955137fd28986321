"""Beat-by-beat comparison in the manner of WFDB ``bxb`` and ANSI/AAMI EC57.

What this module does, and where each rule comes from:

Matching (``bxb`` man page and source, WFDB Applications Guide)
    A test ("algorithm") beat and a reference beat *match* when their times
    differ by at most the match window, 0.15 s by default ("the match window
    specifies the maximum absolute difference in annotation times that is
    permitted for matching annotations"), and neither has a closer candidate:
    the earlier of the two current annotations is paired with the other one
    only if it is closer to it than the *next* annotation of the other file.
    A reference beat left without a partner is paired with the pseudo-label
    ``o`` (missed beat), a test beat left alone with the pseudo-label ``O``
    (extra detection).

Confusion matrix (``bxb -S`` standard report, EC57 Table 3 with SVEBs)
    Rows are reference classes ``N S V F Q`` plus ``O`` (no reference beat),
    columns are algorithm classes ``n s v f q`` plus ``o`` (no algorithm beat).
    ``bxb`` also has an ``X``/``x`` pseudo-class for beats inside the test
    annotator's *shutdown* periods; CardioLiquid models never shut down, so
    it is always empty and left out.

Statistics (``bxb.c`` ``print_results``; EC57:2012 section 4 and Annex A)
    With ``Xy`` the count of reference class ``X`` labelled ``y``:

    ========  ==========================================  =============================
    quantity  definition                                  special cases
    ========  ==========================================  =============================
    QRS Se    all matched / (matched + missed)            any class matches any class
    QRS +P    all matched / (matched + extra)
    VEB TP    Vv
    VEB FN    Vn + Vs + Vf + Vq + Vo                      a missed V beat is a false negative
    VEB FP    Nv + Sv + Ov                                **Fv and Qv are not false positives**
                                                          (fusion and unclassifiable beats
                                                          called V are not penalised)
    VEB TN    every pair outside row V and column v,      missed beats (``No``...) are
              except the ``o`` column                     not true negatives
    SVEB TP   Ss
    SVEB FN   Sn + Sv + Sf + Sq + So
    SVEB FP   Ns + Vs + Fs + Os                           **Qs is not a false positive**
    SVEB TN   every pair outside row S and column s,      (``bxb`` prints no SVEB FPR; we
              except the ``o`` column                     define it the same way as VEB's)
    ========  ==========================================  =============================

    Se = TP / (TP + FN), +P = TP / (TP + FP), FPR = FP / (TN + FP). A
    statistic whose denominator is zero is undefined (``None``; ``bxb``
    prints ``-``).

Gross and average statistics (EC57 section 4.2; WFDB ``sumstats``)
    *Gross* statistics pool the counts of all records before dividing, so
    records with many events weigh more. *Average* (record-averaged)
    statistics are the mean of the per-record statistic over the records
    where it is defined. Gross statistics are the headline, as in de Chazal
    et al. (IEEE TBME 51(7):1196-1206, 2004) and the inter-patient
    literature.

Learning period
    ``bxb`` starts comparing 5 minutes into each record by default (the
    EC57 learning period). The inter-patient literature (de Chazal 2004:
    DS2 = 49,712 beats, all of them) scores every beat, so the default here
    is ``start_s=0``; the patient-adaptive mode scores only beats after the
    calibration minutes. A matched pair counts when its *reference* beat
    lies in the scored interval; a lone beat when its own time does.

Per-class statistics
    For all five classes we also report plain one-versus-rest Se, +P and
    FPR over the *matched* beats (the 5 x 5 matrix) with no EC57 exceptions,
    and the accuracy (trace / total) of that matrix.

Class mapping
    Reference beat codes map to classes through the project's single table,
    :data:`cardioliquid.io.labels.BEAT_TO_AAMI` (de Chazal 2004 / EC57:2012:
    escape beats ``e j`` are N). Old ``bxb`` releases mapped escape beats to S.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cardioliquid.errors import RecordingError
from cardioliquid.io.labels import AAMI_CLASSES

MATCH_WINDOW_S: float = 0.15
"""EC57 / ``bxb`` match window in seconds."""

BXB_ROWS: tuple[str, ...] = ("N", "S", "V", "F", "Q", "O")
"""Rows of the ``bxb`` matrix: reference class, ``O`` = no reference beat."""

BXB_COLS: tuple[str, ...] = ("n", "s", "v", "f", "q", "o")
"""Columns of the ``bxb`` matrix: algorithm class, ``o`` = no algorithm beat."""

_IDX = {c: i for i, c in enumerate(AAMI_CLASSES)}
_O = 5  # index of the pseudo-class row/column
_N, _S, _V, _F, _Q = range(5)
_BIG = 1 << 62  # "no more annotations" sentinel time


@dataclass
class BeatMatch:
    """Result of pairing reference and test beat times.

    Attributes
    ----------
    ref_index, test_index : ndarray of int64, shape (n_pairs,)
        Indices of matched reference and test beats (pair ``k`` is
        ``ref_index[k]`` with ``test_index[k]``).
    missed : ndarray of int64
        Indices of reference beats without a test beat.
    extra : ndarray of int64
        Indices of test beats without a reference beat.
    """

    ref_index: np.ndarray
    test_index: np.ndarray
    missed: np.ndarray
    extra: np.ndarray


def match_window_samples(fs: float, window_s: float = MATCH_WINDOW_S) -> int:
    """Largest whole number of samples within ``window_s`` at ``fs`` (bxb ``strtim``)."""
    return int(np.floor(window_s * fs + 1e-9))


def match_beats(
    ref_sample: Sequence[int] | np.ndarray,
    test_sample: Sequence[int] | np.ndarray,
    fs: float,
    window_s: float = MATCH_WINDOW_S,
) -> BeatMatch:
    """Pair reference and test beats the way ``bxb`` does.

    Both files are walked in time order. Let ``T`` and ``t`` be the current
    reference and test times and ``T'``, ``t'`` the next ones. If ``t < T``,
    the pair is formed when ``T - t <= w`` and ``T - t < |T - t'|``;
    otherwise the test beat is an extra. If ``T <= t``, the pair is formed
    when ``t - T <= w`` and ``t - T < |t - T'|``; otherwise the reference
    beat is missed. (``bxb.c``, main loop, actions 1-4.)

    Parameters
    ----------
    ref_sample, test_sample : array-like of int
        Beat times in samples, sorted ascending.
    fs : float
        Sampling frequency of both (Hz).
    window_s : float
        Match window in seconds (EC57: 0.15 s; at 360 Hz, 54 samples).

    Returns
    -------
    BeatMatch
    """
    ref = np.asarray(ref_sample, dtype=np.int64)
    test = np.asarray(test_sample, dtype=np.int64)
    for name, arr in (("reference", ref), ("test", test)):
        if arr.ndim != 1:
            raise ValueError(f"{name} beat times must be 1-D, got shape {arr.shape}")
        if len(arr) > 1 and np.any(np.diff(arr) < 0):
            raise ValueError(f"{name} beat times must be sorted ascending")
    w = match_window_samples(fs, window_s)
    r_list, t_list = ref.tolist(), test.tolist()
    n_r, n_t = len(r_list), len(t_list)
    pairs_r: list[int] = []
    pairs_t: list[int] = []
    missed: list[int] = []
    extra: list[int] = []
    i = j = 0
    while i < n_r or j < n_t:
        big_t = r_list[i] if i < n_r else _BIG
        big_t2 = r_list[i + 1] if i + 1 < n_r else _BIG
        t = t_list[j] if j < n_t else _BIG
        t2 = t_list[j + 1] if j + 1 < n_t else _BIG
        if t < big_t:  # the test beat comes first
            if big_t - t <= w and big_t - t < abs(big_t - t2):
                pairs_r.append(i)
                pairs_t.append(j)
                i += 1
            else:
                extra.append(j)
            j += 1
        else:  # the reference beat comes first (or both at once)
            if t - big_t <= w and t - big_t < abs(t - big_t2):
                pairs_r.append(i)
                pairs_t.append(j)
                j += 1
            else:
                missed.append(i)
            i += 1
    as_idx = lambda x: np.asarray(x, dtype=np.int64)  # noqa: E731
    return BeatMatch(as_idx(pairs_r), as_idx(pairs_t), as_idx(missed), as_idx(extra))


def _class_index(labels: Iterable[str], what: str) -> np.ndarray:
    labels = np.asarray(list(labels), dtype=str)
    bad = sorted(set(labels.tolist()) - set(AAMI_CLASSES))
    if bad:
        raise ValueError(f"{what} labels must be AAMI classes {list(AAMI_CLASSES)}, got {bad[:5]}")
    return np.array([_IDX[c] for c in labels], dtype=np.int64)


@dataclass
class RecordComparison:
    """``bxb``-style comparison of one record.

    Attributes
    ----------
    record : str
        Record name.
    matrix : ndarray of int64, shape (6, 6)
        Rows :data:`BXB_ROWS` (reference ``N S V F Q O``), columns
        :data:`BXB_COLS` (algorithm ``n s v f q o``). ``matrix[5, 5]`` is 0.
    fs : float
        Sampling frequency.
    start_s, end_s : float
        The scored interval.
    """

    record: str
    matrix: np.ndarray
    fs: float = 0.0
    start_s: float = 0.0
    end_s: float | None = None
    extra_info: dict[str, Any] = field(default_factory=dict)


def compare_record(
    ref_sample: Sequence[int] | np.ndarray,
    ref_class: Sequence[str] | np.ndarray,
    test_sample: Sequence[int] | np.ndarray,
    test_class: Sequence[str] | np.ndarray,
    fs: float,
    record: str = "",
    start_s: float = 0.0,
    end_s: float | None = None,
    window_s: float = MATCH_WINDOW_S,
    ignore_test_in: Sequence[tuple[float, float]] = (),
) -> RecordComparison:
    """Compare the test beats of one record with its reference beats.

    Parameters
    ----------
    ref_sample, test_sample : array-like of int
        Beat times (samples at ``fs``); sorted here if needed.
    ref_class, test_class : array-like of str
        AAMI class (``N S V F Q``) of each beat.
    fs : float
        Sampling frequency (Hz).
    record : str
        Record name, kept in the result.
    start_s, end_s : float
        Only beats in ``[start_s, end_s]`` are scored (pairs by their
        reference time). ``bxb`` default is 300 s (learning period); the
        inter-patient convention is 0.
    window_s : float
        Match window (EC57: 0.15 s).
    ignore_test_in : sequence of (float, float)
        Intervals (s) in which lone test beats are not counted, as ``bxb``
        does inside reference-marked ventricular flutter/fibrillation.

    Returns
    -------
    RecordComparison
    """
    ref = np.asarray(ref_sample, dtype=np.int64)
    test = np.asarray(test_sample, dtype=np.int64)
    rc = _class_index(ref_class, "reference")
    tc = _class_index(test_class, "test")
    if len(ref) != len(rc) or len(test) != len(tc):
        raise ValueError("each beat time needs exactly one class label")
    ro, to = np.argsort(ref, kind="stable"), np.argsort(test, kind="stable")
    ref, rc, test, tc = ref[ro], rc[ro], test[to], tc[to]
    m = match_beats(ref, test, fs, window_s)

    lo = start_s * fs
    hi = np.inf if end_s is None else end_s * fs

    def scored(samples: np.ndarray) -> np.ndarray:
        return (samples >= lo) & (samples <= hi)

    matrix = np.zeros((6, 6), dtype=np.int64)
    keep = scored(ref[m.ref_index])
    np.add.at(matrix, (rc[m.ref_index][keep], tc[m.test_index][keep]), 1)
    missed = m.missed[scored(ref[m.missed])]
    np.add.at(matrix, (rc[missed], _O), 1)
    extra = m.extra[scored(test[m.extra])]
    if len(ignore_test_in):
        t_s = test[extra] / fs
        inside = np.zeros(len(extra), dtype=bool)
        for a, b in ignore_test_in:
            inside |= (t_s >= a) & (t_s <= b)
        extra = extra[~inside]
    np.add.at(matrix, (_O, tc[extra]), 1)
    return RecordComparison(record, matrix, float(fs), float(start_s), end_s)


# ----------------------------------------------------------------------------- statistics


def _pct(num: float, den: float) -> float | None:
    return None if den <= 0 else 100.0 * float(num) / float(den)


def _ectopic_counts(mat: np.ndarray, k: int) -> dict[str, int]:
    """TP/FN/FP/TN of ectopic class ``k`` (V or S) under EC57's rules."""
    m = np.asarray(mat, dtype=np.int64)
    tp = m[k, k]
    fn = m[k, :].sum() - tp  # Vn+Vs+Vf+Vq+Vo (Sn+Sv+Sf+Sq+So)
    # Fusion (Fv) and unclassifiable (Qv) beats called V are not false
    # positives; for SVEB only Qs is spared (bxb.c: VFP = Nv+Sv+Ov, SFP = Ns+Vs+Fs+Os).
    spared = (_F, _Q) if k == _V else (_Q,)
    fp_rows = [r for r in range(6) if r != k and r not in spared]
    fp = m[fp_rows, k].sum()
    # True negatives: pairs outside row k and column k, without the missed-beat column.
    tn_rows = [r for r in range(6) if r != k]
    tn_cols = [c for c in range(5) if c != k]
    tn = m[np.ix_(tn_rows, tn_cols)].sum()
    return {"tp": int(tp), "fn": int(fn), "fp": int(fp), "tn": int(tn)}


def ectopic_stats(mat: np.ndarray, cls: str) -> dict[str, Any]:
    """EC57 VEB (``cls="V"``) or SVEB (``cls="S"``) statistics of a ``bxb`` matrix.

    Parameters
    ----------
    mat : ndarray, shape (6, 6)
        A :class:`RecordComparison` matrix (or a sum of them for gross statistics).
    cls : {"V", "S"}

    Returns
    -------
    dict
        ``se``, ``ppv``, ``fpr`` in percent (``None`` when undefined) and the
        counts ``tp``, ``fn``, ``fp``, ``tn``.
    """
    if cls not in ("V", "S"):
        raise ValueError(
            f"Invalid value for the 'cls' parameter. Allowed values are 'V', 'S', "
            f"but got {cls!r} instead."
        )
    c = _ectopic_counts(mat, _IDX[cls])
    return {
        "se": _pct(c["tp"], c["tp"] + c["fn"]),
        "ppv": _pct(c["tp"], c["tp"] + c["fp"]),
        "fpr": _pct(c["fp"], c["tn"] + c["fp"]),
        **c,
    }


def qrs_stats(mat: np.ndarray) -> dict[str, Any]:
    """QRS detection sensitivity and positive predictivity (percent) of a ``bxb`` matrix."""
    m = np.asarray(mat, dtype=np.int64)
    tp = int(m[:5, :5].sum())
    fn = int(m[:5, _O].sum())
    fp = int(m[_O, :5].sum())
    return {"se": _pct(tp, tp + fn), "ppv": _pct(tp, tp + fp), "tp": tp, "fn": fn, "fp": fp}


def class_stats(confusion: np.ndarray) -> dict[str, dict[str, Any]]:
    """One-versus-rest Se, +P and FPR (percent) of each class of a 5 x 5 matrix.

    No EC57 exception applies here: every off-diagonal count is an error.
    """
    c = np.asarray(confusion, dtype=np.int64)
    total = c.sum()
    out = {}
    for k, name in enumerate(AAMI_CLASSES):
        tp, row, col = c[k, k], c[k, :].sum(), c[:, k].sum()
        fp = col - tp
        out[name] = {
            "se": _pct(tp, row),
            "ppv": _pct(tp, col),
            "fpr": _pct(fp, total - row),
            "n": int(row),
        }
    return out


def _mean_defined(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def _record_row(comp: RecordComparison) -> dict[str, Any]:
    conf = comp.matrix[:5, :5]
    veb, sveb = ectopic_stats(comp.matrix, "V"), ectopic_stats(comp.matrix, "S")
    return {
        "n_beats": int(comp.matrix[:5, :].sum()),
        "counts": {c: int(comp.matrix[i, :].sum()) for i, c in enumerate(AAMI_CLASSES)},
        "accuracy": _pct(np.trace(conf), conf.sum()),
        "veb": {k: veb[k] for k in ("se", "ppv", "fpr")},
        "sveb": {k: sveb[k] for k in ("se", "ppv", "fpr")},
        "qrs": {k: v for k, v in qrs_stats(comp.matrix).items() if k in ("se", "ppv")},
        "bxb_matrix": comp.matrix.tolist(),
        "start_s": comp.start_s,
    }


BOOTSTRAP_RESAMPLES = 2000
"""Resamples of :func:`record_bootstrap` in :func:`summarize`."""


def record_bootstrap(
    matrices: Sequence[np.ndarray], n_resamples: int = BOOTSTRAP_RESAMPLES, level: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Confidence intervals of the gross statistics, resampling whole records.

    Beats of one record are not independent (one patient's morphology and
    rhythm), so the records are the units: each resample draws as many
    records as there are, with replacement, and sums their matrices. The
    interval is the percentile interval of the resampled statistic; resamples
    where it is undefined (no beat of the class) are left out.

    Parameters
    ----------
    matrices : sequence of ndarray, shape (6, 6)
        The per-record ``bxb`` matrices (:attr:`RecordComparison.matrix`).
    n_resamples : int
    level : float
        Coverage of the interval.
    seed : int
        The result is deterministic for a given seed.

    Returns
    -------
    dict
        ``{"method", "n_resamples", "level", "veb": {"se": [lo, hi], "ppv": [lo, hi]},
        "sveb": {...}, "accuracy": [lo, hi]}`` in percent (``None`` where never defined).
    """
    # Not scipy.stats.bootstrap: it would turn the bounds to NaN whenever a resample
    # holds no beat of the class, where these intervals leave such resamples out.
    mats = np.asarray(matrices, dtype=np.int64).reshape(len(matrices), 36)
    n = len(mats)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n, size=(n_resamples, n))
    counts = np.zeros((n_resamples, n), dtype=np.int64)
    np.add.at(counts, (np.arange(n_resamples)[:, None], picks), 1)
    totals = (counts @ mats).reshape(n_resamples, 6, 6)
    q = [50 * (1 - level), 50 * (1 + level)]

    def interval(values: list[float | None]) -> list[float] | None:
        vals = [v for v in values if v is not None]
        return [float(v) for v in np.percentile(vals, q)] if vals else None

    out: dict[str, Any] = {"method": "record bootstrap, percentile interval",
                           "n_resamples": int(n_resamples), "level": float(level)}
    for key, cls in (("veb", "V"), ("sveb", "S")):
        stats = [ectopic_stats(t, cls) for t in totals]
        out[key] = {s: interval([x[s] for x in stats]) for s in ("se", "ppv")}
    out["accuracy"] = interval([_pct(np.trace(t[:5, :5]), t[:5, :5].sum()) for t in totals])
    return out


def summarize(
    comparisons: Sequence[RecordComparison], mode: str = "inter-patient"
) -> dict[str, Any]:
    """Gross and record-averaged EC57 statistics over records, as one JSON-ready dict.

    Parameters
    ----------
    comparisons : sequence of RecordComparison
    mode : str
        Label of the evaluation protocol (``"inter-patient"``,
        ``"patient-adaptive"``...), stored as ``mode``.

    Returns
    -------
    dict
        ``{"mode", "units": "percent", "classes": {N|S|V|F|Q: {se, ppv, fpr, n}},
        "veb": {se, ppv, fpr, tp, fn, fp, tn, "average": {se, ppv, fpr}},
        "sveb": {...}, "qrs": {...}, "accuracy", "confusion" (5 x 5, rows
        reference, columns algorithm), "confusion_labels", "bxb_matrix" (6 x 6),
        "bxb_rows", "bxb_cols", "n_beats", "n_records", "ci95", "records": {name: row}}``.
        Gross statistics are at the top level; record averages under ``average``;
        ``ci95`` holds 95 % record-bootstrap intervals of the gross Se, +P and
        accuracy (:func:`record_bootstrap`; two records or more).
    """
    total = np.zeros((6, 6), dtype=np.int64)
    for c in comparisons:
        total += c.matrix
    rows = {c.record: _record_row(c) for c in comparisons}
    conf = total[:5, :5]
    out: dict[str, Any] = {"mode": mode, "units": "percent"}
    out["classes"] = class_stats(conf)
    for key, cls in (("veb", "V"), ("sveb", "S")):
        gross = ectopic_stats(total, cls)
        gross["average"] = {
            s: _mean_defined(r[key][s] for r in rows.values()) for s in ("se", "ppv", "fpr")
        }
        out[key] = gross
    qrs = qrs_stats(total)
    qrs["average"] = {s: _mean_defined(r["qrs"][s] for r in rows.values()) for s in ("se", "ppv")}
    out["qrs"] = qrs
    out["accuracy"] = _pct(np.trace(conf), conf.sum())
    out["confusion"] = conf.tolist()
    out["confusion_labels"] = list(AAMI_CLASSES)
    out["bxb_matrix"] = total.tolist()
    out["bxb_rows"] = list(BXB_ROWS)
    out["bxb_cols"] = list(BXB_COLS)
    out["n_beats"] = int(total[:5, :].sum())
    out["n_records"] = len(rows)
    if len(comparisons) >= 2:
        out["ci95"] = record_bootstrap([c.matrix for c in comparisons])
    out["records"] = rows
    return out


# ----------------------------------------------------------------------------- recordings

_VF_RHYTHMS = ("(VFL", "(VF")


def vf_intervals(rhythms: Sequence[tuple[int, str]], fs: float, n_samples: int) -> list:
    """Ventricular flutter/fibrillation episodes (s) from rhythm annotations.

    ``bxb`` does not count test beats inside reference-marked VF; MIT-BIH marks
    VF/VFL episodes with the rhythm notes ``(VFL``/``(VF``, each lasting until
    the next rhythm note.
    """
    out = []
    items = sorted((int(s), str(note).rstrip("\x00")) for s, note in rhythms)
    for k, (s, note) in enumerate(items):
        if note in _VF_RHYTHMS:
            end = items[k + 1][0] if k + 1 < len(items) else n_samples
            out.append((s / fs, end / fs))
    return out


def compare_recording(
    rec: Any,
    test_sample: Sequence[int] | np.ndarray,
    test_class: Sequence[str] | np.ndarray,
    start_s: float = 0.0,
    end_s: float | None = None,
    window_s: float = MATCH_WINDOW_S,
) -> RecordComparison:
    """Compare test beats with the reference beats of a :class:`~cardioliquid.io.Recording`.

    Parameters
    ----------
    rec : Recording
        ECG recording with ``beats`` (reference annotations) at ``rec.fs``.
    test_sample, test_class : array-like
        Test beat times (samples at ``rec.fs``) and AAMI classes.
    start_s, end_s, window_s
        As in :func:`compare_record`. Lone test beats inside reference VF
        episodes (:func:`vf_intervals`) are not counted, as in ``bxb``.

    Returns
    -------
    RecordComparison
    """
    if rec.beats is None or len(rec.beats) == 0:
        raise RecordingError(
            rec.source or rec.record_id, "expected reference beat annotations, got none"
        )
    is_beat = rec.beats.aami != ""
    return compare_record(
        rec.beats.sample[is_beat],
        rec.beats.aami[is_beat],
        test_sample,
        test_class,
        fs=rec.fs,
        record=rec.record_id,
        start_s=start_s,
        end_s=end_s,
        window_s=window_s,
        ignore_test_in=vf_intervals(rec.rhythms, rec.fs, rec.n_samples),
    )
