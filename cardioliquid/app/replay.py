"""A live replay of one recording through the streaming scorer (no Streamlit here).

:class:`ReplaySession` holds one user's replay. Its **cursor**
(:attr:`ReplaySession.position_s`) is the single source of truth for where the
replay is: the page, the position slider and the event navigation all read and
move it through :meth:`~ReplaySession.seek` and :meth:`~ReplaySession.advance`.

Every decision the stream has made is kept, with the signal position at which
it was made (``decided_at_s``). What the page shows at cursor ``t`` is what a
monitor would have known at ``t``: the decisions made by then. Jumping back
therefore shows the decisions already made; playing on from there costs no
compute until the cursor passes the signal already scored. Jumping to signal
never scored starts a fresh stream a little before the target
(:data:`LEAD_IN_S`) and scores up to it, so the decisions there are in view at
once. Recordings and models are shared read-only; each user's replay lives in
``st.session_state``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from cardioliquid._check import check_positive
from cardioliquid.errors import CardioLiquidError
from cardioliquid.scoring.checks import check_fits
from cardioliquid.scoring.results import BeatPredictions, WindowPredictions
from cardioliquid.scoring.stream import BeatStream, WindowStream

if TYPE_CHECKING:
    from cardioliquid.io.recording import Recording
    from cardioliquid.models.checkpoint import LoadedModel

    Predictions = BeatPredictions | WindowPredictions

SPEEDS: dict[str, float | None] = {"1×": 1.0, "5×": 5.0, "25×": 25.0, "as fast as possible": None}
"""Replay speeds: seconds of signal per second of wall time (None: no pacing)."""

FASTEST_CHUNK_S = 30.0
"""Signal fed per frame at the fastest speed."""

LEAD_IN_S = 30.0
"""Signal scored before a jump target never replayed, so decisions are in view on landing."""


class StreamOrigin(NamedTuple):
    """Where one of a replay's streams started and what it was given."""

    start: int
    """Its first sample in the recording."""
    reference: np.ndarray | None
    """The reference beats it was given (absolute samples); None: it detected them."""
    segment_states: list[Any]
    """Its state before each of its segments (:attr:`BeatStream.segment_states`)."""
    history: int
    """Samples before ``start`` it read as context (:meth:`BeatStream.recall_signal`)."""


@dataclass
class ChunkTiming:
    """Compute time of one pushed chunk."""

    wall_s: float
    decisions: int
    signal_s: float

    @property
    def ms_per_decision(self) -> float:
        """Milliseconds of compute per new decision (NaN when none completed)."""
        return 1e3 * self.wall_s / self.decisions if self.decisions else float("nan")


def take(pred: Predictions, index: np.ndarray) -> Predictions:
    """The decisions of ``pred`` at ``index`` (an integer array or a boolean mask)."""
    index = np.asarray(index)
    if hasattr(pred, "sample"):
        af = None if pred.af is None else pred.af[index]
        return replace(pred, sample=pred.sample[index], proba=pred.proba[index], af=af)
    return replace(pred, start_s=pred.start_s[index], end_s=pred.end_s[index],
                   proba=pred.proba[index])  # fmt: skip


def decision_times(pred: Predictions) -> np.ndarray:
    """Where each decision sits on the trace: the R peak of a beat, the end of a window (s)."""
    return pred.time_s if hasattr(pred, "sample") else pred.end_s


def _keys(pred: Predictions) -> np.ndarray:
    """A sortable identity of each decision: its R-peak sample or window start."""
    return pred.sample.astype(np.float64) if hasattr(pred, "sample") else pred.start_s


@dataclass
class ReplaySession:
    """One user's replay of ``rec`` with ``loaded``.

    Parameters
    ----------
    rec : Recording
        The recording (not modified).
    loaded : LoadedModel
        The model (shared, read only).
    position_s : float
        Where the replay starts (seconds).

    Attributes
    ----------
    position_s : float
        The cursor: seconds of signal replayed (from the recording start).
    timings : list of ChunkTiming
        Compute time of each pushed chunk.
    """

    rec: Recording
    loaded: LoadedModel
    position_s: float = 0.0
    timings: list[ChunkTiming] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._runs: list[list[Any]] = []  # each stream: [start, fed, flushed], the live one last
        self._origins: list[StreamOrigin] = []  # each stream's, as _runs
        self._history = None
        self._decided_at = np.zeros(0)
        self._flushed_end = False
        self._view: tuple[Any, Predictions] | None = None
        start = float(np.clip(self.position_s, 0.0, self.rec.duration_s))
        self._new_stream(round(start * self.rec.fs))
        self._history = self._empty()
        self.position_s = start

    # -- state ----------------------------------------------------------------------------
    @property
    def task(self) -> str:
        """``"arrhythmia"`` or ``"seizure"``."""
        return self.loaded.task

    @property
    def finished(self) -> bool:
        """True once the cursor is at the end and every decision of the recording is made."""
        return self._flushed_end and self.position_s >= self.rec.duration_s - 1e-9

    @property
    def latency_s(self) -> float:
        """Longest delay between signal arriving and its prediction (the stream's lookahead)."""
        return float(self._stream.latency_s)

    @property
    def history(self) -> Predictions:
        """Every decision made so far, wherever the cursor is, in time order."""
        return self._history

    @property
    def decided_at_s(self) -> np.ndarray:
        """Signal position (s) at which each decision of :attr:`history` was made."""
        return self._decided_at

    @property
    def predictions(self) -> Predictions:
        """The decisions known at the cursor (made at or before :attr:`position_s`)."""
        key = (self.position_s, len(self._history))
        if self._view is None or self._view[0] != key:
            known = self._decided_at <= self.position_s + 1e-9
            pred = self._history if known.all() else take(self._history, known)
            self._view = (key, pred)
        return self._view[1]

    @property
    def scored_spans_s(self) -> list[tuple[float, float]]:
        """Stretches of signal whose decisions are all made, as (start, stop) in seconds."""
        return [(a / self.rec.fs, b / self.rec.fs) for a, b in self._merged()]

    def decision_frontier(self) -> float:
        """Time (s) of the latest decision known at the cursor (0 before any)."""
        pred = self.predictions
        return float(decision_times(pred)[-1]) if len(pred) else 0.0

    # -- moving the cursor ----------------------------------------------------------------
    def seek(self, position_s: float) -> None:
        """Move the cursor to ``position_s`` seconds.

        The decisions a monitor would show there (those of the :data:`LEAD_IN_S`
        before it) are made first if they are not yet: by the current stream when
        it stopped just there, otherwise by a new stream started where they are
        missing. Earlier decisions are kept either way.
        """
        target = round(float(np.clip(position_s, 0.0, self.rec.duration_s)) * self.rec.fs)
        self._ensure(target - round(LEAD_IN_S * self.rec.fs), target)
        self.position_s = target / self.rec.fs

    def advance(self, seconds: float) -> int:
        """Move the cursor ``seconds`` on, scoring signal not yet scored; return new decisions."""
        check_positive("seconds", seconds)
        here = round(self.position_s * self.rec.fs)
        target = min(self.rec.n_samples, round((self.position_s + seconds) * self.rec.fs))
        before = len(self._history)
        self._ensure(here - self._lag(), target)
        self.position_s = target / self.rec.fs
        return len(self._history) - before

    def stream_of(self, sample: int) -> StreamOrigin:
        """The stream that decided the beat at ``sample``: what
        :func:`~cardioliquid.app.neurons.beat_decision` needs to rebuild the decision's
        input and the model as it decided it.

        A replay starts a new stream after a jump and keeps every decision already
        made; the decision at ``sample`` is the earliest stream's that covers it.
        """
        covering = [i for i, r in enumerate(self._runs) if r[0] <= sample]
        chosen = covering[-1] if covering else None
        for i in covering:
            if sample < self._decided_to(self._runs[i]):
                chosen = i
                break
        if chosen is None:
            return StreamOrigin(0, self._reference, [], 0)
        return self._origins[chosen]

    # -- the stream -----------------------------------------------------------------------
    def _lag(self) -> int:
        return int(np.ceil(self.latency_s * self.rec.fs))

    def _decided_to(self, run: list[int]) -> int:
        """End (exclusive, samples) of the stretch whose beats a run has surely decided."""
        start, fed, flushed = run
        return self.rec.n_samples if flushed else max(start, fed - self._lag())

    def _merged(self) -> list[tuple[int, int]]:
        spans = sorted((r[0], self._decided_to(r)) for r in self._runs)
        merged: list[list[int]] = []
        for a, b in spans:
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        return [(a, b) for a, b in merged]

    def _first_gap(self, lo: int, hi: int) -> int | None:
        """First sample of ``[lo, hi)`` whose decisions are not all made (None: all are)."""
        g = lo
        for a, b in self._merged():
            if a <= g < b:
                g = b
            if g >= hi:
                return None
        return g if g < hi else None

    def _ensure(self, lo: int, t: int) -> None:
        """Make the decisions a monitor has at sample ``t`` from ``lo`` on (scoring if needed)."""
        n = self.rec.n_samples
        hi = n if t >= n else t - self._lag()
        lo = max(0, lo)
        if hi <= lo and not (t >= n and not self._flushed_end):
            return
        gap = self._first_gap(lo, max(hi, lo + 1))
        if gap is None:
            return
        if gap != self._decided_to(self._runs[-1]) or self._fed > t:
            self._new_stream(gap)
        self._feed_to(t)

    def _new_stream(self, start: int) -> None:

        self._start = self._fed = int(start)
        if self.task == "arrhythmia":
            ref = self.rec.beats
            annotated = ref is not None and len(ref) > 0
            self._stream = BeatStream(self.loaded, self.rec,
                                      beats="reference" if annotated else "detect")  # fmt: skip
            self._reference = ref.sample[ref.aami != ""] if annotated else None
            # After a jump the signal before the landing is known: the stream reads its record
            # statistics from it (up to its context), and the AF gate the rhythm there.
            first = max(0, self._start - round(self._stream.context_s * self.rec.fs))
            earlier = None
            if annotated:
                earlier = self._reference[self._reference < self._start] - self._start
                self._stream.recall_rhythm(earlier)
            if first < self._start:
                self._stream.recall_signal(self.rec.signal[:, first:self._start],
                                           None if earlier is None else
                                           earlier[earlier >= first - self._start])
        else:
            self._stream = WindowStream(self.loaded, self.rec)
            self._reference = None
        self._runs.append([self._start, self._fed, False])  # start, fed, flushed
        beats = isinstance(self._stream, BeatStream)  # an EEG stream keeps neither
        self._origins.append(StreamOrigin(self._start, self._reference,
                                          self._stream.segment_states if beats else [],
                                          self._stream.history if beats else 0))

    def _empty(self) -> Predictions:
        n = len(self.loaded.classes)
        if self.task == "arrhythmia":
            af = np.zeros(0, bool) if self.loaded.decision.af_gate else None
            return BeatPredictions(
                np.zeros(0, np.int64), np.zeros((0, n), np.float32), self.loaded.classes,
                self.rec.fs, self._stream.beat_source, self.rec.record_id, af=af,
            )  # fmt: skip
        return WindowPredictions(
            np.zeros(0), np.zeros(0), np.zeros((0, n), np.float32), self.loaded.classes,
            self.rec.record_id, self.rec.duration_s, list(self.rec.channel_names),
        )  # fmt: skip

    def _shift(self, pred: Predictions) -> Predictions:
        """Stream positions are relative to where it started: make them absolute."""
        if self.task == "arrhythmia":
            return replace(pred, sample=pred.sample + self._start)
        offset = self._start / self.rec.fs
        return replace(pred, start_s=pred.start_s + offset, end_s=pred.end_s + offset)

    def _feed_to(self, stop: int) -> None:
        """Push the signal from the stream's position to ``stop`` (flushing at the end)."""
        stop = min(int(stop), self.rec.n_samples)
        if stop <= self._fed and not (stop >= self.rec.n_samples and not self._flushed_end):
            return
        chunk = self.rec.signal[:, self._fed : stop]
        t0 = time.perf_counter()
        if self.task == "arrhythmia":
            beats = None
            if self._reference is not None:
                inside = (self._reference >= self._fed) & (self._reference < stop)
                beats = self._reference[inside] - self._start
            new = self._stream.push(chunk, beats) if chunk.shape[1] else None
        else:
            new = self._stream.push(chunk) if chunk.shape[1] else None
        if stop >= self.rec.n_samples:
            done = self._stream.finish()
            new = done if new is None else new.concat(done)
            self._flushed_end = True
            self._runs[-1][2] = True
        wall = time.perf_counter() - t0
        n_new = 0 if new is None else len(new)
        self.timings.append(ChunkTiming(wall, n_new, (stop - self._fed) / self.rec.fs))
        self._fed = self._runs[-1][1] = stop
        if new is not None and len(new):
            self._remember(self._shift(new), stop / self.rec.fs)

    def _remember(self, new: Predictions, at_s: float) -> None:
        """Merge new decisions into the history (a decision already made is kept)."""
        old = _keys(self._history)
        fresh = ~np.isin(_keys(new), old)
        if not fresh.any():
            return
        new = take(new, fresh)
        merged = self._history.concat(new)
        # a stream fed continuously has each decision by its time plus the stream's delay,
        # however large the chunk that brought it
        at = np.minimum(at_s, decision_times(new) + self.latency_s)
        when = np.concatenate([self._decided_at, at])
        order = np.argsort(_keys(merged), kind="stable")
        self._history = take(merged, order)
        self._decided_at = when[order]

    # -- compute measured live ------------------------------------------------------------
    def latency_ms(self) -> dict[str, float]:
        """Live compute time per decision: p50 and p95 over the chunks so far (ms)."""
        per = np.array([t.ms_per_decision for t in self.timings if t.decisions])
        if per.size == 0:
            return {"p50": float("nan"), "p95": float("nan"), "n_chunks": 0}
        return {
            "p50": float(np.percentile(per, 50)),
            "p95": float(np.percentile(per, 95)),
            "n_chunks": int(per.size),
        }

    def realtime_factor(self) -> float:
        """Seconds of signal scored per second of compute (NaN before any chunk)."""
        wall = sum(t.wall_s for t in self.timings)
        sig = sum(t.signal_s for t in self.timings)
        return sig / wall if wall > 0 else float("nan")


def check_replayable(rec: Recording, loaded: LoadedModel) -> None:
    """Raise unless ``loaded`` can replay ``rec``: found before Play, not on the way.

    :func:`~cardioliquid.scoring.checks.check_fits` first (modality, rate, channel
    kinds, a model that reads every channel built for that many); then the recording's
    first seconds (the stream's delay
    and two windows more, about 0.2 s of compute) go through a throwaway
    replay, so whatever shows only when the model reads the signal (a montage
    the channels cannot give, an input shape) is found up front.

    Raises
    ------
    CardioLiquidError
        :class:`ContractError` or :class:`RecordingError` saying what was
        expected and what was got, naming the file.
    """
    check_fits(rec, loaded)  # including a model that reads every channel, built for fewer
    prep = loaded.preprocessing
    probe = ReplaySession(rec, loaded)
    window = float(getattr(prep, "window_s", 0.0) or 0.0)
    probe.advance(min(probe.latency_s + 2 * window + 1.0, rec.duration_s))


def fit_problem(rec: Recording, loaded: LoadedModel) -> str | None:
    """Why ``loaded`` cannot replay ``rec`` (:func:`check_replayable`), None when it can."""
    try:
        check_replayable(rec, loaded)
    except CardioLiquidError as e:
        return str(e)
    except Exception as e:  # a reader or filter failing in an unforeseen way: the replay would
        return f"{type(e).__name__}: {e}"
    return None


def beats_view(pred: BeatPredictions) -> tuple[np.ndarray, np.ndarray]:
    """Times (s) and predicted labels of the beats received."""
    return pred.time_s, pred.labels


def windows_view(pred: WindowPredictions, positive: str = "sz") -> tuple[np.ndarray, np.ndarray]:
    """Window end times (s, when each decision is available) and the seizure probability."""
    col = list(pred.classes).index(positive) if positive in pred.classes else -1
    return pred.end_s, pred.proba[:, col] if len(pred) else np.zeros(0)
