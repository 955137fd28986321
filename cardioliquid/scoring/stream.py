"""Streaming scoring: feed a recording chunk by chunk, get predictions as soon as possible.

The app's live replay drives :class:`BeatStream` (ECG) or :class:`WindowStream`
(EEG). Each stream cuts the incoming signal into the same segments as
:func:`~cardioliquid.scoring.beats.predict_beats` /
:func:`~cardioliquid.scoring.windows.predict_windows` with ``segment_s`` set,
preprocesses each segment with the same context, carries the liquid state
(``hx``) from one window to the next when the model declares it, and settles
beat calls with the model's decision settings
(:class:`~cardioliquid.decision.beats.StreamSettler`). So, for any
chunk sizes::

    stream == predict_beats(rec, loaded, segment_s=stream.segment_s)

exactly (up to float rounding of batched matrix products).

Latency
-------
The zero-phase filters, the record-robust normalisation and the RR features of
the preprocessing need signal on both sides of a beat: a post-RR interval is
only known when the next R peak arrives. A segment is scored once the signal
``lookahead_s`` past its end has arrived, so a prediction comes at most
``segment_s + lookahead_s`` seconds (beats) or ``segment_s + window_s +
lookahead_s`` seconds (EEG windows) after its start: :attr:`latency_s`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from cardioliquid._check import check_option
from cardioliquid.decision.beats import StreamSettler
from cardioliquid.errors import RecordingError
from cardioliquid.io.recording import Recording
from cardioliquid.scoring.beats import leads_read, score_beat_segment, segment_beat_inputs
from cardioliquid.scoring.checks import check_fits
from cardioliquid.scoring.results import BeatPredictions, WindowPredictions
from cardioliquid.scoring.runner import DEFAULT_BATCH_SIZE
from cardioliquid.scoring.segments import (
    DEFAULT_ECG_CONTEXT_S,
    DEFAULT_ECG_LOOKAHEAD_S,
    DEFAULT_EEG_CONTEXT_S,
    DEFAULT_EEG_LOOKAHEAD_S,
    Segment,
    segment_plan,
    slice_recording,
    window_segment_plan,
)
from cardioliquid.scoring.windows import score_window_segment

if TYPE_CHECKING:
    from cardioliquid.models.checkpoint import LoadedModel

DEFAULT_SEGMENT_S = 10.0


class _SegmentStream:
    """Buffers incoming samples and hands out the segments that are complete."""

    def __init__(self, template: Recording, plan: Any, segment_s: float, lookahead_s: float):
        self.template = replace(template, signal=template.signal[:, :0], beats=None)
        self.fs = template.fs
        self.segment_s = float(segment_s)
        self.lookahead_s = float(lookahead_s)
        self._plan = plan
        # The signal still needed, store[:, lo:hi]: appended in place and dropped by moving
        # lo, so a chunk costs its own size, not the context's (30 min of ECG).
        self._store = np.zeros((template.n_channels, 0), dtype=np.float32)
        self._lo = self._hi = 0
        self._buffer_start = 0  # absolute sample index of _buffer[:, 0]
        self._n_received = 0
        self._next = 0  # index of the next segment to score
        self._finished = False
        self.hx: Any = None

    @property
    def n_received(self) -> int:
        """Samples received so far."""
        return self._n_received

    def _append(self, chunk: np.ndarray) -> None:
        if self._finished:
            raise RuntimeError("the stream is finished; create a new one")
        chunk = np.asarray(chunk, dtype=np.float32)
        if chunk.ndim == 1:
            chunk = chunk[None]
        if chunk.shape[0] != self.template.n_channels:
            raise ValueError(
                f"expected chunks of {self.template.n_channels} channels, got {chunk.shape[0]}"
            )
        self._store_samples(chunk)
        self._n_received += chunk.shape[1]

    @property
    def _buffer(self) -> np.ndarray:
        """The signal held, from :attr:`_buffer_start` on (a view)."""
        return self._store[:, self._lo:self._hi]

    def _store_samples(self, chunk: np.ndarray) -> None:
        n = chunk.shape[1]
        if self._hi + n > self._store.shape[1]:
            # A new array (earlier views stay valid), twice what is held: amortised O(1).
            live = self._hi - self._lo
            grown = np.empty((self._store.shape[0], max(2 * (live + n), 4096)), np.float32)
            grown[:, :live] = self._buffer
            self._store, self._lo, self._hi = grown, 0, live
        self._store[:, self._hi:self._hi + n] = chunk
        self._hi += n

    def _ready(self) -> Iterator[tuple[Segment, Recording]]:
        """Segments whose signal has fully arrived (all of them once finished)."""
        while True:
            seg = self._plan(self._next)
            if seg.keep_start >= self._n_received:
                return
            if seg.read_stop > self._n_received:
                if not self._finished:
                    return
                seg = replace(seg, read_stop=self._n_received)
            lo = seg.read_start - self._buffer_start
            sub = replace(
                self.template,
                signal=self._buffer[:, lo : lo + seg.read_stop - seg.read_start],
                meta={**self.template.meta, "offset_samples": seg.read_start},
            )
            self._next += 1
            yield seg, sub
            self._drop_before(self._plan(self._next).read_start)

    def _drop_before(self, sample: int) -> None:
        cut = sample - self._buffer_start
        if cut > 0:
            self._lo = min(self._hi, self._lo + cut)
            self._buffer_start = sample


class BeatStream(_SegmentStream):
    """Classify heartbeats of an ECG arriving chunk by chunk.

    Parameters
    ----------
    loaded : LoadedModel
        An arrhythmia model.
    template : Recording
        The recording's description (``fs``, ``channel_names``, ``record_id``,
        ``source``...); its samples and annotations are ignored.
    beats : {"detect", "reference"}
        Detect R peaks in each segment, or use the positions given to
        :meth:`push` (the live replay of an annotated record).
    segment_s, context_s, lookahead_s : float
        As in :func:`~cardioliquid.scoring.beats.predict_beats`.
    batch_size : int
        Beats per forward pass.
    """

    def __init__(
        self,
        loaded: LoadedModel,
        template: Recording,
        beats: str = "detect",
        segment_s: float = DEFAULT_SEGMENT_S,
        context_s: float = DEFAULT_ECG_CONTEXT_S,
        lookahead_s: float = DEFAULT_ECG_LOOKAHEAD_S,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        check_option("beats", beats, ("detect", "reference"))
        plan = segment_plan(template.fs, segment_s, context_s, lookahead_s)
        super().__init__(template, plan, segment_s, lookahead_s)
        self.context_s = float(context_s)
        self.history = 0
        """Samples before the stream's start it was given as context (:meth:`recall_signal`)."""
        self.segment_states: list[Any] = []
        """The carried state before each scored segment (index ``k``): where an explanation
        of a later decision starts without rescoring the stream's past."""
        self.loaded = loaded
        self.beat_source = beats
        self.batch_size = batch_size
        self._reference = np.zeros(0, dtype=np.int64)
        probe = replace(template, signal=np.zeros((template.n_channels, 1), np.float32))
        check_fits(probe, loaded)
        self._leads = leads_read(probe, loaded)
        self._settler = StreamSettler(template.fs, loaded.classes, loaded.decision)

    @classmethod
    def for_recording(cls, rec: Recording, loaded: LoadedModel, beats: str = "auto", **kw: Any):
        """A stream describing ``rec``; ``beats="auto"``: reference when annotated."""
        if beats == "auto":
            beats = "reference" if rec.beats is not None and len(rec.beats) else "detect"
        return cls(loaded, rec, beats=beats, **kw)

    @property
    def latency_s(self) -> float:
        """Longest wait between a beat's signal arriving and its prediction."""
        return self.segment_s + self.lookahead_s

    def _empty(self) -> BeatPredictions:
        n = len(self.loaded.classes)
        return BeatPredictions(
            np.zeros(0, np.int64), np.zeros((0, n), np.float32), self.loaded.classes,
            self.fs, self.beat_source, self.template.record_id,
            np.zeros(0, dtype=bool) if self._settler.gated else None, self._leads,
        )  # fmt: skip

    def recall_rhythm(self, earlier_beats: Sequence[int]) -> None:
        """Tell the AF gate the beats before this stream's start.

        A stream started mid-recording otherwise judges no rhythm for its
        first 128 beats. ``earlier_beats`` are positions relative to the
        stream's start (negative), in order; a model without an AF gate
        ignores them. Under the ``"af_specific"`` rule their calls are not
        known, so they count as not normal: for the first 128 beats such a
        stream clears flags that a stream over the whole record might keep.
        """
        self._settler.recall(earlier_beats)

    def recall_signal(self, history: np.ndarray, beat_samples: Sequence[int] | None = None
                      ) -> None:
        """Give the stream the signal before its start, read as context only.

        A stream started mid-recording (the replay after a jump) otherwise reads
        its record statistics from its own first seconds. ``history`` (channels,
        H) ends where the stream starts; ``beat_samples`` are its reference beats
        (positions relative to the stream's start, negative) for
        ``beats="reference"``. No beat of it is scored. Call before the first
        :meth:`push`; :func:`decision_run` rebuilds such a stream's inputs with
        ``history=H``.
        """
        if self._n_received or self._next:
            raise RuntimeError("recall_signal must come before the first push")
        history = np.asarray(history, dtype=np.float32)
        if history.ndim != 2 or history.shape[0] != self.template.n_channels:
            raise ValueError(f"expected history of shape ({self.template.n_channels}, H), "
                             f"got {history.shape}")
        self.history = int(history.shape[1])
        self._lo = self._hi = 0
        self._store_samples(history)
        self._buffer_start = -self.history
        self._plan = segment_plan(self.fs, self.segment_s, self.context_s, self.lookahead_s,
                                  history=self.history)  # fmt: skip
        if beat_samples is not None and len(beat_samples):
            self._reference = np.unique(np.asarray(beat_samples, dtype=np.int64))

    def push(self, chunk: np.ndarray, beat_samples: Sequence[int] | None = None) -> BeatPredictions:
        """Add ``chunk`` (channels, n) and return the beats completed by it.

        ``beat_samples`` are reference R-peak positions (absolute samples) that
        lie in this chunk, for ``beats="reference"``.
        """
        if beat_samples is not None and len(beat_samples):
            new = np.asarray(beat_samples, dtype=np.int64)
            self._reference = np.unique(np.concatenate([self._reference, new]))
        self._append(chunk)
        return self._score_ready()

    def finish(self) -> BeatPredictions:
        """Mark the end of the recording and return the remaining beats."""
        self._finished = True
        return self._score_ready()

    def _score_ready(self) -> BeatPredictions:
        out = self._empty()
        ref = self._reference if self.beat_source == "reference" else None
        for seg, sub in self._ready():
            self.segment_states.append(self.hx)
            sample, proba, self.hx, atrial = score_beat_segment(
                sub, self.loaded, seg, ref, self.batch_size, self.hx
            )
            proba, af = self._settler.settle(sample, proba, atrial)
            out = out.concat(replace(out, sample=sample, proba=proba, af=af))
        return out


class WindowStream(_SegmentStream):
    """Seizure probabilities of an EEG arriving chunk by chunk.

    Parameters
    ----------
    loaded : LoadedModel
        A seizure model.
    template : Recording
        The recording's description; its samples are ignored.
    segment_s, context_s, lookahead_s : float
        As in :func:`~cardioliquid.scoring.windows.predict_windows`
        (``segment_s`` and ``context_s`` multiples of the model's hop).
    batch_size : int
        Windows per forward pass.
    """

    def __init__(
        self,
        loaded: LoadedModel,
        template: Recording,
        segment_s: float = DEFAULT_SEGMENT_S,
        context_s: float = DEFAULT_EEG_CONTEXT_S,
        lookahead_s: float = DEFAULT_EEG_LOOKAHEAD_S,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        prep = loaded.preprocessing
        plan = window_segment_plan(template.fs, prep, segment_s, context_s, lookahead_s)
        super().__init__(template, plan, segment_s, lookahead_s)
        self.loaded = loaded
        self.batch_size = batch_size
        self.window_s = float(prep.window_s)
        probe = replace(template, signal=np.zeros((template.n_channels, 1), np.float32))
        check_fits(probe, loaded)

    @classmethod
    def for_recording(cls, rec: Recording, loaded: LoadedModel, **kw: Any) -> WindowStream:
        """A stream describing ``rec``."""
        return cls(loaded, rec, **kw)

    @property
    def latency_s(self) -> float:
        """Longest wait between a window's start arriving and its prediction."""
        return self.segment_s + self.window_s + self.lookahead_s

    def push(self, chunk: np.ndarray) -> WindowPredictions:
        """Add ``chunk`` (channels, n) and return the windows completed by it."""
        self._append(chunk)
        return self._score_ready()

    def finish(self) -> WindowPredictions:
        """Mark the end of the recording and return the remaining windows."""
        self._finished = True
        return self._score_ready()

    def _score_ready(self) -> WindowPredictions:
        prep = self.loaded.preprocessing
        n = len(self.loaded.classes)
        out = WindowPredictions(
            np.zeros(0), np.zeros(0), np.zeros((0, n)), self.loaded.classes,
            self.template.record_id, self._n_received / self.fs,
            list(prep.channels) or list(self.template.channel_names),
        )  # fmt: skip
        for seg, sub in self._ready():
            start, proba, self.hx = score_window_segment(
                sub, self.loaded, seg, self.batch_size, self.hx
            )
            out = out.concat(replace(out, start_s=start, end_s=start + prep.window_s, proba=proba))
        return out


def replay(
    rec: Recording,
    loaded: LoadedModel,
    chunk_s: float = 1.0,
    **kw: Any,
) -> Iterator[tuple[float, BeatPredictions | WindowPredictions]]:
    """Replay ``rec`` through a stream, ``chunk_s`` seconds at a time.

    Yields ``(seconds received, new predictions)`` after every chunk and once
    more at the end; reference beats are fed with the chunk that holds them.
    """
    step = max(1, round(chunk_s * rec.fs))
    if loaded.task == "arrhythmia":
        stream: BeatStream | WindowStream = BeatStream.for_recording(rec, loaded, **kw)
    else:
        stream = WindowStream.for_recording(rec, loaded, **kw)
    ref = rec.beats.sample[rec.beats.aami != ""] if rec.beats is not None else None
    for start in range(0, rec.n_samples, step):
        chunk = rec.signal[:, start : start + step]
        if isinstance(stream, BeatStream):
            beats = None if ref is None else ref[(ref >= start) & (ref < start + step)]
            new = stream.push(chunk, beats)
        else:
            new = stream.push(chunk)
        yield (start + chunk.shape[1]) / rec.fs, new
    yield rec.duration_s, stream.finish()


def decision_run(
    rec: Recording,
    loaded: LoadedModel,
    beat_sample: int,
    n_beats: int,
    reference: np.ndarray | None = None,
    start: int = 0,
    segment_s: float = DEFAULT_SEGMENT_S,
    context_s: float = DEFAULT_ECG_CONTEXT_S,
    lookahead_s: float = DEFAULT_ECG_LOOKAHEAD_S,
    history: int = 0,
    whole_segments: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """The inputs a :class:`BeatStream` read for the ``n_beats`` beats up to ``beat_sample``.

    A beat-sequence model decides a beat from the state carried over the beats
    before it; this rebuilds exactly what the stream fed it for those beats
    (each beat's window and features from its own segment, as the stream cut
    them), so an explanation reads the input the decision was made on.

    Parameters
    ----------
    rec : Recording
    loaded : LoadedModel
    beat_sample : int
        The decided beat (absolute sample at ``rec.fs``); it must be one the
        stream scored.
    n_beats : int
        Beats of the run, the decided one last (fewer at the stream's start).
    reference : ndarray of int, optional
        The reference beats the stream was given (absolute samples); None: it
        detected them.
    start : int
        Sample at which the stream started (a replay restarts its stream after a jump).
    segment_s, context_s, lookahead_s : float
        The stream's segmentation.
    history : int
        Samples of ``rec`` before ``start`` the stream was given as context
        (:meth:`BeatStream.recall_signal`).
    whole_segments : bool
        Return every beat of the segments read, the earliest from its start (at
        least ``n_beats``): the beats before the run in its first segment too.

    Returns
    -------
    sample, x, features, usable
        Absolute beat samples ``(L,)``, windows ``(L, C, T)``, features ``(L, F)``
        (or None) and usable flags, in order.

    Raises
    ------
    RecordingError
        ``beat_sample`` is not a beat of the stream.
    """
    start = int(start)
    history = min(int(history), start)
    plan = segment_plan(rec.fs, segment_s, context_s, lookahead_s, history=history)
    ref = None
    if reference is not None:
        ref = np.asarray(reference, dtype=np.int64)
        ref = ref[ref >= start - history]  # the beats the stream was given
    k = segment_index(int(beat_sample) - start, rec.fs, segment_s)
    parts: list[tuple[np.ndarray, ...]] = []
    held = 0
    while k >= 0 and held < n_beats:
        seg = plan(k)
        # The stream's segment in the recording's samples: the same signal, the same beats.
        seg = Segment(seg.keep_start + start, seg.keep_stop + start, seg.read_start + start,
                      min(seg.read_stop + start, rec.n_samples))
        part = segment_beat_inputs(slice_recording(rec, seg.read_start, seg.read_stop),
                                   loaded, seg, ref)  # fmt: skip
        if not parts:  # the decided beat's segment: nothing after it
            upto = part[0] <= int(beat_sample)
            part = tuple(None if a is None else a[upto] for a in part)
            if not len(part[0]) or part[0][-1] != int(beat_sample):
                raise RecordingError(rec.source or rec.record_id,
                                     f"no beat was decided at sample {beat_sample}")
        parts.insert(0, part)
        held += len(part[0])
        k -= 1
    run = slice(None) if whole_segments else slice(-n_beats, None)
    sample = np.concatenate([p[0] for p in parts])[run]
    x = np.concatenate([p[1] for p in parts])[run]
    feats = None if parts[0][2] is None else np.concatenate([p[2] for p in parts])[run]
    usable = np.concatenate([p[3] for p in parts])[run]
    return sample, x, feats, usable


def segment_index(sample: int, fs: float, segment_s: float = DEFAULT_SEGMENT_S) -> int:
    """The segment (``k``) of a stream that decides its beat at ``sample`` (from its start)."""
    return int(sample) // max(1, round(segment_s * fs))

