"""Small, seeded fits on in-memory arrays (evaluation protocols, adaptation studies).

The shipped models are trained through ``cardioliquid-train``; the seizure
evaluation protocols need many tiny fits (one per held-out seizure or
patient), which this module runs with the same LightningModule, a fixed
number of epochs (no selection on the held-out data) and no logging.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import lightning as L
import numpy as np
import torch

from cardioliquid.models.checkpoint import LoadedModel
from cardioliquid.signal.config import preprocessing_from_dict
from cardioliquid.training.datamodules.arrays import ArrayDataModule
from cardioliquid.training.module import LiquidClassifierModule


def fit_arrays(
    dm: ArrayDataModule,
    model_name: str = "liquid-cfc",
    model_kwargs: dict[str, Any] | None = None,
    max_epochs: int = 10,
    lr: float = 5e-3,
    seed: int = 0,
    class_weight_power: float = 1.0,
    key_classes: list[str] | None = None,
) -> LiquidClassifierModule:
    """Fit a fresh classifier on ``dm`` for ``max_epochs`` (deterministic, quiet).

    Returns the module as it is after the last epoch (no checkpoint selection,
    so no held-out data steers the result).
    """
    L.seed_everything(seed, verbose=False)
    module = LiquidClassifierModule(
        model_name, dict(model_kwargs or {}), n_chans=dm.n_chans, n_outputs=dm.n_outputs,
        n_times=dm.n_times, sfreq=dm.sfreq, n_features=dm.n_features,
        preprocessing=dm.preprocessing_dict, class_weight_power=class_weight_power, lr=lr,
        key_classes=key_classes,
    )
    with tempfile.TemporaryDirectory() as tmp:
        trainer = L.Trainer(
            max_epochs=max_epochs, accelerator="cpu", devices=1, deterministic=True,
            logger=False, enable_checkpointing=False, enable_progress_bar=False,
            enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
            default_root_dir=tmp,
        )
        trainer.fit(module, dm)
    module.eval()
    return module


def to_loaded(
    module: LiquidClassifierModule, metadata: dict[str, Any] | None = None
) -> LoadedModel:
    """Wrap a trained module as a :class:`LoadedModel` (what scoring and evaluation take)."""
    hp = module.hparams
    return LoadedModel(
        module.model.eval(), preprocessing_from_dict(dict(hp["preprocessing"])),
        hp["model_name"], dict(hp["model_kwargs"]), dict(metadata or {}), "",
    )


@torch.no_grad()
def predict_proba(module: torch.nn.Module, x: np.ndarray, batch: int = 512) -> np.ndarray:
    """Class probabilities of windows ``x`` (n, C, T) without features."""
    model = getattr(module, "model", module).eval()
    out = [torch.softmax(model(torch.from_numpy(x[i : i + batch])), -1).numpy()
           for i in range(0, len(x), batch)]
    return np.concatenate(out) if out else np.zeros((0, 2), np.float32)


def set_threads() -> None:
    """Use the cores we were given (``OMP_NUM_THREADS`` or 2)."""
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
