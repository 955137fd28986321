"""A live replay of one recording through the streaming scorer (no Streamlit here).

:class:`ReplaySession` holds one user's replay: where it is, the stream of
:mod:`cardioliquid.scoring.stream` it feeds chunk by chunk, the predictions
received so far and the compute time each chunk took. The app keeps one in
``st.session_state`` per user; recordings and models are shared read-only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from cardioliquid._check import check_positive

if TYPE_CHECKING:
    from cardioliquid.io.recording import Recording
    from cardioliquid.models.checkpoint import LoadedModel
    from cardioliquid.scoring.inference import BeatPredictions, WindowPredictions

SPEEDS: dict[str, float | None] = {"1×": 1.0, "5×": 5.0, "25×": 25.0, "as fast as possible": None}
"""Replay speeds: seconds of signal per second of wall time (None: no pacing)."""

FASTEST_CHUNK_S = 30.0
"""Signal fed per tick at the fastest speed."""


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


@dataclass
class ReplaySession:
    """One user's replay of ``rec`` with ``loaded``.

    Parameters
    ----------
    rec : Recording
        The recording (not modified).
    loaded : LoadedModel
        The model (shared, read only).

    Attributes
    ----------
    position_s : float
        Seconds of signal fed so far (from the recording start).
    predictions : BeatPredictions or WindowPredictions
        Everything the stream has returned, positions in recording samples/seconds.
    timings : list of ChunkTiming
        Compute time of each pushed chunk.
    """

    rec: Recording
    loaded: LoadedModel
    position_s: float = 0.0
    timings: list[ChunkTiming] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.seek(self.position_s)

    # -- state ----------------------------------------------------------------------------
    @property
    def task(self) -> str:
        """``"arrhythmia"`` or ``"seizure"``."""
        return self.loaded.task

    @property
    def finished(self) -> bool:
        """True once the whole recording has been fed and flushed."""
        return self._flushed

    @property
    def latency_s(self) -> float:
        """Longest delay between signal arriving and its prediction (the stream's lookahead)."""
        return float(self._stream.latency_s)

    def seek(self, position_s: float) -> None:
        """Restart the stream at ``position_s`` seconds (predictions before it are dropped)."""
        from cardioliquid.scoring.stream import BeatStream, WindowStream

        position_s = float(np.clip(position_s, 0.0, self.rec.duration_s))
        self._start = round(position_s * self.rec.fs)
        self._fed = self._start
        self._flushed = False
        self.position_s = position_s
        if self.task == "arrhythmia":
            ref = self.rec.beats
            annotated = ref is not None and len(ref) > 0
            self._stream = BeatStream(
                self.loaded, self.rec, beats="reference" if annotated else "detect"
            )
            self._reference = ref.sample[ref.aami != ""] if annotated else None
            if annotated:  # the rhythm before a seek is known: the AF gate judges from beat one
                self._stream.recall_rhythm(self._reference[self._reference < self._start]
                                           - self._start)
        else:
            self._stream = WindowStream(self.loaded, self.rec)
            self._reference = None
        self.predictions = self._shift(self._stream_empty())

    def _stream_empty(self):
        from cardioliquid.scoring.inference import BeatPredictions, WindowPredictions

        n = len(self.loaded.classes)
        if self.task == "arrhythmia":
            return BeatPredictions(
                np.zeros(0, np.int64), np.zeros((0, n), np.float32), self.loaded.classes,
                self.rec.fs, self._stream.beat_source, self.rec.record_id,
            )  # fmt: skip
        return WindowPredictions(
            np.zeros(0), np.zeros(0), np.zeros((0, n), np.float32), self.loaded.classes,
            self.rec.record_id, self.rec.duration_s, list(self.rec.channel_names),
        )  # fmt: skip

    def _shift(self, pred):
        """Stream positions are relative to where it started: make them absolute."""
        if self.task == "arrhythmia":
            return replace(pred, sample=pred.sample + self._start)
        offset = self._start / self.rec.fs
        return replace(pred, start_s=pred.start_s + offset, end_s=pred.end_s + offset)

    # -- feeding ----------------------------------------------------------------------------
    def advance(self, seconds: float) -> int:
        """Feed the next ``seconds`` of signal; return the number of new decisions."""
        check_positive("seconds", seconds)
        if self._flushed:
            return 0
        stop = min(self.rec.n_samples, self._fed + max(1, round(seconds * self.rec.fs)))
        chunk = self.rec.signal[:, self._fed : stop]
        t0 = time.perf_counter()
        if self.task == "arrhythmia":
            beats = None
            if self._reference is not None:
                inside = (self._reference >= self._fed) & (self._reference < stop)
                beats = self._reference[inside] - self._start
            new = self._stream.push(chunk, beats)
        else:
            new = self._stream.push(chunk)
        if stop >= self.rec.n_samples:
            new = new.concat(self._stream.finish())
            self._flushed = True
        wall = time.perf_counter() - t0
        self.timings.append(ChunkTiming(wall, len(new), (stop - self._fed) / self.rec.fs))
        self._fed = stop
        self.position_s = stop / self.rec.fs
        if len(new):
            self.predictions = self.predictions.concat(self._shift(new))
        return len(new)

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


def beats_view(pred: BeatPredictions) -> tuple[np.ndarray, np.ndarray]:
    """Times (s) and predicted labels of the beats received."""
    return pred.time_s, pred.labels


def windows_view(pred: WindowPredictions, positive: str = "sz") -> tuple[np.ndarray, np.ndarray]:
    """Window end times (s, when each decision is available) and the seizure probability."""
    col = list(pred.classes).index(positive) if positive in pred.classes else -1
    return pred.end_s, pred.proba[:, col] if len(pred) else np.zeros(0)
