"""Signal quality: NaN, flat and clipped segments.

The app uses :func:`assess_quality` to flag poor signal instead of hiding it;
the windowing functions use :func:`unusable_samples` to leave out the beats
and windows that touch a gap (NaN samples, long flat stretches such as a lead
off) and score the rest; :func:`check_usable` refuses a recording outright.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from cardioliquid.errors import RecordingError
from cardioliquid.io.recording import Recording


@dataclass(frozen=True)
class BadSegment:
    """A stretch of one channel that carries no usable signal."""

    channel: str
    kind: str  # "nan", "flat" or "clipped"
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.end_s - self.start_s


@dataclass
class QualityReport:
    """Bad segments of a recording and the fraction of time each channel is bad."""

    duration_s: float
    segments: list[BadSegment] = field(default_factory=list)
    bad_fraction: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no bad segment was found."""
        return not self.segments


def _run_bounds(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop (exclusive) index arrays of the True runs of a 1-D mask."""
    # int8 throughout: a bare [0] would promote the whole mask to int64 (250 MB a 24-h lead)
    edge = np.zeros(1, dtype=np.int8)
    d = np.diff(np.concatenate([edge, np.asarray(mask).astype(np.int8), edge]))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` indices (stop exclusive) of the True runs of a 1-D mask."""
    starts, stops = _run_bounds(mask)
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def _flat_runs(x: np.ndarray, nan: np.ndarray, min_samples: float) -> list[tuple[int, int]]:
    """``[start, stop)`` sample ranges of the runs of at least ``min_samples`` equal values."""
    if x.size < 2:
        return []
    same = np.concatenate([[False], np.diff(x) == 0]) & ~nan
    # Quantised ECG repeats a sample every few steps: keep only the long runs before
    # leaving numpy. A flat run of k equal steps spans k + 1 samples, from the one
    # before the first step.
    starts, stops = _run_bounds(same)
    long = (stops - starts + 1) >= min_samples
    return list(zip((starts[long] - 1).tolist(), stops[long].tolist(), strict=True))


def find_bad_segments(
    x: np.ndarray,
    fs: float,
    channel: str = "",
    min_flat_s: float = 1.0,
    min_clip_s: float = 0.05,
) -> list[BadSegment]:
    """Bad segments of one channel.

    Parameters
    ----------
    x : ndarray, shape (n_samples,)
    fs : float
    channel : str
        Name carried into each :class:`BadSegment`.
    min_flat_s : float
        Shortest run of identical samples reported as flat.
    min_clip_s : float
        Shortest run at the channel's extreme value reported as clipped.
    """
    x = np.asarray(x)
    out: list[BadSegment] = []
    nan = ~np.isfinite(x)
    for s, e in true_runs(nan):
        out.append(BadSegment(channel, "nan", s / fs, e / fs))
    if x.size < 2:
        return out
    for s, e in _flat_runs(x, nan, min_flat_s * fs):
        out.append(BadSegment(channel, "flat", s / fs, e / fs))
    finite = x[~nan]
    if finite.size and np.ptp(finite) > 0:
        for rail in (finite.max(), finite.min()):
            at_rail = x == rail
            for s, e in true_runs(at_rail):
                if (e - s) >= max(3, min_clip_s * fs) and (e - s + 1) < min_flat_s * fs:
                    out.append(BadSegment(channel, "clipped", s / fs, e / fs))
    return sorted(out, key=lambda b: (b.start_s, b.kind))


def assess_quality(rec: Recording, channels: Sequence[str] | None = None,
                   min_flat_s: float = 1.0, min_clip_s: float = 0.05) -> QualityReport:
    """Find NaN, flat and clipped segments in ``channels`` (default all) of ``rec``."""
    names = list(channels) if channels is not None else rec.channel_names
    report = QualityReport(duration_s=rec.duration_s)
    for name in names:
        segs = find_bad_segments(rec.signal[rec.channel_names.index(name)], rec.fs, name,
                                 min_flat_s, min_clip_s)
        report.segments += segs
        bad = np.zeros(rec.n_samples, dtype=bool)
        for b in segs:
            bad[int(b.start_s * rec.fs): int(np.ceil(b.end_s * rec.fs))] = True
        report.bad_fraction[name] = float(bad.mean()) if rec.n_samples else 0.0
    report.segments.sort(key=lambda b: (b.start_s, b.channel))
    return report


def check_usable(rec: Recording, channels: Sequence[str] | None = None,
                 max_flat_s: float = 2.0, max_flat_fraction: float = 0.0) -> Recording:
    """Raise :class:`RecordingError` if ``channels`` are unusable.

    Unusable means any NaN sample, or a flat stretch longer than ``max_flat_s``
    in more than ``max_flat_fraction`` of the channels (0: in any channel, the
    rule for a single ECG lead; multichannel EEG tolerates a few dead
    electrodes, as CHB-MIT has). Returns ``rec`` unchanged otherwise.
    Clipping is reported by :func:`assess_quality` but not refused.
    """
    names = list(channels) if channels is not None else rec.channel_names
    report = assess_quality(rec, names, min_flat_s=max_flat_s)
    nan = [b for b in report.segments if b.kind == "nan"]
    flat = [b for b in report.segments if b.kind == "flat"]
    flat_channels = sorted({b.channel for b in flat})
    too_flat = len(flat_channels) > max_flat_fraction * len(names)
    bad = sorted(nan + (flat if too_flat else []), key=lambda b: (b.start_s, b.channel))
    if bad:
        first = bad[0]
        kinds = sorted({b.kind for b in bad})
        raise RecordingError(
            rec.source or rec.record_id,
            f"{' and '.join('NaN' if k == 'nan' else k for k in kinds)} segment(s): expected "
            f"a finite, varying signal, got {len(bad)} bad segment(s) in "
            f"{len({b.channel for b in bad})} of {len(names)} channel(s); the first is "
            f"{first.kind} in {first.channel} from {first.start_s:.2f} s to {first.end_s:.2f} s",
        )
    return rec


def unusable_samples(x: np.ndarray, fs: float, max_flat_s: float = 2.0) -> np.ndarray:
    """Samples of one channel no model should read: NaN/inf and long flat stretches.

    A flat stretch of at least ``max_flat_s`` is a lead off or a recorder
    gap; WFDB stores a signal dropout as invalid samples, read as NaN.
    Clipping is not included (the beats it touches are still readable).

    Parameters
    ----------
    x : ndarray, shape (n_samples,)
    fs : float
    max_flat_s : float
        Shortest flat run counted as unusable.

    Returns
    -------
    ndarray of bool, shape (n_samples,)
    """
    x = np.asarray(x)
    bad = ~np.isfinite(x)
    for s, e in _flat_runs(x, bad, max_flat_s * fs):
        bad[s:e] = True
    return bad
