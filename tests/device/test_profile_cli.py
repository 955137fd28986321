"""``cardioliquid profile``: table on stdout, JSON written, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cardioliquid.cli import main
from cardioliquid.device import profile as profile_mod
from cardioliquid.models.checkpoint import LoadedModel, save_model
from cardioliquid.signal.config import BeatPreprocessing

ARGS = ["--repeats", "5", "--warmup", "1", "--batch", "4"]


@pytest.fixture(autouse=True)
def _no_energy_wait(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # No real counters in tests: point RAPL at an empty tree.
    monkeypatch.setattr(profile_mod, "POWERCAP_ROOT", tmp_path / "no-powercap")


def test_profile_cli_prints_table_and_writes_json(
    tiny_model, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:
    loaded = LoadedModel(tiny_model, BeatPreprocessing(), "tiny", {}, {}, "")
    seen = []
    monkeypatch.setattr(profile_mod, "load_model", lambda name: seen.append(name) or loaded)
    out = tmp_path / "p.json"
    assert main(["profile", "--model", "some-model", "--json", str(out), *ARGS]) == 0
    assert seen == ["some-model"]
    text = capsys.readouterr().out
    assert "ENERGY/decision" in text and "method" in text and f"wrote {out}" in text
    d = json.loads(out.read_text())
    assert d["latency_ms"]["n"] == 5 and d["throughput_per_s"]["batch"] == 4
    assert d["energy_uj_per_decision"]["method"].startswith("estimated:")


def test_profile_cli_on_a_saved_checkpoint(tmp_path: Path, capsys) -> None:
    from cardioliquid.models.registry import create_model
    from cardioliquid.signal.windows import n_beat_features

    prep = BeatPreprocessing(fs=90.0)
    kwargs = {"n_chans": 1, "n_outputs": 5, "n_times": prep.n_times, "sfreq": prep.fs,
              "n_features": n_beat_features(prep), "units": 12}  # fmt: skip
    path = save_model(tmp_path / "tiny.safetensors", create_model("liquid-cfc", **kwargs),
                      "liquid-cfc", kwargs, prep)  # fmt: skip
    out = tmp_path / "p.json"
    assert main(["profile", "--model", str(path), "--json", str(out), *ARGS]) == 0
    d = json.loads(out.read_text())
    assert d["bytes"]["file"] == path.stat().st_size
    assert d["model"]["task"] == "arrhythmia" and d["model"]["model_name"] == "liquid-cfc"
    assert d["macs_per_decision"]["flop_counter"] == d["macs_per_decision"]["analytic"]
    assert "tiny" in capsys.readouterr().out


def test_profile_cli_bad_checkpoint_exits_2(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"not a safetensors file")
    assert main(["profile", "--model", str(bad), *ARGS]) == 2
    err = capsys.readouterr().err
    assert "cardioliquid profile: error:" in err and "broken.safetensors" in err


def test_profile_cli_cuda_without_gpu_exits_2(
    tiny_model, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(profile_mod, "load_model", lambda name: tiny_model)
    assert main(["profile", "--device", "cuda", *ARGS]) == 2
    assert "CUDA is not available" in capsys.readouterr().err
