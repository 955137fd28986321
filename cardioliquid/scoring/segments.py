"""Cut a recording into segments, each preprocessed with signal on both sides.

With ``segment_s`` set, scoring cuts the recording into segments of that
length, each preprocessed with ``context_s`` seconds of signal before it and
``lookahead_s`` after it, keeping only the beats (windows) that start inside
it. This is exactly what a stream can compute (:mod:`cardioliquid.scoring.stream`),
so ``predict_beats(..., segment_s=S)`` equals the streaming scorer with the same
``S`` over any chunking.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from cardioliquid._check import check_positive
from cardioliquid.io.recording import Recording

DEFAULT_ECG_CONTEXT_S = 1800.0
"""Signal read before each ECG segment: filter settling, the local RR averages, and an
estimate of the record-level statistics the preprocessing computes over the whole record
in batch: the median beat the template features compare each beat with, and the
median/MAD normalisation. Half an hour, so a stream of an MIT-BIH-length record reads
them from everything it has received, as close to whole-record scoring as a causal
stream gets (60 s, the earlier default, let a stretch of frequent ectopy set the median
beat: ``pipelines/bench_stream.py``); a Holter stream reads its last half hour."""
DEFAULT_ECG_LOOKAHEAD_S = 5.0
"""Signal read after each ECG segment: the next R peak (post-RR) and filter settling."""
DEFAULT_EEG_CONTEXT_S = 10.0
"""Signal read before each EEG segment: band-pass/notch settling and resampling."""
DEFAULT_EEG_LOOKAHEAD_S = 5.0
"""Signal read after each EEG segment's last window."""


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
    history: int = 0,
) -> Callable[[int], Segment]:
    """Segment ``k`` of a recording at ``fs``, before clipping to its length.

    Each segment reads ``context_s`` before it and ``lookahead_s`` (default
    ``context_s``) after it, plus ``tail_s``: the signal each kept prediction
    needs after its start (an EEG window's length; 0 for beats). Its context
    reaches back to ``-history`` (samples before the start of the scored
    stretch that are known: a stream primed with the signal before it).
    """
    check_positive("segment_s", segment_s)
    seg = round(segment_s * fs)
    before = round(context_s * fs)
    after = round((context_s if lookahead_s is None else lookahead_s) * fs)
    tail = math.ceil(tail_s * fs)

    def plan(k: int) -> Segment:
        start = k * seg
        return Segment(start, start + seg, max(-int(history), start - before),
                       start + seg + tail + after)

    return plan


def iter_segments(n_samples: int, plan: Callable[[int], Segment]) -> Iterator[Segment]:
    """The segments of a recording of ``n_samples`` samples, the last clipped to its end."""
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

