"""From a :class:`Recording` to model inputs: heartbeat windows and EEG sliding windows.

The steps are fixed by the preprocessing spec saved in every checkpoint
(:class:`~cardioliquid.signal.config.BeatPreprocessing`,
:class:`~cardioliquid.signal.config.WindowPreprocessing`), so training, batch
scoring and the app build identical inputs.

Beats: lead by name -> resample to ``prep.fs`` -> zero-phase band-pass ->
record-robust normalisation -> a window ``[R - pre_s, R + post_s)`` around
each R peak (zero padded at the record edges, so every beat gets a window),
plus the per-beat features the spec asks for, in this order: RR intervals
(:mod:`cardioliquid.signal.rr`), morphology against the record's median beat
(:mod:`cardioliquid.signal.templates`) and atrial activity
(:mod:`cardioliquid.signal.atrial`). This module owns the cutting: which lead,
which beats are usable, the windows themselves and the order of the features.

EEG: channels by name or as bipolar pairs -> resample -> band-pass -> optional
notch -> sliding windows, normalised as the spec says and labelled by their
overlap with seizures.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

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
from cardioliquid.signal.rpeaks import detect_r_peaks
from cardioliquid.signal.rr import rr_feature_matrix, rr_feature_names
from cardioliquid.signal.templates import (
    TEMPLATE_FEATURE_NAMES,
    TEMPLATE_P_FEATURE_NAMES,
    TEMPLATE_P_WAVE_S,
    template_features,
)


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
    keep_from: int = 0,
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
    keep_from : int
        Sample (at ``rec.fs``) where the beats the caller keeps begin (a stream
        segment's first): the beats before it are context, read for the
        record-level statistics, and their causal atrial features are not
        computed (0).

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
    feats = rr_feature_matrix(samples, rec.fs, prep)
    lag = round(prep.template_align_s * prep.fs)
    if prep.template_features:
        qrs = template_features(windows, pre, prep.fs, max_lag=lag, from_beats=usable)
        feats = np.concatenate([feats, qrs], axis=1)
    if prep.template_p_wave:
        p_wave = template_features(windows, pre, prep.fs, TEMPLATE_P_WAVE_S, max_lag=lag,
                                   from_beats=usable)
        feats = np.concatenate([feats, p_wave], axis=1)
    if prep.atrial_features:
        first = int(np.searchsorted(samples, keep_from))
        feats = np.concatenate(
            [feats, atrial_features(windows, pre, prep.fs, usable, from_beat=first)], axis=1)
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


def model_channels(rec: Recording, prep: WindowPreprocessing) -> Recording:
    """``rec`` as the model reads it: its listed channels, picked or derived (bipolar).

    A model that lists no channels reads the recording's own.

    Raises
    ------
    RecordingError
        When a listed channel cannot be built from the recording's.
    """
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
    sub = model_channels(rec, prep)
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
