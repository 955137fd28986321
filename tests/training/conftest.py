"""Training fixtures: the liquid classifier's name, and tiny synthetic configs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

MODEL_NAME = "liquid-cfc"
"""The liquid classifier every training test fits (a broken one fails them, never skips)."""


def synthetic_config(tmp_path: Path, model_name: str, epochs: int = 2) -> Path:
    """A tiny cardioliquid-train config on synthetic data (CLI and DDP tests)."""
    cfg = {
        "seed_everything": 0,
        "trainer": {
            "accelerator": "cpu", "devices": 1, "max_epochs": epochs, "deterministic": True,
            "default_root_dir": str(tmp_path / "runs"), "enable_progress_bar": False,
            "logger": {"class_path": "lightning.pytorch.loggers.CSVLogger",
                       "init_args": {"save_dir": str(tmp_path / "runs"), "name": ""}},
            "callbacks": [{"class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                           "init_args": {"monitor": "val/macro_f1", "mode": "max"}}],
        },
        "model": {"model_name": model_name, "model_kwargs": {"units": 12}, "lr": 0.01},
        "data": {"class_path": "cardioliquid.training.datamodules.SyntheticDataModule",
                 "init_args": {"n_train": 96, "n_val": 32, "n_classes": 3}},
    }  # fmt: skip
    path = tmp_path / "synthetic.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def resolve_model_name() -> str:
    """``liquid-cfc``: the package's own liquid classifier, registered at import."""
    return MODEL_NAME


@pytest.fixture
def model_name() -> str:
    """``liquid-cfc``: the package's own liquid classifier, registered at import."""
    return resolve_model_name()


@dataclass(frozen=True)
class SyntheticRun:
    """A finished one-epoch ``cardioliquid-train fit`` on synthetic data."""

    folder: Path
    config: Path
    checkpoint: Path
    model_name: str


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory) -> SyntheticRun:
    """One short synthetic fit per test module, for the commands that start from a run."""
    from cardioliquid.training.cli import main

    folder = tmp_path_factory.mktemp("synthetic_run")
    name = resolve_model_name()
    config = synthetic_config(folder, name, epochs=1)
    assert main(["fit", "--config", str(config)]) == 0
    (checkpoint,) = (folder / "runs").rglob("*.ckpt")
    return SyntheticRun(folder, config, checkpoint, name)


@pytest.fixture
def make_config() -> Callable[..., Path]:
    """Factory: ``make_config(tmp_path, model_name, epochs=2)`` -> a synthetic config path."""
    return synthetic_config
