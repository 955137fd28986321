"""Latency and memory: timers, the CUDA path (mocked: no GPU here), clear device errors."""

from __future__ import annotations

import pytest
import torch

from cardioliquid.device import latency
from cardioliquid.device.latency import (
    peak_memory,
    resolve_device,
    synchronizer,
    throughput,
    time_calls,
)
from cardioliquid.errors import CardioLiquidError


class _FakeClock:
    """A clock that moves only when told to: the timers read it instead of the wall clock."""

    def __init__(self) -> None:
        self.ns = 0

    def advance(self, ms: float) -> None:
        self.ns += round(ms * 1e6)

    def perf_counter_ns(self) -> int:
        return self.ns

    def perf_counter(self) -> float:
        return self.ns * 1e-9


def test_time_calls_warms_up_and_repeats(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _FakeClock()
    monkeypatch.setattr(latency, "time", clock)
    calls = []

    def call() -> None:  # the 5 warm-up calls take 1 s each, then call k takes k ms
        calls.append(1)
        clock.advance(1000.0 if len(calls) <= 5 else len(calls) - 5)

    stats = time_calls(call, repeats=30, warmup=5)
    assert len(calls) == 35
    assert stats.n == 30
    # Only the 30 timed calls count (1, 2, ..., 30 ms): the slow warm-up is left out.
    assert stats.min == pytest.approx(1.0) and stats.mean == pytest.approx(15.5)
    # Percentiles interpolated between order statistics: 1 + q * (30 - 1) ms.
    assert [stats.p50, stats.p95, stats.p99] == pytest.approx([15.5, 28.55, 29.71])


def test_time_calls_synchronises_every_call() -> None:
    syncs = []
    time_calls(lambda: None, repeats=7, warmup=2, sync=lambda: syncs.append(1))
    assert len(syncs) == 7 + 1  # after each timed call, once after the warm-up


def test_time_calls_rejects_zero_repeats() -> None:
    with pytest.raises(ValueError, match="repeats >= 1"):
        time_calls(lambda: None, repeats=0)


def test_throughput_counts_items(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _FakeClock()
    monkeypatch.setattr(latency, "time", clock)
    calls = []

    def call() -> None:  # each call takes 2 ms (the warm-up one 1 s, not counted)
        calls.append(1)
        clock.advance(1000.0 if len(calls) == 1 else 2.0)

    rate = throughput(call, items_per_call=64, repeats=4, warmup=1)
    assert len(calls) == 5
    assert rate == pytest.approx(64 * 4 / (4 * 2e-3))  # 32,000 items per second


def test_cuda_request_without_gpu_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(CardioLiquidError, match=r"CUDA is not available.*--device cpu"):
        resolve_device("cuda")


def test_unknown_device_type() -> None:
    with pytest.raises(ValueError, match="Allowed values are 'cpu', 'cuda'"):
        resolve_device("meta")


def test_cuda_path_with_mocked_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    log: list[str] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda d=None: log.append("sync"))
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda d=None: log.append("reset"))
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda d=None: 1 * 2**20)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda d=None: 5 * 2**20)
    dev = resolve_device("cuda")
    assert dev.type == "cuda"
    synchronizer(dev)()
    assert log == ["sync"]
    mem = peak_memory(lambda: log.append("run"), dev)
    assert log[1:] == ["sync", "reset", "run", "sync"]
    assert mem.peak_mb == pytest.approx(5.0) and mem.increase_mb == pytest.approx(4.0)
    assert "max_memory_allocated" in mem.method


def test_cpu_peak_memory_sees_an_allocation() -> None:
    # 64 MiB: above glibc's largest dynamic mmap threshold (32 MiB), so the block is fresh
    # pages, never heap memory that earlier tests freed but the process still holds.
    mem = peak_memory(lambda: torch.ones(64 * 2**20 // 4).add_(1), torch.device("cpu"))
    assert mem.peak_mb > 0
    if mem.increase_mb is not None:  # Linux with /proc/self/clear_refs
        assert mem.increase_mb >= 60.0
        assert "VmHWM" in mem.method


def test_cpu_peak_memory_falls_back_without_proc(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(latency, "_CLEAR_REFS", tmp_path / "absent" / "clear_refs")
    mem = peak_memory(lambda: None, torch.device("cpu"))
    assert mem.increase_mb is None and "ru_maxrss" in mem.method and mem.peak_mb > 0
