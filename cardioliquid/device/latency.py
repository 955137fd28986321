"""Wall-clock latency, throughput and peak memory, measured with warm-up and repeats.

Timings use :func:`time.perf_counter_ns` around each call, after a warm-up
(first calls pay for allocation, lazy initialisation and caches); on CUDA every
call is followed by ``torch.cuda.synchronize`` so the clock sees the kernels
finish, not just their launch.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cardioliquid._check import check_option
from cardioliquid.errors import CardioLiquidError


@dataclass(frozen=True)
class LatencyStats:
    """Latency percentiles of repeated calls, in milliseconds.

    Attributes
    ----------
    p50, p95, p99, mean, min : float
        Milliseconds per call.
    n : int
        Timed calls (after warm-up).
    """

    p50: float
    p95: float
    p99: float
    mean: float
    min: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return asdict(self)


def resolve_device(device: str | torch.device) -> torch.device:
    """A torch device for profiling; CUDA without a GPU fails with a clear message."""
    dev = torch.device(device)
    check_option("device", dev.type, ["cpu", "cuda"])
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise CardioLiquidError(
            f"device {str(device)!r} requested but CUDA is not available "
            f"(torch {torch.__version__}, torch.cuda.is_available() is False); "
            "use --device cpu or run on a machine with an NVIDIA GPU and a CUDA build of torch"
        )
    return dev


def synchronizer(device: torch.device) -> Callable[[], None]:
    """A function that waits for queued work on ``device`` (no-op on CPU)."""
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def time_calls(
    fn: Callable[[], Any],
    repeats: int = 200,
    warmup: int = 20,
    sync: Callable[[], None] | None = None,
) -> LatencyStats:
    """Time ``repeats`` calls of ``fn`` after ``warmup`` untimed ones."""
    if repeats < 1:
        raise ValueError(f"expected repeats >= 1, got {repeats}")
    sync = sync or (lambda: None)
    with torch.inference_mode():
        for _ in range(warmup):
            fn()
        sync()
        times = np.empty(repeats, dtype=np.float64)
        for i in range(repeats):
            t0 = time.perf_counter_ns()
            fn()
            sync()
            times[i] = (time.perf_counter_ns() - t0) * 1e-6
    p50, p95, p99 = np.percentile(times, [50, 95, 99])
    return LatencyStats(
        float(p50), float(p95), float(p99), float(times.mean()), float(times.min()), repeats
    )


def throughput(
    fn: Callable[[], Any],
    items_per_call: int,
    repeats: int = 10,
    warmup: int = 2,
    sync: Callable[[], None] | None = None,
) -> float:
    """Items per second over ``repeats`` back-to-back calls (after warm-up)."""
    sync = sync or (lambda: None)
    with torch.inference_mode():
        for _ in range(warmup):
            fn()
        sync()
        t0 = time.perf_counter()
        for _ in range(repeats):
            fn()
        sync()
        elapsed = time.perf_counter() - t0
    return items_per_call * repeats / elapsed if elapsed > 0 else float("inf")


@dataclass(frozen=True)
class PeakMemory:
    """Peak memory of a block of work.

    Attributes
    ----------
    peak_mb : float
        The peak (MiB) as defined by ``method``.
    increase_mb : float or None
        Peak minus the level before the block (MiB), when known.
    method : str
        What was measured.
    """

    peak_mb: float
    increase_mb: float | None
    method: str


_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kb(field: str) -> int | None:
    try:
        m = re.search(rf"^{field}:\s+(\d+)\s+kB", _STATUS.read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(m.group(1)) if m else None


def peak_memory(fn: Callable[[], Any], device: torch.device) -> PeakMemory:
    """Peak memory while running ``fn`` once.

    CUDA: ``torch.cuda.max_memory_allocated`` after a reset (tensor memory the
    caching allocator handed out). CPU on Linux: the process resident-set
    high-water mark (``VmHWM``) after resetting it through
    ``/proc/self/clear_refs``; it includes the Python interpreter and the torch
    runtime, so ``increase_mb`` (peak minus resident size before) is the part
    due to the block. Elsewhere: ``resource.getrusage`` max RSS (lifetime peak).
    """
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        with torch.inference_mode():
            fn()
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device)
        return PeakMemory(
            peak / 2**20,
            (peak - before) / 2**20,
            "torch.cuda.max_memory_allocated (tensor memory on the GPU)",
        )
    rss_before = _status_kb("VmRSS")
    try:
        _CLEAR_REFS.write_text("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
        reset = True
    except OSError:
        reset = False
    with torch.inference_mode():
        fn()
    hwm = _status_kb("VmHWM")
    if reset and hwm is not None and rss_before is not None:
        return PeakMemory(
            hwm / 1024,
            max(hwm - rss_before, 0) / 1024,
            "process resident-set peak (VmHWM after clear_refs; includes Python and torch)",
        )
    import resource

    maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return PeakMemory(maxrss_kb / 1024, None, "process lifetime peak RSS (getrusage ru_maxrss)")
