"""profile_model and its report: schema, labels, measured vs estimated headline, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from cardioliquid.device import ProfileReport, profile_model
from cardioliquid.device.energy import RaplZone
from cardioliquid.errors import CardioLiquidError, ContractError
from cardioliquid.models.checkpoint import LoadedModel
from cardioliquid.signal.config import BeatPreprocessing, WindowPreprocessing

FAST = {"repeats": 5, "warmup": 1, "batch": 8, "energy_seconds": 0.0}
KEYS = {
    "params", "macs_per_decision", "macs_per_step", "latency_ms", "throughput_per_s",
    "realtime_factor", "peak_memory_mb", "energy_uj_per_decision", "power_mw", "device",
    "energy_estimates", "targets", "bytes", "model",
}  # fmt: skip


@pytest.fixture
def no_rapl(tmp_path: Path) -> Path:
    return tmp_path / "no-powercap"


def test_report_schema_and_labels(tiny_model, no_rapl: Path, tmp_path: Path) -> None:
    threads = torch.get_num_threads()
    report = profile_model(tiny_model, powercap_root=no_rapl, **FAST)
    assert torch.get_num_threads() == threads  # restored
    d = report.to_dict()
    assert set(d) >= KEYS
    json.dumps(d, allow_nan=False)  # plain JSON, no NaN

    assert d["params"]["dense"] == sum(p.numel() for p in tiny_model.parameters())
    assert 0 < d["params"]["effective"] < d["params"]["dense"]
    macs = d["macs_per_decision"]
    assert macs["flop_counter"] == macs["analytic"] > 0
    assert sum(macs["by_op"].values()) == macs["flop_counter"]  # MACs, like the total
    assert 0 < macs["effective"] <= macs["analytic"]
    step = d["macs_per_step"]
    assert step["flop_counter"] == step["analytic"] > 0
    assert step["steps_per_decision"] == 7  # 42 samples / conv stride 6
    # a decision's 7 steps are one sequence (input projections batched): not 7 lone steps,
    # and what it costs is the core's share of the decision
    seq = step["in_sequence"]
    assert seq["per_step"] * 7 + seq["once"] == seq["per_decision"] == macs["by_module"]["rnn"]
    assert seq["per_decision"] != 7 * step["flop_counter"] and "in_sequence" in step["scope"]
    lat = d["latency_ms"]
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] and lat["n"] == 5
    assert lat["per_step"]["n"] == 5
    assert d["throughput_per_s"]["batch"] == 8 and d["throughput_per_s"]["value"] > 0
    assert d["realtime_factor"] > 0 and d["peak_memory_mb"] > 0
    assert d["peak_memory"]["batch"] == 8 and d["peak_memory"]["weights_and_buffers_kb"] > 0
    assert d["device"]["torch"] == torch.__version__ and d["device"]["threads"] == 1

    # Every energy figure is labelled with how it was obtained.
    kinds = {e["kind"] for e in d["energy_estimates"]}
    assert kinds == {"estimated", "projection"}
    for e in d["energy_estimates"]:
        assert e["method"].startswith(e["kind"] + ":")
        assert e["value_uj"] > 0
    assert any("Cortex-M4F" in e["target"] for e in d["energy_estimates"])
    assert any("Cortex-M33" in e["target"] for e in d["energy_estimates"])
    # Without counters the headline is the operation-count estimate, and says so.
    assert d["energy_uj_per_decision"]["method"].startswith("estimated:")
    assert "Horowitz" in d["energy_uj_per_decision"]["method"]
    assert d["power_mw"]["method"].startswith("estimated: assumed rated power")
    assert any(u.startswith("RAPL") for u in d["unavailable"])

    table = report.to_table()
    assert "ENERGY/decision" in table and "Cortex-M33" in table and "not measured: RAPL" in table

    out = report.write_json(tmp_path / "sub" / "profile.json")
    assert json.loads(out.read_text())["params"] == d["params"]
    assert not list(out.parent.glob("*.tmp"))


def test_rapl_counter_becomes_the_headline(
    tiny_model, powercap: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticks = {"n": 0}

    def read_uj(self) -> int:  # each read: 2000 µJ more than the last
        ticks["n"] += 1
        return 2000 * ticks["n"]

    monkeypatch.setattr(RaplZone, "read_uj", read_uj)
    d = profile_model(tiny_model, powercap_root=powercap, **FAST).to_dict()
    head = d["energy_uj_per_decision"]
    assert head["method"].startswith("measured: RAPL package-0")
    assert head["value"] == pytest.approx(2000 / 20)  # one block of 20 decisions
    assert d["power_mw"]["method"].startswith("measured: RAPL")
    assert d["energy_estimates"][0]["kind"] == "measured"


def test_cuda_without_gpu_is_a_clear_error(tiny_model) -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(CardioLiquidError, match="CUDA is not available"):
        profile_model(tiny_model, device="cuda", **FAST)


def test_model_without_contract_is_refused() -> None:
    with pytest.raises(ContractError, match=r"expected a model with a \.contract"):
        profile_model(nn.Linear(3, 2), **FAST)


def test_seizure_model_realtime_and_targets(tiny_model, no_rapl: Path) -> None:
    prep = WindowPreprocessing(fs=60.0, window_s=0.7, hop_s=0.35, classes=["bckg", "sz"])
    loaded = LoadedModel(tiny_model, prep, "tiny", {}, {}, "")
    d = profile_model(loaded, powercap_root=no_rapl, **FAST).to_dict()
    assert d["model"]["task"] == "seizure"
    assert d["realtime"]["signal_seconds_per_decision"] == pytest.approx(0.35)
    assert d["realtime_factor"] == pytest.approx(0.35 / (d["latency_ms"]["p50"] * 1e-3))
    names = [t["name"] for t in d["targets"]]
    assert any("seizure decision < 1 mJ" in n for n in names)
    assert not any("arrhythmia" in n for n in names)
    assert any("EpiDeNet" in n for n in names)


def test_arrhythmia_model_targets_use_stated_heart_rate(tiny_model, no_rapl: Path) -> None:
    loaded = LoadedModel(tiny_model, BeatPreprocessing(), "tiny", {}, {}, "")
    report = profile_model(loaded, powercap_root=no_rapl, heart_rate_bpm=60.0, **FAST)
    assert isinstance(report, ProfileReport)
    d = report.to_dict()
    assert d["realtime"]["signal_seconds_per_decision"] == pytest.approx(1.0)
    macs_target = next(t for t in d["targets"] if "100k MACs" in t["name"])
    assert macs_target["value"] == d["macs_per_decision"]["analytic"]
    assert macs_target["met"] == (macs_target["value"] < 100_000)


def test_a_model_that_fuses_leads_counts_every_leads_forward(tiny_model, no_rapl: Path) -> None:
    one, two = (profile_model(LoadedModel(tiny_model, BeatPreprocessing(fuse_leads=n), "tiny",
                                          {}, {}, ""), powercap_root=no_rapl, **FAST).to_dict()
                for n in (1, 2))
    assert (one["macs_per_decision"]["leads"], two["macs_per_decision"]["leads"]) == (1, 2)
    for key in ("analytic", "flop_counter", "effective", "elementwise_ops"):
        assert two["macs_per_decision"][key] == 2 * one["macs_per_decision"][key]
    assert two["macs_per_step"] == one["macs_per_step"]


def test_gpu_energy_branch_with_stub_nvml(fake_pynvml) -> None:
    # No GPU here: drive the CUDA branch of the energy step directly with a stub NVML.
    from cardioliquid.device.energy import DEFAULT_MCUS
    from cardioliquid.device.profile import _energy_figures

    nv = fake_pynvml([0, 10_000, 10_400])  # probe, before, after: 400 mJ for one block
    macs = {"effective": 10_000, "elementwise_ops": 100, "transcendental_ops": 10}
    figures, unavailable = _energy_figures(
        None, lambda: None, torch.device("cuda", 0), lambda: None, macs, 1e-4, 4.0,
        DEFAULT_MCUS, "/nonexistent", nv, 0.0,
    )  # fmt: skip
    assert unavailable == []
    measured = figures[0]
    assert measured.kind == "measured" and measured.method.startswith("measured: NVML")
    assert measured.value_uj == pytest.approx(400 * 1e3 / 20)  # one block of 20 decisions
    rated = next(f for f in figures if "W/GPU" in f.method)
    assert rated.value_uj == pytest.approx(700.0 * 1e-4 * 1e6)
    assert nv.calls["shutdown"] == 1


def test_gpu_energy_branch_without_nvml(fake_pynvml) -> None:
    from cardioliquid.device.energy import DEFAULT_MCUS
    from cardioliquid.device.profile import _energy_figures

    macs = {"effective": 10_000, "elementwise_ops": 100, "transcendental_ops": 10}
    figures, unavailable = _energy_figures(
        None, lambda: None, torch.device("cuda", 0), lambda: None, macs, 1e-4, 4.0,
        DEFAULT_MCUS, "/nonexistent", fake_pynvml([0], fail=True), 0.0,
    )  # fmt: skip
    assert any(u.startswith("NVML: NVML not readable") for u in unavailable)
    assert all(f.kind != "measured" for f in figures)
    assert not any("W/GPU" in f.method for f in figures)  # no invented GPU power


def test_callers_model_is_left_untouched(tiny_model, no_rapl: Path) -> None:
    tiny_model.train()
    before = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    profile_model(tiny_model, powercap_root=no_rapl, **FAST)
    assert tiny_model.training
    after = tiny_model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
