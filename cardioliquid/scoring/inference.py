"""Run a loaded model over a whole recording: every beat, or every EEG window.

These are the shared inference functions: ``cardioliquid score``, ``cardioliquid
evaluate`` and the app all call :func:`predict_beats` / :func:`predict_windows`,
so a beat is classified the same way everywhere. The preprocessing comes from
the checkpoint (``loaded.preprocessing``) and runs through
:func:`cardioliquid.signal.windows.beat_windows` / ``eeg_windows``.

Segments
--------
By default the preprocessing sees the whole recording (as in training). With
``segment_s`` set, the recording is cut into segments of that length, each
preprocessed with ``context_s`` seconds of signal on both sides and keeping only
the beats (windows) that start inside it. This is exactly what a stream can
compute (:mod:`cardioliquid.scoring.stream`), so ``predict_beats(...,
segment_s=S)`` equals the streaming scorer with the same ``S`` over any chunking.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cardioliquid._check import check_option, check_positive
from cardioliquid.errors import CardioLiquidError, ContractError, RecordingError
from cardioliquid.signal.leads import select_lead

if TYPE_CHECKING:
    import torch

    from cardioliquid.io.recording import Recording
    from cardioliquid.models.checkpoint import LoadedModel

BEAT_SOURCES = ("auto", "reference", "detect")
DEFAULT_BATCH_SIZE = 2048
DEFAULT_ECG_CONTEXT_S = 60.0
"""Signal read before each ECG segment: filter settling, the local RR average, and an
estimate of the record-level statistics (median/MAD normalisation, mean RR) the
preprocessing computes over the whole record in batch."""
DEFAULT_ECG_LOOKAHEAD_S = 5.0
"""Signal read after each ECG segment: the next R peak (post-RR) and filter settling."""
DEFAULT_EEG_CONTEXT_S = 10.0
"""Signal read before each EEG segment: band-pass/notch settling and resampling."""
DEFAULT_EEG_LOOKAHEAD_S = 5.0
"""Signal read after each EEG segment's last window."""


# --------------------------------------------------------------------------- results
@dataclass
class BeatPredictions:
    """Per-beat predictions of one ECG recording.

    Attributes
    ----------
    sample : ndarray of int64, shape (n,)
        R-peak positions at the recording's ``fs``.
    proba : ndarray of float32, shape (n, n_classes)
        Class probabilities (softmax of the model's logits).
    classes : list of str
        Class order of ``proba`` (AAMI ``N S V F Q``).
    fs : float
        Sampling rate of ``sample``.
    beat_source : str
        Where the R peaks came from: ``"reference"`` (expert annotations) or
        ``"detect"`` (the kept R-peak detector).
    record_id : str
        The recording scored.
    af : ndarray of bool, shape (n,), optional
        Beats in atrial-fibrillation-like rhythm, for a model whose
        preprocessing has ``af_gate`` (their S probability was moved to N);
        None for other models.
    lead : str
        The ECG lead the model read (empty when not known).
    """

    sample: np.ndarray
    proba: np.ndarray
    classes: list[str]
    fs: float
    beat_source: str
    record_id: str = ""
    af: np.ndarray | None = None
    lead: str = ""

    def __post_init__(self) -> None:
        self.sample = np.asarray(self.sample, dtype=np.int64).reshape(-1)
        self.proba = np.asarray(self.proba, dtype=np.float32).reshape(
            len(self.sample), len(self.classes)
        )
        if self.af is not None:
            self.af = np.asarray(self.af, dtype=bool).reshape(len(self.sample))

    def __len__(self) -> int:
        return len(self.sample)

    @property
    def time_s(self) -> np.ndarray:
        """Beat times in seconds from the recording start."""
        return self.sample / self.fs

    @property
    def label_index(self) -> np.ndarray:
        """Index of the most probable class of each beat."""
        return np.argmax(self.proba, axis=1) if len(self) else np.zeros(0, dtype=np.int64)

    @property
    def labels(self) -> np.ndarray:
        """Predicted class letter of each beat (``"N"``, ``"V"``...)."""
        return np.asarray(self.classes, dtype="<U4")[self.label_index]

    def counts(self) -> dict[str, int]:
        """Number of beats predicted per class, in class order."""
        idx = self.label_index
        return {c: int(np.sum(idx == i)) for i, c in enumerate(self.classes)}

    def concat(self, other: BeatPredictions) -> BeatPredictions:
        """Append ``other`` (later beats of the same recording)."""
        af = None
        if self.af is not None or other.af is not None:
            af = np.concatenate([_flags(self), _flags(other)])
        return replace(
            self,
            sample=np.concatenate([self.sample, other.sample]),
            proba=np.concatenate([self.proba, other.proba]),
            af=af,
        )


def _flags(pred: BeatPredictions) -> np.ndarray:
    return np.zeros(len(pred), dtype=bool) if pred.af is None else pred.af


@dataclass
class SeizureEvent:
    """One detected seizure: onset and duration in seconds, mean probability."""

    onset: float
    duration: float
    confidence: float

    @property
    def offset(self) -> float:
        """End of the event in seconds."""
        return self.onset + self.duration


@dataclass
class WindowPredictions:
    """Per-window predictions of one EEG recording.

    Attributes
    ----------
    start_s, end_s : ndarray of float64, shape (n,)
        Window bounds in seconds from the recording start.
    proba : ndarray of float32, shape (n, n_classes)
        Class probabilities (``bckg``, ``sz``).
    classes : list of str
        Class order of ``proba``.
    record_id : str
        The recording scored.
    duration_s : float
        Length of the recording (seconds).
    channels : list of str
        The channels the model read.
    """

    start_s: np.ndarray
    end_s: np.ndarray
    proba: np.ndarray
    classes: list[str]
    record_id: str = ""
    duration_s: float = 0.0
    channels: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.start_s = np.asarray(self.start_s, dtype=np.float64).reshape(-1)
        self.end_s = np.asarray(self.end_s, dtype=np.float64).reshape(-1)
        self.proba = np.asarray(self.proba, dtype=np.float32).reshape(
            len(self.start_s), len(self.classes)
        )

    def __len__(self) -> int:
        return len(self.start_s)

    @property
    def label_index(self) -> np.ndarray:
        """Index of the most probable class of each window."""
        return np.argmax(self.proba, axis=1) if len(self) else np.zeros(0, dtype=np.int64)

    @property
    def labels(self) -> np.ndarray:
        """Predicted class name of each window."""
        return np.asarray(self.classes, dtype="<U8")[self.label_index]

    def counts(self) -> dict[str, int]:
        """Number of windows predicted per class."""
        idx = self.label_index
        return {c: int(np.sum(idx == i)) for i, c in enumerate(self.classes)}

    @property
    def seizure_proba(self) -> np.ndarray:
        """Probability of the seizure class (the last class) per window."""
        col = self.classes.index("sz") if "sz" in self.classes else self.proba.shape[1] - 1
        return self.proba[:, col] if len(self) else np.zeros(0, dtype=np.float32)

    def events(self, **kwargs: Any) -> list[SeizureEvent]:
        """Seizure events; see :func:`windows_to_events` for the options."""
        return windows_to_events(self, **kwargs)

    def concat(self, other: WindowPredictions) -> WindowPredictions:
        """Append ``other`` (later windows of the same recording)."""
        return replace(
            self,
            start_s=np.concatenate([self.start_s, other.start_s]),
            end_s=np.concatenate([self.end_s, other.end_s]),
            proba=np.concatenate([self.proba, other.proba]),
            duration_s=max(self.duration_s, other.duration_s),
        )


def windows_to_events(
    pred: WindowPredictions,
    threshold: float = 0.5,
    smooth_windows: int = 1,
    min_duration_s: float = 0.0,
) -> list[SeizureEvent]:
    """Turn per-window seizure probabilities into seizure events.

    The rule is the evaluation's
    (:func:`cardioliquid.evaluation.seizure.probabilities_to_events`): a causal
    moving average over ``smooth_windows`` windows, windows at or above
    ``threshold`` are positive, overlapping positive windows form one event,
    events shorter than ``min_duration_s`` are dropped. So the events written by
    ``cardioliquid score`` are the events ``cardioliquid evaluate`` scores.

    Returns
    -------
    events : list of SeizureEvent
        Sorted by onset; ``confidence`` is the mean smoothed probability of the
        event's positive windows.
    """
    from cardioliquid.evaluation.seizure import probabilities_to_events, smooth_probabilities

    if len(pred) == 0:
        return []
    window_s = float(pred.end_s[0] - pred.start_s[0])
    p = pred.seizure_proba
    spans = probabilities_to_events(
        pred.start_s, p, window_s, threshold, smooth_windows, min_duration_s
    )
    smoothed = smooth_probabilities(p, smooth_windows)
    positive = smoothed >= threshold
    events = []
    for onset, offset in spans:
        inside = positive & (pred.start_s >= onset - 1e-9) & (pred.end_s <= offset + 1e-9)
        conf = float(np.mean(smoothed[inside])) if inside.any() else float(threshold)
        events.append(SeizureEvent(float(onset), float(offset - onset), conf))
    return events


# --------------------------------------------------------------------------- checks
def _where(rec: Recording) -> str:
    return str(rec.source or rec.record_id)


def check_fits(rec: Recording, loaded: LoadedModel) -> None:
    """Raise unless ``loaded`` can score ``rec``.

    Raises
    ------
    ContractError
        The model is for the other modality, or would read channels of the
        other kind (an ``ECG`` channel in an EDF file for an EEG model;
        :func:`cardioliquid.scoring.checks.check_channel_kind`).
    RecordingError
        The recording is empty or its rate cannot carry the model's band. The
        message names the file.
    """
    prep = loaded.preprocessing
    want = "ecg" if prep.task == "arrhythmia" else "eeg"
    if rec.modality != want:
        raise ContractError(
            f"{_where(rec)}: model {loaded.name!r} ({prep.task}) expects an {want} recording, "
            f"got {rec.modality}"
        )
    if rec.n_samples == 0:
        raise RecordingError(_where(rec), "expected samples, got an empty recording")
    from cardioliquid.signal.filters import check_band

    if not np.isfinite(rec.fs) or rec.fs <= 0:
        raise RecordingError(_where(rec), f"expected a positive sampling rate, got {rec.fs}")
    check_band(rec.fs, tuple(prep.bandpass), _where(rec))
    from cardioliquid.scoring.checks import check_channel_kind

    check_channel_kind(rec, loaded)
    # Missing channels are found by the windowing, which can also derive a bipolar
    # montage from referential channels (RecordingError naming the file).


def _resolve_beat_source(rec: Recording, beats: str) -> tuple[str, np.ndarray | None]:
    check_option("beats", beats, BEAT_SOURCES)
    ref = None
    if rec.beats is not None and len(rec.beats):
        is_beat = rec.beats.aami != ""
        ref = np.sort(rec.beats.sample[is_beat])
    if beats == "reference" and ref is None:
        raise RecordingError(_where(rec), "expected reference beat annotations, got none")
    if beats == "detect" or (beats == "auto" and ref is None):
        return "detect", None
    return "reference", ref


# --------------------------------------------------------------------------- model
def carries_state(loaded: LoadedModel) -> bool:
    """Whether the model carries its liquid state from one window to the next.

    Declared by ``metadata["carry_state"]`` in the checkpoint, or a
    ``carry_state`` attribute on the network; off by default (windows are then
    independent, as in training on shuffled windows).
    """
    flag = loaded.metadata.get("carry_state", getattr(loaded.model, "carry_state", False))
    return bool(flag)


def _softmax(logits: torch.Tensor) -> np.ndarray:
    import torch

    return torch.softmax(logits.float(), dim=-1).cpu().numpy().astype(np.float32)


def run_model(
    loaded: LoadedModel,
    x: np.ndarray,
    features: np.ndarray | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    hx: Any = None,
    where: str = "",
) -> tuple[np.ndarray, Any]:
    """Class probabilities of windows ``x`` (n, C, T) with optional ``features``.

    A model of the beat sequence (``beat_sequence`` attribute) runs all the
    windows, consecutive beats, in one call from ``hx`` and returns the state
    after the last. When the model carries state (:func:`carries_state`) the windows are run
    one after the other through ``forward_stateful``, passing ``hx`` along, and
    the final state is returned so a caller can continue; otherwise they run in
    batches of ``batch_size`` and ``hx`` is returned unchanged.
    """
    import torch

    model = loaded.model
    n_out = len(loaded.classes)
    if len(x) == 0:
        return np.zeros((0, n_out), dtype=np.float32), hx
    device = next(model.parameters(), torch.zeros(0)).device  # inputs follow the weights
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device)
    ft = None
    if features is not None and np.size(features):
        ft = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)).to(device)
    contract = getattr(model, "contract", None)
    if contract is not None:
        try:
            contract.check(xt[:1], None if ft is None else ft[:1])
        except ContractError as e:
            raise ContractError(f"{where}: model {loaded.name!r}: {e}") from e
    out = []
    with torch.inference_mode():
        if getattr(model, "beat_sequence", False):
            # The windows are consecutive beats: one scan, the state carried through.
            logits, hx, _ = model.forward_stateful(xt, ft, hx=hx)
            out.append(_softmax(logits))
        elif carries_state(loaded):
            for i in range(len(xt)):
                f = None if ft is None else ft[i : i + 1]
                logits, hx, _ = model.forward_stateful(xt[i : i + 1], f, hx=hx)
                out.append(_softmax(logits))
        else:
            for i in range(0, len(xt), batch_size):
                f = None if ft is None else ft[i : i + batch_size]
                out.append(_softmax(model(xt[i : i + batch_size], f)))
    return np.concatenate(out).reshape(len(xt), -1), hx


# --------------------------------------------------------------------------- segments
@dataclass(frozen=True)
class Segment:
    """One piece of a segmented recording, in samples at the recording's rate.

    Predictions whose start lies in ``[keep_start, keep_stop)`` are kept; the
    preprocessing sees ``[read_start, read_stop)``.
    """

    keep_start: int
    keep_stop: int
    read_start: int
    read_stop: int


def segment_plan(
    fs: float,
    segment_s: float,
    context_s: float,
    lookahead_s: float | None = None,
    tail_s: float = 0.0,
) -> Callable[[int], Segment]:
    """Segment ``k`` of a recording at ``fs``, before clipping to its length.

    Each segment reads ``context_s`` before it and ``lookahead_s`` (default
    ``context_s``) after it, plus ``tail_s``: the signal each kept prediction
    needs after its start (an EEG window's length; 0 for beats).
    """
    check_positive("segment_s", segment_s)
    seg = round(segment_s * fs)
    before = round(context_s * fs)
    after = round((context_s if lookahead_s is None else lookahead_s) * fs)
    tail = math.ceil(tail_s * fs)

    def plan(k: int) -> Segment:
        start = k * seg
        return Segment(start, start + seg, max(0, start - before), start + seg + tail + after)

    return plan


def iter_segments(n_samples: int, plan: Callable[[int], Segment]) -> Iterator[Segment]:
    k = 0
    while True:
        s = plan(k)
        if s.keep_start >= n_samples:
            return
        yield replace(s, read_stop=min(s.read_stop, n_samples))
        k += 1


def slice_recording(rec: Recording, start: int, stop: int) -> Recording:
    """Samples ``[start, stop)`` of ``rec`` as a recording (annotations dropped)."""
    return replace(
        rec,
        signal=rec.signal[:, start:stop],
        beats=None,
        rhythms=[],
        seizures=[],
        meta={**rec.meta, "offset_samples": int(start)},
    )


# --------------------------------------------------------------------------- beats
def _beat_windows(rec: Recording, loaded: LoadedModel, beat_samples: np.ndarray | None,
                  require_signal: bool = True):
    from cardioliquid.signal.windows import beat_windows

    try:
        return beat_windows(rec, loaded.preprocessing, beat_samples=beat_samples,
                            require_signal=require_signal)
    except CardioLiquidError:
        raise
    except (KeyError, ValueError, IndexError) as e:
        raise RecordingError(_where(rec), f"cannot cut beat windows: {e}") from e


def score_beat_segment(
    rec: Recording,
    loaded: LoadedModel,
    seg: Segment | None,
    reference: np.ndarray | None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    hx: Any = None,
) -> tuple[np.ndarray, np.ndarray, Any]:
    """Beats of one segment (the whole recording when ``seg`` is None).

    ``rec`` holds the samples ``[seg.read_start, seg.read_stop)`` (the whole
    recording when ``seg`` is None); ``reference`` holds absolute R-peak
    positions (None: detect). Returns absolute samples, probabilities and the
    liquid state after the last beat.
    """
    sample, x, feats, usable = segment_beat_inputs(rec, loaded, seg, reference)
    proba, hx = run_model(loaded, x, feats, batch_size, hx, where=_where(rec))
    return sample, mark_unclassifiable(proba, usable, loaded.classes), hx


def segment_beat_inputs(
    rec: Recording, loaded: LoadedModel, seg: Segment | None, reference: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """What the model reads for the beats of one segment: the input of its decisions.

    Arguments as :func:`score_beat_segment`. Returns the beats' absolute samples,
    windows ``(n, C, T)``, features ``(n, F)`` (or None) and usable flags.
    """
    offset = 0 if seg is None else seg.read_start
    local = None
    if reference is not None:
        lo, hi = (0, rec.n_samples) if seg is None else (seg.read_start, seg.read_stop)
        ref = reference[(reference >= lo) & (reference < hi)]
        local = ref - offset
    # No annotations reach the windowing: with ``local`` None it must detect.
    # A stream's segment may lie inside a long gap; a whole recording may not.
    bw = _beat_windows(replace(rec, beats=None), loaded, local, require_signal=seg is None)
    sample = np.asarray(bw.sample, dtype=np.int64) + offset
    x, feats, usable = bw.x, bw.features, bw.usable
    if seg is not None:
        keep = (sample >= seg.keep_start) & (sample < seg.keep_stop)
        sample, x, usable = sample[keep], x[keep], usable[keep]
        feats = None if feats is None else feats[keep]
    return sample, x, feats, usable


def mark_unclassifiable(proba: np.ndarray, usable: np.ndarray, classes: list[str]) -> np.ndarray:
    """Give beats that touch a signal gap (not ``usable``) all their probability on ``Q``.

    AAMI's Q is the class of unclassifiable beats: a beat inside or beside a
    dropout or lead-off has no reliable shape or RR interval. A model
    without a Q output keeps its own call.
    """
    if "Q" not in classes:
        return proba
    return _call_where_unusable(proba, usable, list(classes).index("Q"))


def _call_where_unusable(proba: np.ndarray, usable: np.ndarray, index: int) -> np.ndarray:
    """A copy of ``proba`` with every row that is not ``usable`` one-hot on class ``index``."""
    if usable.all():
        return proba
    proba = np.array(proba, dtype=np.float32, copy=True)
    proba[~usable] = 0.0
    proba[~usable, index] = 1.0
    return proba


def sveb_to_normal_in_af(proba: np.ndarray, af: np.ndarray, classes: list[str]) -> np.ndarray:
    """Move the S probability of beats in AF rhythm (``af``) to N.

    In an irregular rhythm an early beat is not premature: the MIT-BIH
    cardiologists labelled the conducted beats of AF normal (N). A model
    without both classes keeps its calls.
    """
    classes = list(classes)
    if not np.any(af) or "S" not in classes or "N" not in classes:
        return proba
    n, s = classes.index("N"), classes.index("S")
    proba = np.array(proba, dtype=np.float32, copy=True)
    proba[af, n] += proba[af, s]
    proba[af, s] = 0.0
    return proba


def settle_calls(fs: float, sample: np.ndarray, proba: np.ndarray, loaded: LoadedModel,
                 causal: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """The model's beat probabilities after its preprocessing's ``af_gate``.

    Returns the probabilities and the per-beat AF flags (None without the gate).
    ``sample`` are beat positions at rate ``fs``; ``causal``: each beat is
    judged by the rhythm before it (a stream).
    """
    prep = loaded.preprocessing
    if not getattr(prep, "af_gate", False):
        return proba, None
    from cardioliquid.signal.rhythm import af_beats, af_specific_beats

    af = af_beats(sample, fs, causal=causal)
    if af_gate_rule(prep) == "af_specific":
        normal = own_normal_calls(proba, loaded.classes)
        af = af_specific_beats(af, sample, fs, normal, causal=causal)
    return sveb_to_normal_in_af(proba, af, loaded.classes), af


AF_GATE_RULES = ("rhythm", "af_specific")


def af_gate_rule(prep: Any) -> str:
    """The preprocessing's ``af_gate_rule`` (``"rhythm"`` for specs that predate it), checked."""
    rule = getattr(prep, "af_gate_rule", "rhythm")
    check_option("af_gate_rule", rule, AF_GATE_RULES)
    return rule


def own_normal_calls(proba: np.ndarray, classes: list[str]) -> np.ndarray:
    """Which beats the network itself calls N (before any gate)."""
    if "N" not in classes or not len(proba):
        return np.zeros(len(proba), dtype=bool)
    return np.asarray(proba).argmax(-1) == list(classes).index("N")


def predict_beats(
    rec: Recording,
    loaded: LoadedModel,
    beats: str = "auto",
    batch_size: int = DEFAULT_BATCH_SIZE,
    segment_s: float | None = None,
    context_s: float = DEFAULT_ECG_CONTEXT_S,
    lookahead_s: float = DEFAULT_ECG_LOOKAHEAD_S,
) -> BeatPredictions:
    """Classify every heartbeat of an ECG recording.

    Parameters
    ----------
    rec : Recording
        An ECG recording (any rate the model's band fits in; resampled by the
        model's preprocessing).
    loaded : LoadedModel
        An arrhythmia model (:func:`cardioliquid.models.checkpoint.load_model`).
    beats : {"auto", "reference", "detect"}
        R peaks from the expert annotations (``"reference"``), from the kept
        detector (``"detect"``), or the annotations when present (``"auto"``).
    batch_size : int
        Beats per forward pass.
    segment_s : float, optional
        Preprocess in segments of this length (what a stream computes);
        None: the whole recording at once (as in training). With segments, a
        model's AF gate judges each beat by the rhythm before it, as a stream
        must; without, by the rhythm around it.
    context_s, lookahead_s : float
        Signal read before and after each segment.

    Returns
    -------
    BeatPredictions

    Raises
    ------
    ContractError, RecordingError
        The model does not fit the recording; the message names the file.
    """
    check_fits(rec, loaded)
    source, ref = _resolve_beat_source(rec, beats)
    if segment_s is None:
        sample, proba, _ = score_beat_segment(rec, loaded, None, ref, batch_size)
    else:
        parts_s, parts_p, hx = [], [], None
        plan = segment_plan(rec.fs, segment_s, context_s, lookahead_s)
        for seg in iter_segments(rec.n_samples, plan):
            sub = slice_recording(rec, seg.read_start, seg.read_stop)
            s, p, hx = score_beat_segment(sub, loaded, seg, ref, batch_size, hx)
            parts_s.append(s)
            parts_p.append(p)
        sample = np.concatenate(parts_s) if parts_s else np.zeros(0, np.int64)
        proba = np.concatenate(parts_p) if parts_p else np.zeros((0, len(loaded.classes)))
    # A stream knows only the rhythm so far: segmented scoring judges it causally too.
    proba, af = settle_calls(rec.fs, sample, proba, loaded, causal=segment_s is not None)
    lead = select_lead(rec, loaded.preprocessing.lead_preference)
    return BeatPredictions(sample, proba, loaded.classes, rec.fs, source, rec.record_id, af, lead)


# --------------------------------------------------------------------------- windows
def _eeg_windows(rec: Recording, loaded: LoadedModel, require_signal: bool = True):
    from cardioliquid.signal.windows import eeg_windows

    try:
        return eeg_windows(rec, loaded.preprocessing, require_signal=require_signal)
    except CardioLiquidError:
        raise
    except (KeyError, ValueError, IndexError) as e:
        raise RecordingError(_where(rec), f"cannot cut EEG windows: {e}") from e


def score_window_segment(
    rec: Recording,
    loaded: LoadedModel,
    seg: Segment | None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    hx: Any = None,
) -> tuple[np.ndarray, np.ndarray, Any]:
    """Windows of one segment (the whole recording when ``seg`` is None).

    Returns absolute window starts (seconds), probabilities and the final state.
    """
    ew = _eeg_windows(rec, loaded, require_signal=seg is None)
    offset = 0 if seg is None else seg.read_start
    # Starts on the recording's sample grid, so segments and the whole agree.
    start_samples = np.round(np.asarray(ew.start_s, dtype=np.float64) * rec.fs).astype(np.int64)
    start_samples += offset
    x, usable = ew.x, ew.usable
    if seg is not None:
        keep = (start_samples >= seg.keep_start) & (start_samples < seg.keep_stop)
        start_samples, x, usable = start_samples[keep], x[keep], usable[keep]
    proba, hx = run_model(loaded, x, None, batch_size, hx, where=_where(rec))
    # No detection where the signal has a gap: the window's call is background.
    background = loaded.classes.index("bckg") if "bckg" in loaded.classes else 0
    return start_samples / rec.fs, _call_where_unusable(proba, usable, background), hx


def predict_windows(
    rec: Recording,
    loaded: LoadedModel,
    batch_size: int = DEFAULT_BATCH_SIZE,
    segment_s: float | None = None,
    context_s: float = DEFAULT_EEG_CONTEXT_S,
    lookahead_s: float = DEFAULT_EEG_LOOKAHEAD_S,
) -> WindowPredictions:
    """Seizure probability of every sliding window of an EEG recording.

    Parameters
    ----------
    rec : Recording
        An EEG recording holding the channels the model reads.
    loaded : LoadedModel
        A seizure model.
    batch_size : int
        Windows per forward pass.
    segment_s : float, optional
        Preprocess in segments of this length (what a stream computes); must
        be a multiple of the model's hop. None: the whole recording at once.
    context_s, lookahead_s : float
        Signal read before and after each segment (multiples of the hop).

    Returns
    -------
    WindowPredictions
        Use :meth:`WindowPredictions.events` for seizure events.

    Raises
    ------
    ContractError, RecordingError
        The model does not fit the recording; the message names the file.
    """
    check_fits(rec, loaded)
    prep = loaded.preprocessing
    if segment_s is None:
        start, proba, _ = score_window_segment(rec, loaded, None, batch_size)
    else:
        plan = window_segment_plan(rec.fs, prep, segment_s, context_s, lookahead_s)
        parts_s, parts_p, hx = [], [], None
        for seg in iter_segments(rec.n_samples, plan):
            sub = slice_recording(rec, seg.read_start, seg.read_stop)
            s, p, hx = score_window_segment(sub, loaded, seg, batch_size, hx)
            parts_s.append(s)
            parts_p.append(p)
        start = np.concatenate(parts_s) if parts_s else np.zeros(0)
        proba = np.concatenate(parts_p) if parts_p else np.zeros((0, len(loaded.classes)))
    return WindowPredictions(
        start,
        start + prep.window_s,
        proba,
        loaded.classes,
        rec.record_id,
        rec.duration_s,
        list(prep.channels) or list(rec.channel_names),
    )


def window_segment_plan(
    fs: float, prep: Any, segment_s: float, context_s: float, lookahead_s: float
) -> Callable[[int], Segment]:
    """:func:`segment_plan` for EEG windows: segments start on the hop grid."""
    _check_hop_multiple(prep.hop_s, segment_s, context_s)
    return segment_plan(fs, segment_s, context_s, lookahead_s, tail_s=prep.window_s)


def _check_hop_multiple(hop_s: float, *lengths: float) -> None:
    for length in lengths:
        ratio = length / hop_s
        if abs(ratio - round(ratio)) > 1e-9:
            raise ValueError(
                f"segment and context lengths must be multiples of the model's hop "
                f"({hop_s:g} s), got {length:g} s"
            )


# --------------------------------------------------------------------------- entry
def score_recording(
    path_or_rec: str | Path | Recording,
    model: str | Path | LoadedModel | None = None,
    beats: str = "auto",
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> BeatPredictions | WindowPredictions:
    """Score one recording with a model: beats for ECG, windows for EEG.

    Parameters
    ----------
    path_or_rec : str, path or Recording
        A recording file (WFDB header, EDF/BDF, anything MNE reads) or a
        loaded :class:`~cardioliquid.io.recording.Recording`.
    model : str, path or LoadedModel, optional
        A shipped model name, a checkpoint file, or a loaded model; default
        ``"arrhythmia"`` for ECG and ``"seizure"`` for EEG.
    beats : {"auto", "reference", "detect"}
        R-peak source for ECG (see :func:`predict_beats`).
    batch_size : int
        Windows per forward pass.

    Returns
    -------
    BeatPredictions or WindowPredictions

    Examples
    --------
    >>> import cardioliquid as cl
    >>> pred = cl.score_recording("mitdb/100.hea")  # doctest: +SKIP
    >>> pred.counts()  # doctest: +SKIP
    """
    from cardioliquid.models.checkpoint import LoadedModel, load_model

    if isinstance(path_or_rec, (str, Path)):
        from cardioliquid.io import load_recording

        rec = load_recording(path_or_rec)
    else:
        rec = path_or_rec
    if model is None:
        model = "arrhythmia" if rec.modality == "ecg" else "seizure"
    loaded = model if isinstance(model, LoadedModel) else load_model(model)
    if loaded.task == "arrhythmia":
        return predict_beats(rec, loaded, beats=beats, batch_size=batch_size)
    return predict_windows(rec, loaded, batch_size=batch_size)
