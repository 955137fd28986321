"""Seizure-detection scoring: SzCORE event and sample scores, latency, window scores.

Event and sample scores are computed by the ``timescoring`` package (Dan et
al., *SzCORE: seizure community open-source research evaluation framework*,
Epilepsia 2024), with SzCORE's default event parameters:

- **any overlap**: a reference event is detected when at least one hypothesis
  sample overlaps it (``minOverlap = 0``);
- **tolerance**: the reference event is widened 30 s before its onset and
  60 s after its offset before looking for overlap;
- **merge**: events (reference and hypothesis) less than 90 s apart are merged;
- **split**: events longer than 5 minutes are split into 5-minute pieces;
- a hypothesis event that overlaps no (widened) detected reference event is
  one false alarm; false alarms per 24 h = false alarms / recorded days.

Sample-based scores compare the two masks second by second (1 Hz labels):
sensitivity = seizure seconds detected / seizure seconds, precision = detected
seizure seconds / detected seconds, F1 their harmonic mean, false alarms per
24 h = false-positive seconds per day.

Detection latency (per reference seizure, before any merge): the first
hypothesis-positive time within the tolerance window
``[onset - 30 s, offset + 60 s]`` minus the onset; negative when the
detector fires before the annotated onset, ``None`` when it never fires. It
compares annotations (a detected event starts where its first window starts),
as the literature does. Alert latency is what a monitor delivers: the time
each detected event is known to a stream (the end of the window that completes
it, :func:`cardioliquid.decision.events.detection_time`) minus the onset, for
the first alert raised within the tolerance window (as the app matches its
alerts). A seizure already under way when the recording starts has no recorded
onset: it is counted (``n_onset_unrecorded``) and not timed.

The events scored are those of the one decision rule
(:func:`cardioliquid.decision.events.seizure_events`), the events ``cardioliquid
score`` writes and the app alerts on.

Window-level sensitivity and specificity score the model's raw per-window
decisions (probability >= threshold, no smoothing) against per-window labels
(a window is "seizure" when at least ``min_overlap`` of it lies inside a
seizure, as in :func:`cardioliquid.signal.windows.eeg_windows`).

All rates are percentages (``None`` when undefined); false alarms are per 24 h;
latencies are in seconds. Recordings are pooled by summing counts and
durations (SzCORE's dataset-level scoring).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from timescoring.annotations import Annotation
from timescoring.scoring import EventScoring, SampleScoring

from cardioliquid._check import check_positive

Events = list[tuple[float, float]]

EVENT_FS = 10
"""Rate (Hz) of the event masks handed to ``timescoring`` (its own event precision)."""


@dataclass
class SzcoreParams:
    """SzCORE event-scoring parameters (``timescoring.scoring.EventScoring.Parameters``)."""

    tolerance_start_s: float = 30.0
    tolerance_end_s: float = 60.0
    min_overlap: float = 0.0
    max_event_s: float = 300.0
    merge_gap_s: float = 90.0
    sample_fs: float = 1.0

    def to_timescoring(self) -> EventScoring.Parameters:
        """The equivalent ``timescoring`` parameter object."""
        return EventScoring.Parameters(
            toleranceStart=self.tolerance_start_s,
            toleranceEnd=self.tolerance_end_s,
            minOverlap=self.min_overlap,
            maxEventDuration=self.max_event_s,
            minDurationBetweenEvents=self.merge_gap_s,
        )


# ----------------------------------------------------------------------------- windows


def window_labels(
    start_s: np.ndarray,
    window_s: float,
    seizures: Sequence[tuple[float, float]],
    min_overlap: float = 0.5,
) -> np.ndarray:
    """1 for windows at least ``min_overlap`` inside a seizure, else 0."""
    start = np.asarray(start_s, dtype=np.float64)
    inside = np.zeros(len(start))
    for on, off in seizures:
        inside += np.clip(np.minimum(start + window_s, off) - np.maximum(start, on), 0, None)
    return (inside / window_s >= min_overlap - 1e-9).astype(np.int64)


# ----------------------------------------------------------------------------- scores


def _pct(num: float, den: float) -> float | None:
    return None if den <= 0 else 100.0 * float(num) / float(den)


def _clip_events(events: Sequence[tuple[float, float]], duration_s: float) -> Events:
    out = []
    for a, b in sorted((float(a), float(b)) for a, b in events):
        a, b = max(0.0, a), min(duration_s, b)
        if b > a:
            out.append((a, b))
    return out


def detection_latencies(
    ref: Sequence[tuple[float, float]],
    hyp: Sequence[tuple[float, float]],
    params: SzcoreParams | None = None,
) -> list[float | None]:
    """Latency (s) of the first detection of each reference seizure.

    The first hypothesis time inside ``[onset - tolerance_start, offset +
    tolerance_end]`` minus the onset; ``None`` for a missed seizure.
    """
    params = params or SzcoreParams()
    out: list[float | None] = []
    for on, off in ref:
        lo, hi = on - params.tolerance_start_s, off + params.tolerance_end_s
        firsts = [max(a, lo) for a, b in hyp if b > lo and a < hi]
        out.append(min(firsts) - on if firsts else None)
    return out


def alert_latencies(
    ref: Sequence[tuple[float, float]],
    raised: Sequence[float],
    params: SzcoreParams | None = None,
) -> list[float | None]:
    """Latency (s) of the first alert raised for each reference seizure.

    The first time in ``raised`` (when each detected event is known to a stream)
    inside ``[onset - tolerance_start, offset + tolerance_end]`` minus the onset;
    ``None`` when no alert is raised there.
    """
    params = params or SzcoreParams()
    out: list[float | None] = []
    for on, off in ref:
        lo, hi = on - params.tolerance_start_s, off + params.tolerance_end_s
        inside = [t for t in raised if lo <= t <= hi]
        out.append(min(inside) - on if inside else None)
    return out


@dataclass
class SeizureCounts:
    """Counts of one recording (or of several, summed), the basis of every score."""

    duration_s: float = 0.0
    event_ref: int = 0
    event_tp: int = 0
    event_fp: int = 0
    sample_ref: int = 0
    sample_tp: int = 0
    sample_fp: int = 0
    sample_fs: float = 1.0
    window_tp: int = 0
    window_fn: int = 0
    window_fp: int = 0
    window_tn: int = 0
    latencies: list[float | None] = field(default_factory=list)
    alert_latencies: list[float | None] = field(default_factory=list)
    onset_unrecorded: int = 0

    def __add__(self, other: SeizureCounts) -> SeizureCounts:
        d = {
            k: getattr(self, k) + getattr(other, k) for k in asdict(self) if k not in ("sample_fs",)
        }
        return SeizureCounts(**d, sample_fs=self.sample_fs)


def count_recording(
    ref: Sequence[tuple[float, float]],
    hyp: Sequence[tuple[float, float]],
    duration_s: float,
    params: SzcoreParams | None = None,
    window_true: np.ndarray | None = None,
    window_pred: np.ndarray | None = None,
    raised: Sequence[float] | None = None,
) -> SeizureCounts:
    """Score one recording's hypothesis events against its reference seizures.

    Parameters
    ----------
    ref, hyp : sequence of (float, float)
        Reference seizures and detected events, (onset, offset) in seconds.
    duration_s : float
        Recording duration (s).
    params : SzcoreParams
        Defaults to SzCORE's.
    window_true, window_pred : ndarray of {0, 1}, optional
        Per-window labels and decisions, for window-level scores.
    raised : sequence of float, optional
        When each event of ``hyp`` is known to a stream (s), for alert latencies
        (:func:`alert_latencies`); without it none are given.

    Returns
    -------
    SeizureCounts
    """
    check_positive("duration_s", duration_s)
    params = params or SzcoreParams()
    ref_e, hyp_e = _clip_events(ref, duration_s), _clip_events(hyp, duration_s)
    n = round(duration_s * EVENT_FS)
    ref_a, hyp_a = Annotation(ref_e, EVENT_FS, n), Annotation(hyp_e, EVENT_FS, n)
    ev = EventScoring(ref_a, hyp_a, params.to_timescoring())
    sa = SampleScoring(ref_a, hyp_a, fs=params.sample_fs)
    counts = SeizureCounts(
        duration_s=float(duration_s),
        event_ref=int(ev.refTrue),
        event_tp=int(ev.tp),
        event_fp=int(ev.fp),
        sample_ref=int(sa.refTrue),
        sample_tp=int(sa.tp),
        sample_fp=int(sa.fp),
        sample_fs=params.sample_fs,
        # A seizure under way when the recording starts (an ictal excerpt) has no onset to
        # measure a latency from: counted, not timed.
        latencies=detection_latencies([e for e in ref_e if e[0] > 0], hyp_e, params),
        alert_latencies=([] if raised is None else
                         alert_latencies([e for e in ref_e if e[0] > 0], raised, params)),
        onset_unrecorded=sum(e[0] <= 0 for e in ref_e),
    )
    if window_true is not None and window_pred is not None:
        t = np.asarray(window_true).astype(bool)
        p = np.asarray(window_pred).astype(bool)
        if t.shape != p.shape:
            raise ValueError(f"expected matching window arrays, got {t.shape} and {p.shape}")
        counts.window_tp = int(np.sum(t & p))
        counts.window_fn = int(np.sum(t & ~p))
        counts.window_fp = int(np.sum(~t & p))
        counts.window_tn = int(np.sum(~t & ~p))
    return counts


def _block(tp: int, fp: int, n_ref: int, days: float) -> dict[str, Any]:
    se, ppv = _pct(tp, n_ref), _pct(tp, tp + fp)
    f1 = None if n_ref + fp == 0 else 100.0 * 2 * tp / (2 * tp + fp + (n_ref - tp))
    return {
        "se": se,
        "precision": ppv,
        "f1": f1,
        "fa_per_24h": None if days <= 0 else fp / days,
        "tp": tp,
        "fp": fp,
        "n_ref": n_ref,
    }


def wilson_interval(k: int, n: int, level: float = 0.95) -> list[float] | None:
    """Wilson score interval, in percent, of ``k`` successes in ``n`` (``None`` if ``n == 0``).

    Through :func:`scipy.stats.binomtest`. It treats the ``n`` trials (seizures,
    detected events) as independent, which seizures of one patient are not
    quite: read it as the least uncertainty the count carries.
    """
    if n <= 0:
        return None
    from scipy.stats import binomtest

    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method="wilson")
    return [100.0 * float(ci.low), 100.0 * float(ci.high)]


def scores(counts: SeizureCounts) -> dict[str, Any]:
    """JSON-ready scores of (summed) counts: ``event``, ``sample``, ``window``, ``latency_s``,
    ``alert_latency_s`` (None where a recording was scored without alert times).

    ``event["ci95"]`` holds 95 % Wilson intervals of the event sensitivity and
    precision (:func:`wilson_interval`); windows overlap and are not
    independent, so they get none.
    """
    days = counts.duration_s / 86400.0
    sample = _block(counts.sample_tp, counts.sample_fp, counts.sample_ref, days)
    sample["fa_per_24h"] = None if days <= 0 else counts.sample_fp / counts.sample_fs / days
    sample["unit"] = f"samples at {counts.sample_fs:g} Hz"
    w = counts
    lat = [v for v in counts.latencies if v is not None]
    event = _block(counts.event_tp, counts.event_fp, counts.event_ref, days)
    event["ci95"] = {
        "se": wilson_interval(counts.event_tp, counts.event_ref),
        "precision": wilson_interval(counts.event_tp, counts.event_tp + counts.event_fp),
        "method": "Wilson score interval, events as independent trials",
    }
    return {
        "event": event,
        "sample": sample,
        "window": {
            "se": _pct(w.window_tp, w.window_tp + w.window_fn),
            "sp": _pct(w.window_tn, w.window_tn + w.window_fp),
            "tp": w.window_tp,
            "fn": w.window_fn,
            "fp": w.window_fp,
            "tn": w.window_tn,
        },
        "latency_s": {
            **_spread(lat),
            "n_detected": len(lat),
            "n_seizures": len(counts.latencies),
            "per_seizure": counts.latencies,
            "n_onset_unrecorded": counts.onset_unrecorded,
        },
        "alert_latency_s": _alert_block(counts),
        "duration_h": counts.duration_s / 3600.0,
    }


def _spread(values: list[float]) -> dict[str, float | None]:
    """Median, mean, min and max of ``values`` (None each when there are none)."""
    stats = {"median": np.median, "mean": np.mean, "min": np.min, "max": np.max}
    return {k: float(f(values)) if values else None for k, f in stats.items()}


def _alert_block(counts: SeizureCounts) -> dict[str, Any] | None:
    """Alert latencies (when a stream knows each detection), or None where not measured."""
    if len(counts.alert_latencies) != len(counts.latencies):  # some recordings without
        return None
    lat = [v for v in counts.alert_latencies if v is not None]
    return {
        **_spread(lat),
        "n_alerted": len(lat),
        "n_seizures": len(counts.alert_latencies),
        "per_seizure": counts.alert_latencies,
        "n_onset_unrecorded": counts.onset_unrecorded,
        "definition": "time the first alert within the tolerance window is known to a stream "
                      "(end of the window completing its event) minus the expert onset",
    }


def summarize(
    per_record: dict[str, SeizureCounts],
    mode: str = "all",
    params: SzcoreParams | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Pooled scores over recordings plus one row per recording, as a JSON-ready dict.

    Returns
    -------
    dict
        ``{"mode", "units", "event", "sample", "window", "latency_s",
        "duration_h", "n_records", "params", "records": {name: scores}}``.
    """
    params = params or SzcoreParams()
    total = SeizureCounts(sample_fs=params.sample_fs)
    for c in per_record.values():
        total = total + c
    out: dict[str, Any] = {"mode": mode, "units": "percent; fa_per_24h per day; latency s"}
    out.update(scores(total))
    out["n_records"] = len(per_record)
    out["params"] = asdict(params)
    if extra:
        out.update(extra)
    out["records"] = {name: scores(c) for name, c in per_record.items()}
    return out
