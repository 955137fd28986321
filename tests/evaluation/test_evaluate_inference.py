"""The CLI through the real inference (predict_beats / predict_windows) with tiny fixed nets."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from cardioliquid.decision.settings import DecisionSettings
from cardioliquid.evaluation import cli
from cardioliquid.io.recording import Recording
from cardioliquid.models.checkpoint import LoadedModel
from cardioliquid.signal.config import BeatPreprocessing, WindowPreprocessing


class AlwaysNormal(nn.Module):
    """Calls every beat N."""

    def forward(self, x: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        logits = torch.full((x.shape[0], 5), -5.0)
        logits[:, 0] = 5.0
        return logits


class Loudness(nn.Module):
    """Seizure when the window's RMS is high (seizure-like rhythmic activity)."""

    def forward(self, x: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        rms = x.pow(2).mean(dim=(1, 2)).sqrt()
        return torch.stack([torch.zeros_like(rms), 40.0 * (rms - 0.3)], dim=1)


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return cli.run(parser.parse_args(argv))


def test_arrhythmia_through_predict_beats(ecg_folder: Path, tmp_path: Path, monkeypatch) -> None:
    loaded = LoadedModel(AlwaysNormal(), BeatPreprocessing(), "always-normal", {})
    monkeypatch.setattr(cli, "_load_model", lambda name: loaded)
    out = tmp_path / "r.json"
    assert (
        _run(
            [
                "arrhythmia",
                "--data",
                str(ecg_folder),
                "--records",
                "r1,r2",
                "--json",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    res = json.loads(out.read_text())
    assert res["n_beats"] == 160 and res["qrs"]["se"] == 100.0
    conf = np.array(res["confusion"])
    assert conf[:, 1:].sum() == 0 and conf[:, 0].sum() == 160  # everything called N
    assert res["classes"]["N"]["se"] == 100.0 and res["veb"]["tp"] == 0
    assert res["veb"]["se"] == 0.0 and res["veb"]["ppv"] is None


def test_seizure_through_predict_windows(tmp_path: Path, monkeypatch) -> None:
    fs, dur = 256.0, 600.0
    t = np.arange(int(fs * dur)) / fs
    rng = np.random.default_rng(0)
    x = 10.0 * rng.standard_normal((2, len(t)))
    ictal = (t >= 200) & (t < 260)
    x[:, ictal] += 150.0 * np.sin(2 * np.pi * 5 * t[ictal])
    rec = Recording(
        x.astype(np.float32),
        fs,
        ["C3", "C4"],
        "uV",
        "synth",
        "p1",
        "eeg",
        "synth.edf",
        seizures=[(200.0, 260.0)],
        meta={"seizure_source": "argument"},
    )
    (tmp_path / "synth.edf").write_bytes(b"")
    monkeypatch.setattr("cardioliquid.evaluation.run.load_recording", lambda path: rec)
    prep = WindowPreprocessing(fs=128.0, window_s=2.0, hop_s=1.0)
    monkeypatch.setattr(
        cli, "_load_model", lambda name: LoadedModel(Loudness(), prep, "loudness", {})
    )
    out = tmp_path / "s.json"
    assert (
        _run(
            ["seizure", "--data", str(tmp_path / "synth.edf"), "--json", str(out), "--no-progress"]
        )
        == 0
    )
    res = json.loads(out.read_text())
    assert res["event"]["tp"] == 1 and res["event"]["fp"] == 0
    assert res["window"]["se"] > 90 and res["window"]["sp"] > 95
    assert res["latency_s"]["per_seizure"][0] == pytest.approx(0.0, abs=3.0)


def _score(records: list[Path], out: Path, weights: Path) -> None:
    """`cardioliquid score` (reference beats) with AlwaysNormal stored as ``weights``."""
    from cardioliquid.scoring.batch import ScoreOptions, score_paths

    loaded = LoadedModel(AlwaysNormal(), BeatPreprocessing(), "always-normal", {},
                         path=str(weights), decision=DecisionSettings(af_gate=True))
    opts = ScoreOptions(task="arrhythmia", model=str(weights), out_dir=str(out),
                        beats="reference", parquet=False)
    score_paths(records, opts, progress=False, loaded=loaded)


def test_predictions_state_the_model_that_made_them(ecg_folder: Path, tmp_path: Path) -> None:
    """A `score` folder's summary.json and manifests give the model's SHA-256 and AF gate."""
    import hashlib

    weights = tmp_path / "normal.safetensors"
    weights.write_bytes(b"stand-in weights")
    pred = tmp_path / "pred"
    _score([ecg_folder / "r1.hea", ecg_folder / "r2.hea"], pred, weights)
    out, md = tmp_path / "p.json", tmp_path / "p.md"
    argv = ["arrhythmia", "--data", str(ecg_folder), "--records", "r1,r2", "--predictions",
            str(pred), "--json", str(out), "--report", str(md), "--no-progress"]
    assert _run(argv) == 0
    res = json.loads(out.read_text())
    assert res["source"] == "predictions" and res["model"] == "normal"
    assert res["model_sha256"] == hashlib.sha256(b"stand-in weights").hexdigest()
    assert res["af_gate"] is True and res["beats"] == "reference"
    assert res["predictions"]["folder"] == str(pred) and res["predictions"]["note"] is None
    assert res["n_beats"] == 160 and np.array(res["confusion"])[:, 0].sum() == 160
    text = md.read_text()
    assert f"**calls**: read from `cardioliquid score` predictions in `{pred}`" in text
    assert "**AF gate**: on" in text
    # The same folder scored again for r2 with other weights: r1's model is no longer known.
    weights.write_bytes(b"other weights")
    _score([ecg_folder / "r2.hea"], pred, weights)
    assert _run(argv) == 0
    res = json.loads(out.read_text())
    assert res["model_sha256"] is None and res["model"] == str(pred)
    assert "1 of 2 records (r1)" in res["predictions"]["note"]
    assert res["af_gate"] is True  # both runs' manifests say the gate was on
