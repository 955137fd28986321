"""What every DataModule shares: the sampler, one augmentation setting, explicit empty splits."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import lightning as L
import numpy as np
import pytest
import torch

from cardioliquid.errors import CardioLiquidError
from cardioliquid.signal.config import BeatPreprocessing, WindowPreprocessing
from cardioliquid.training.datamodules import (
    ArrayDataModule,
    Augmentation,
    BeatSequenceDataModule,
    BonnDataModule,
    MITBIHBeatDataModule,
    Sampling,
    SeizureDataModule,
    SyntheticDataModule,
)


def test_synthetic_shapes_and_weighted_sampler_rebalances():
    dm = SyntheticDataModule(n_train=300, n_classes=3,
                             sampling=Sampling(batch_size=32, sampler="weighted"))
    dm.setup("fit")
    # Make the training labels very unbalanced, then check the sampler evens them out.
    x, f, y = dm.train_set.tensors
    y = torch.where(torch.arange(len(y)) < 270, torch.zeros_like(y), y)
    dm.train_set = torch.utils.data.TensorDataset(x, f, y)
    dm.sampling = replace(dm.sampling, sampler_power=1.0)
    drawn = torch.cat([b[2] for b in dm.train_dataloader()])
    frac0 = (drawn == 0).float().mean()
    assert frac0 < 0.6  # 90 % of the data, about a third of the draws
    assert dm.class_counts().tolist() == torch.bincount(y, minlength=3).tolist()


def test_sampling_refuses_an_unknown_sampler():
    with pytest.raises(ValueError, match="Allowed values are 'weighted', 'shuffle'"):
        Sampling(sampler="balanced")


def test_training_batches_are_augmented_during_fit_only():
    """The hook must see the trainer: augmentation runs on training batches, not on eval."""
    seen: dict[str, list[torch.Tensor]] = {"train": [], "val": []}

    class Probe(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def training_step(self, batch, _):
            seen["train"].append(batch[0])
            return (self.w * batch[0].mean()).sum()

        def validation_step(self, batch, _):
            seen["val"].append(batch[0])

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.0)

    dm = SyntheticDataModule(n_train=32, n_val=32, noise=0.0,
                             augmentation=Augmentation(scale=0.0, noise=0.5, wander=0.0))
    L.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_progress_bar=False,
              enable_checkpointing=False, enable_model_summary=False,
              num_sanity_val_steps=0).fit(Probe(), dm)
    clean = {k: dm.make(32, dm.seed + i).tensors[0] for i, k in enumerate(("train", "val"))}
    assert torch.equal(seen["val"][0], clean["val"])
    drawn = seen["train"][0]
    assert drawn.shape == clean["train"].shape
    assert (drawn.std() - clean["train"].std()).abs() > 0.1  # noise of sd 0.5 was added


def _every_datamodule(augmentation: Augmentation) -> list[L.LightningDataModule]:
    beat = BeatPreprocessing(fs=100.0)
    eeg = WindowPreprocessing(fs=100.0, channels=[])
    x = np.zeros((4, 1, beat.n_times), np.float32)
    return [
        SyntheticDataModule(fs=100.0, augmentation=augmentation),
        ArrayDataModule((x, np.zeros(4, np.int64)), (x, np.zeros(4, np.int64)), beat,
                        augmentation=augmentation),
        MITBIHBeatDataModule(preprocessing=beat, augmentation=augmentation),
        BeatSequenceDataModule(preprocessing=beat, augmentation=augmentation,
                               sampling=Sampling(sampler="shuffle")),
        SeizureDataModule(preprocessing=eeg, augmentation=augmentation),
        BonnDataModule(preprocessing=eeg, augmentation=augmentation),
    ]


@pytest.mark.parametrize("enabled", [True, False])
def test_one_augmentation_setting_drives_every_datamodule_the_same_way(enabled):
    setting = Augmentation(enabled=enabled, scale=0.3, noise=0.1, wander=0.2, shift=2)
    x = torch.randn(6, 1, 40)
    torch.manual_seed(7)
    expected = setting.apply(x, 100.0)
    training = SimpleNamespace(training=True)
    for dm in _every_datamodule(setting):
        assert dm.augmentation is setting and dm.sfreq == 100.0
        dm.trainer = training
        torch.manual_seed(7)
        if isinstance(dm, BeatSequenceDataModule):  # runs of beats: each beat is a window
            runs = x.reshape(2, 3, 1, 40)
            out = dm.on_after_batch_transfer((runs, torch.zeros(2, 3, 1), torch.zeros(2, 3)), 0)
            got = out[0].reshape(x.shape)
        else:
            got = dm.on_after_batch_transfer((x, torch.zeros(6)), 0)[0]
        assert torch.equal(got, expected), type(dm).__name__
        dm.trainer = SimpleNamespace(training=False)  # evaluation batches: never
        assert dm.on_after_batch_transfer((x, torch.zeros(6)), 0)[0] is x


def test_missing_test_arrays_mean_no_test_stage():
    x = np.zeros((4, 1, 20), np.float32)
    y = np.zeros(4, np.int64)
    dm = ArrayDataModule((x, y), (x, y), BeatPreprocessing(fs=40.0, pre_s=0.25, post_s=0.25))
    assert len(dm.val_dataloader().dataset) == 4
    with pytest.raises(CardioLiquidError, match=r"has no test data: no test arrays"):
        dm.test_dataloader()
    with pytest.raises(CardioLiquidError, match="no test arrays"):
        dm.predict_dataloader()
