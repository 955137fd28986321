"""Fixtures of the device tests: a tiny liquid model, a fake powercap tree, a stub NVML."""

from __future__ import annotations

import types
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from cardioliquid.models.cfc import CfC
from cardioliquid.models.contract import SignalContract
from cardioliquid.models.wiring import auto_ncp


class TinyLiquid(nn.Module):
    """Conv front end, wired CfC, linear head over the last motor state + features."""

    def __init__(self) -> None:
        super().__init__()
        self.contract = SignalContract(n_chans=1, sfreq=60.0, n_times=42, n_outputs=3, n_features=2)
        self.conv = nn.Conv1d(1, 4, kernel_size=6, stride=6)
        self.rnn = CfC(4, auto_ncp(10, 3, sparsity=0.5, seed=1), return_sequences=False)
        self.head = nn.Linear(3 + 2, 3)

    def forward(self, x: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        self.contract.check(x, features)
        y, _ = self.rnn(self.conv(x).transpose(1, 2))
        return self.head(torch.cat([y, features], dim=-1))


@pytest.fixture
def tiny_model() -> TinyLiquid:
    """A small stand-in with a ``.contract`` (7 CfC steps per decision)."""
    torch.manual_seed(0)
    return TinyLiquid().eval()


def write_zone(root: Path, name: str, energy_uj: int, max_range: int, label: str) -> Path:
    """One powercap zone directory as the kernel lays it out."""
    zone = root / name
    zone.mkdir(parents=True)
    (zone / "energy_uj").write_text(f"{energy_uj}\n")
    (zone / "max_energy_range_uj").write_text(f"{max_range}\n")
    (zone / "name").write_text(f"{label}\n")
    return zone


@pytest.fixture
def zone_writer():
    """:func:`write_zone`, for tests that lay out their own powercap tree."""
    return write_zone


@pytest.fixture
def powercap(tmp_path: Path) -> Path:
    """A fake ``/sys/class/powercap`` with one package zone and a core sub-zone."""
    root = tmp_path / "powercap"
    write_zone(root, "intel-rapl:0", 1_000_000, 262_143_328_850, "package-0")
    write_zone(root, "intel-rapl:0:0", 500_000, 262_143_328_850, "core")
    return root


class FakeNVMLError(Exception):
    """Stands in for ``pynvml.NVMLError``."""


def make_pynvml(energy_mj: list[int], power_mw: int = 70_000, fail: bool = False):
    """A stub of the ``pynvml`` module: each energy read returns the next value."""
    calls: dict[str, int] = {"init": 0, "shutdown": 0, "energy": 0}
    readings = iter(energy_mj)
    last = {"v": energy_mj[0]}

    def init() -> None:
        calls["init"] += 1
        if fail:
            raise FakeNVMLError("Driver Not Loaded")

    def energy(_handle) -> int:
        calls["energy"] += 1
        last["v"] = next(readings, last["v"])
        return last["v"]

    def shutdown() -> None:
        calls["shutdown"] += 1

    return types.SimpleNamespace(
        NVMLError=FakeNVMLError,
        nvmlInit=init,
        nvmlShutdown=shutdown,
        nvmlDeviceGetHandleByIndex=lambda i: f"handle{i}",
        nvmlDeviceGetName=lambda h: b"NVIDIA H100 80GB HBM3",
        nvmlDeviceGetTotalEnergyConsumption=energy,
        nvmlDeviceGetPowerUsage=lambda h: power_mw,
        nvmlDeviceGetEnforcedPowerLimit=lambda h: 700_000,
        calls=calls,
    )


@pytest.fixture
def fake_pynvml():
    """:func:`make_pynvml`: build a stub ``pynvml`` module."""
    return make_pynvml
