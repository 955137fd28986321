"""cardioliquid-train: configs parse; a synthetic fit links shapes, saves config, exports."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cardioliquid.models.checkpoint import load_model
from cardioliquid.training.cli import TrainCLI, main
from cardioliquid.training.datamodules import Augmentation, Sampling
from cardioliquid.training.module import LiquidClassifierModule

REPO = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO / "pipelines" / "configs"
CONFIGS = sorted(CONFIG_DIR.glob("*.yaml"))
# Every config in the tree, add-ons stacked onto the recipe they extend.
EVERY_CONFIG = [[p] for p in CONFIGS + sorted(CONFIG_DIR.glob("arrhythmia-candidates/*.yaml"))] + [
    [CONFIG_DIR / "arrhythmia.yaml", p] for p in sorted(CONFIG_DIR.glob("add-ons/*.yaml"))]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_shipped_configs_parse(config, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["fit", "--config", str(config), "--print_config"])
    assert exc.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["trainer"]["deterministic"] is True
    assert printed["seed_everything"] == 0
    assert printed["data"]["class_path"].startswith("cardioliquid.training.datamodules.")
    # Selection, where a config has any, is on validation data; a config without a
    # monitor keeps the final epoch (its epoch count was chosen by cross-validation).
    monitors = [cb["init_args"].get("monitor") for cb in printed["trainer"]["callbacks"]]
    assert all(m is None or m.startswith("val/") for m in monitors)


@pytest.mark.parametrize("configs", EVERY_CONFIG,
                         ids=lambda c: "+".join(p.relative_to(CONFIG_DIR).as_posix() for p in c))
def test_every_config_builds_its_datamodule_and_model_without_training(configs, tmp_path,
                                                                       monkeypatch):
    """Parse through the CLI parser and instantiate (no data is read, nothing is trained)."""
    monkeypatch.chdir(tmp_path)  # loggers and checkpoints would go under ./runs
    args = [a for p in configs for a in ("--config", str(p))]
    cli = TrainCLI(LiquidClassifierModule, datamodule_class=None, subclass_mode_data=True,
                   run=False, args=[*args, "--trainer.logger", "false"],
                   auto_configure_optimizers=False, save_config_callback=None)
    dm = cli.datamodule
    assert type(dm).__module__.startswith("cardioliquid.training.datamodules.")
    assert isinstance(dm.sampling, Sampling) and isinstance(dm.augmentation, Augmentation)
    assert cli.model.hparams["model_kwargs"]["n_times"] == dm.n_times  # linked from the data
    assert cli.model.hparams["preprocessing"] == dm.preprocessing_dict


def test_a_partial_block_keeps_the_datamodules_own_defaults(capsys):
    """seizure.yaml names two sampling fields; the others are SeizureDataModule's."""
    with pytest.raises(SystemExit):
        main(["fit", "--config", str(CONFIG_DIR / "seizure.yaml"), "--print_config"])
    init = yaml.safe_load(capsys.readouterr().out)["data"]["init_args"]
    assert init["sampling"] == {"batch_size": 32, "eval_batch_size": 256, "sampler": "weighted",
                                "sampler_power": 1.0, "num_workers": 0}
    assert init["augmentation"] == {"enabled": False, "scale": 0.2, "noise": 0.02,
                                    "wander": 0.0, "shift": 0, "heart_rate": 0.0,
                                    "stretch": 0.0, "record_reference": 0.0}
    assert init["test_patients"] == ["chb03"]


def test_fit_links_data_shape_saves_config_and_exports(tmp_path, model_name, make_config):
    cfg = make_config(tmp_path, model_name)
    out = tmp_path / "model.safetensors"
    main(["fit", "--config", str(cfg), "--export_to", str(out),
          "--export_metadata", '{"data": "synthetic"}',
          "--export_decision", '{"af_gate": true, "af_gate_rule": "af_specific"}'])
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
    # The decision settings the config names are the file's own.
    assert loaded.decision.af_gate and loaded.decision.af_gate_rule == "af_specific"


def test_help_names_the_shipped_configs_and_the_data_sources(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for config in ("arrhythmia.yaml", "seizure.yaml", "seizure-1ch.yaml"):
        assert config in text and (REPO / "pipelines" / "configs" / config).is_file()
    assert "BeatSequenceDataModule" in text and "BonnDataModule" in text
    assert "cardioliquid-train fit --config pipelines/configs/arrhythmia.yaml" in text
