"""Decision settings travel in the model file; flags override them; old files still load."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from cardioliquid.decision.settings import DecisionSettings
from cardioliquid.errors import CheckpointError
from cardioliquid.models.checkpoint import load_model, save_model, set_decision
from cardioliquid.models.registry import create_model
from cardioliquid.scoring.batch import ScoreOptions
from cardioliquid.signal.config import BeatPreprocessing, WindowPreprocessing


def _save(path, decision=None, prep=None):
    prep = prep or WindowPreprocessing(fs=128.0, window_s=2.0, hop_s=1.0, channels=["C3"])
    kwargs = {"n_chans": 1, "n_outputs": 2, "n_times": 256, "sfreq": 128.0, "units": 16}
    torch.manual_seed(0)
    model = create_model("liquid-cfc", **kwargs)
    return save_model(path, model, "liquid-cfc", kwargs, prep, {"version": "t"}, decision)


def _header(path):
    with safe_open(str(path), framework="pt") as f:
        return json.loads(f.metadata()["cardioliquid"]), {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118


def test_the_settings_are_their_own_section_of_the_model_file(tmp_path):
    chosen = DecisionSettings(threshold=0.7, smooth_windows=5, min_duration_s=6.0)
    path = _save(tmp_path / "m.safetensors", chosen)
    header, _ = _header(path)
    assert header["decision"] == chosen.to_dict()
    assert "threshold" not in header["preprocessing"]
    assert load_model(path).decision == chosen


def test_a_file_without_the_section_loads_with_the_defaults(tmp_path):
    path = _save(tmp_path / "m.safetensors")
    header, state = _header(path)
    del header["decision"]  # as every file written before the section existed
    old = tmp_path / "old.safetensors"
    save_file(state, str(old), metadata={"cardioliquid": json.dumps(header)})
    assert load_model(old).decision == DecisionSettings()
    # ...and an old arrhythmia file keeps the AF gate its preprocessing named.
    gated = BeatPreprocessing(af_gate=True, af_gate_rule="af_specific")
    assert DecisionSettings.from_legacy(gated) == DecisionSettings(
        af_gate=True, af_gate_rule="af_specific")


def test_a_bad_section_is_refused_naming_the_file(tmp_path):
    path = _save(tmp_path / "m.safetensors")
    header, state = _header(path)
    header["decision"]["threshold"] = 2.0
    bad = tmp_path / "bad.safetensors"
    save_file(state, str(bad), metadata={"cardioliquid": json.dumps(header)})
    with pytest.raises(CheckpointError, match=r"bad.safetensors.*invalid decision settings"):
        load_model(bad)


def test_score_takes_the_model_settings_and_a_flag_overrides_one(tmp_path):
    loaded = load_model(_save(tmp_path / "m.safetensors",
                              DecisionSettings(threshold=0.7, smooth_windows=5)))
    opts = ScoreOptions("seizure", "m", str(tmp_path)).resolve(loaded)
    assert opts.event_settings() == DecisionSettings(threshold=0.7, smooth_windows=5)
    flagged = ScoreOptions("seizure", "m", str(tmp_path), smooth_windows=1).resolve(loaded)
    assert flagged.event_settings() == DecisionSettings(threshold=0.7, smooth_windows=1)
    with pytest.raises(ValueError, match="resolved"):
        ScoreOptions("seizure", "m", str(tmp_path)).event_settings()


def test_evaluate_takes_the_model_settings_and_a_flag_overrides_one(tmp_path, monkeypatch):
    from cardioliquid.cli import main
    from cardioliquid.evaluation import cli
    from cardioliquid.evaluation.seizure import count_recording

    loaded = load_model(_save(tmp_path / "m.safetensors", DecisionSettings(threshold=0.9)))
    (tmp_path / "r.edf").write_bytes(b"")
    seen = []

    def fake_evaluate(path, model, settings, params):
        seen.append(settings)
        return count_recording([], [], 60.0), {"ref": [], "hyp": []}

    monkeypatch.setattr(cli, "_load_model", lambda name: loaded)
    monkeypatch.setattr(cli, "evaluate_seizure_recording", fake_evaluate)
    smooth1 = DecisionSettings(threshold=0.9, smooth_windows=1)
    for flags, want in (([], DecisionSettings(threshold=0.9)),
                        (["--smooth-windows", "1"], smooth1)):
        out = tmp_path / "e.json"
        assert main(["evaluate", "seizure", "--data", str(tmp_path / "r.edf"), "--no-progress",
                     "--json", str(out), *flags]) == 0
        assert seen[-1] == want
        assert json.loads(out.read_text())["events"] == want.event_rule()


def test_set_decision_writes_the_section_and_leaves_every_tensor(tmp_path):
    path = _save(tmp_path / "m.safetensors")
    header, state = _header(path)
    del header["decision"]
    old = tmp_path / "old.safetensors"
    save_file(state, str(old), metadata={"cardioliquid": json.dumps(header)})
    chosen = DecisionSettings(threshold=0.6, smooth_windows=2)
    set_decision(old, chosen)
    new_header, new_state = _header(old)
    assert new_header["decision"] == chosen.to_dict()
    assert {k: v for k, v in new_header.items() if k != "decision"} == header
    assert new_state.keys() == state.keys()
    assert all(torch.equal(new_state[k], state[k]) for k in state)
    assert load_model(old).decision == chosen
    with pytest.raises(CheckpointError, match="not a safetensors"):
        (tmp_path / "x.safetensors").write_bytes(b"not a model")
        set_decision(tmp_path / "x.safetensors", chosen)


@pytest.mark.parametrize("name", ["arrhythmia", "seizure", "seizure-1ch"])
def test_shipped_models_decide_as_score_and_evaluate_always_did(name):
    """The shipped files carry their section, and it holds the rule score and evaluate have
    always applied, with the AF gate the preprocessing names, changed only where the
    training config's ``export_decision`` says so (v8.1: the AF-specific rule that also needs
    inconsistent P waves; v8.2 added an S floor, v9 dropped it; v9.1 reads both leads' P
    waves under the RR test; v10 under the AF-specific rule)."""
    import yaml

    loaded = load_model(name)
    header, _ = _header(loaded.path)
    # A section written before a setting existed lacks its key: the default applies.
    assert DecisionSettings.from_dict(header["decision"]) == loaded.decision
    config = yaml.safe_load(loaded.metadata["config"])
    chosen = config.get("export_decision") or {}
    expected = DecisionSettings.from_legacy(loaded.preprocessing)
    assert loaded.decision == (expected.override(**chosen) if chosen else expected)
    if name == "arrhythmia":
        assert chosen == {"af_gate": True, "af_gate_rule": "af_specific_atrial",
                          "atrial_leads": "max", "sveb_min_proba": 0.0}
    assert loaded.decision.event_rule() == {"threshold": 0.5, "smooth_windows": 3,
                                            "min_duration_s": 0.0}
