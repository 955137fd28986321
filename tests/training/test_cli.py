"""cardioliquid-train: configs parse; a synthetic fit links shapes, saves config, exports."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cardioliquid.models.checkpoint import load_model
from cardioliquid.training.cli import main

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "pipelines" / "configs").glob("*.yaml"))


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_shipped_configs_parse(config, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["fit", "--config", str(config), "--print_config"])
    assert exc.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["trainer"]["deterministic"] is True
    assert printed["seed_everything"] == 0
    assert printed["data"]["class_path"].startswith("cardioliquid.training.")
    # Selection, where a config has any, is on validation data; a config without a
    # monitor keeps the final epoch (its epoch count was chosen by cross-validation).
    monitors = [cb["init_args"].get("monitor") for cb in printed["trainer"]["callbacks"]]
    assert all(m is None or m.startswith("val/") for m in monitors)


def test_fit_links_data_shape_saves_config_and_exports(tmp_path, model_name, make_config):
    cfg = make_config(tmp_path, model_name)
    out = tmp_path / "model.safetensors"
    main(["fit", "--config", str(cfg), "--export_to", str(out),
          "--export_metadata", '{"data": "synthetic"}'])
    saved = list((tmp_path / "runs").rglob("config.yaml"))
    assert saved, "LightningCLI must save the resolved config with the run"
    assert list((tmp_path / "runs").rglob("*.ckpt"))
    loaded = load_model(out)
    # Shapes came from the DataModule through link_arguments.
    assert loaded.model_kwargs["n_outputs"] == 3
    assert loaded.model_kwargs["n_chans"] == 1
    assert loaded.model_kwargs["n_features"] == 2
    assert loaded.classes == ["N", "S", "V"]
    assert loaded.metadata["data"] == "synthetic"
    assert loaded.metadata["n_params"] > 0
    assert "val/macro_f1" in " ".join(loaded.metadata)


def test_help_names_the_shipped_configs_and_the_data_sources(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for config in ("arrhythmia.yaml", "seizure.yaml", "seizure-1ch.yaml"):
        assert config in text and (REPO / "pipelines" / "configs" / config).is_file()
    assert "BeatSequenceDataModule" in text and "BonnDataModule" in text
    assert "cardioliquid-train fit --config pipelines/configs/arrhythmia.yaml" in text
