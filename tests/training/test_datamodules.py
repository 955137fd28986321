"""DataModules: patient splits, loaders, sampler, augmentation on synthetic data."""

from __future__ import annotations

import pytest
import torch

from cardioliquid.training.augment import augment_batch
from cardioliquid.training.datamodules import (
    BonnDataModule,
    MITBIHBeatDataModule,
    SeizureDataModule,
    SyntheticDataModule,
)


def test_synthetic_shapes_and_weighted_sampler_rebalances():
    dm = SyntheticDataModule(n_train=300, n_classes=3, sampler="weighted")
    dm.setup("fit")
    # Make the training labels very unbalanced, then check the sampler evens them out.
    x, f, y = dm.train_set.tensors
    y = torch.where(torch.arange(len(y)) < 270, torch.zeros_like(y), y)
    dm.train_set = torch.utils.data.TensorDataset(x, f, y)
    dm.sampler_power = 1.0
    drawn = torch.cat([b[2] for b in dm.train_dataloader()])
    frac0 = (drawn == 0).float().mean()
    assert frac0 < 0.6  # 90 % of the data, about a third of the draws
    assert dm.class_counts().tolist() == torch.bincount(y, minlength=3).tolist()


def test_augmentation_keeps_shape_and_changes_values():
    x = torch.zeros(8, 1, 100)
    out = augment_batch(x + 1.0, fs=100.0, scale=0.2, noise=0.05, wander=0.1,
                        generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert not torch.allclose(out, x + 1.0)
    # Gains stay within [1/1.2, 1.2] around the unit signal before noise/wander.
    assert out.mean().abs().item() == pytest.approx(1.0, abs=0.25)
    same = augment_batch(x, fs=100.0, scale=0, noise=0, wander=0)
    assert torch.equal(same, x)


def test_mitbih_validation_is_carved_from_training_patients(monkeypatch):
    splits = pytest.importorskip("cardioliquid.data.splits")
    dm = MITBIHBeatDataModule(train_records="DS1", test_records="DS2",
                              val_patients=["118", "220"])
    s = dm.split_records()
    assert set(s["val"]) == {"118", "220"}
    assert not set(s["val"]) & set(s["train"])
    assert set(s["train"]) | set(s["val"]) == {str(r) for r in splits.DS1}
    assert set(s["test"]) == {str(r) for r in splits.DS2}
    with pytest.raises(ValueError, match="never from test"):
        MITBIHBeatDataModule(val_patients=["100"]).split_records()


def test_seizure_split_is_by_patient(tmp_path):
    for name in ["chb01_03_onset.edf", "chb01_26_ictal.edf", "chb02_16_ictal.edf",
                 "chb03_01_ictal.edf"]:
        (tmp_path / name).write_bytes(b"")
    dm = SeizureDataModule(data_dir=str(tmp_path), val_records=["chb01_26"])
    s = {k: [p.name for p in v] for k, v in dm.split_files().items()}
    assert s == {"train": ["chb01_03_onset.edf", "chb02_16_ictal.edf"],
                 "val": ["chb01_26_ictal.edf"], "test": ["chb03_01_ictal.edf"]}
    assert dm.n_chans == 18
    with pytest.raises(ValueError, match="both training"):
        SeizureDataModule(train_patients=["chb03"], test_patients=["chb03"])


def test_bonn_segment_split_is_disjoint_and_stratified(tmp_path):
    for folder, letter in BonnDataModule.SETS.items():
        d = tmp_path / letter
        d.mkdir()
        for i in range(20):
            (d / f"{folder}{i:03d}.txt").write_text("0\n")
    dm = BonnDataModule(data_dir=str(tmp_path), val_fraction=0.15, test_fraction=0.2)
    dm.prepare_data()
    s = dm.split_segments()
    names = [set(p.name for p in v) for v in s.values()]
    assert not (names[0] & names[1]) and not (names[0] & names[2]) and not (names[1] & names[2])
    assert sum(len(v) for v in s.values()) == 100
    assert sum(p.parent.name == "E_S" for p in s["test"]) == 4  # 20 % of each set
    assert dm.split_segments() == s  # seeded


def test_mitbih_refuses_patient_leakage_beyond_the_published_201_202_pair():
    pytest.importorskip("cardioliquid.data.splits")
    from cardioliquid.errors import CardioLiquidError

    MITBIHBeatDataModule(train_records="DS1", test_records="DS2").split_records()
    with pytest.raises(CardioLiquidError, match="leakage"):
        MITBIHBeatDataModule(train_records="DS1", test_records="DS2",
                             shared_patients=[]).split_records()
    with pytest.raises(CardioLiquidError, match="leakage"):
        MITBIHBeatDataModule(train_records=["100", "101"], test_records=["100"]).split_records()


def test_shift_augmentation_moves_a_spike_within_the_limit():
    x = torch.zeros(64, 1, 50)
    x[:, 0, 25] = 1.0
    out = augment_batch(x, fs=100.0, scale=0, noise=0, wander=0, shift=3,
                        generator=torch.Generator().manual_seed(0))
    peaks = out[:, 0].argmax(-1) - 25
    assert peaks.abs().max() <= 3
    assert len(set(peaks.tolist())) > 3  # lags are drawn per example
    assert torch.allclose(out.sum(-1), torch.ones(64, 1))  # shifted, not smeared
    ramp = torch.arange(10.0).view(1, 1, 10)
    edge = augment_batch(ramp, fs=100.0, scale=0, noise=0, wander=0, shift=2,
                         generator=torch.Generator().manual_seed(1))
    assert set(edge.flatten().tolist()) <= set(range(10))  # edges repeat real samples


def test_training_batches_are_augmented_during_fit_only():
    """The hook must see the trainer: augmentation runs on training batches, not on eval."""
    import lightning as L

    from cardioliquid.training.datamodules import SyntheticDataModule

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

    dm = SyntheticDataModule(n_train=32, n_val=32, noise=0.0, augment=True, batch_size=32)
    dm.aug = {"scale": 0.0, "noise": 0.5, "wander": 0.0, "shift": 0}
    L.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_progress_bar=False,
              enable_checkpointing=False, enable_model_summary=False,
              num_sanity_val_steps=0).fit(Probe(), dm)
    clean = {k: dm._make(32, dm.seed + i).tensors[0] for i, k in enumerate(("train", "val"))}
    assert torch.equal(seen["val"][0], clean["val"])
    drawn = seen["train"][0]
    assert drawn.shape == clean["train"].shape
    assert (drawn.std() - clean["train"].std()).abs() > 0.1  # noise of sd 0.5 was added


def test_irregular_rhythm_augmentation_rewrites_normal_beats_consistently():
    from cardioliquid.signal.config import BeatPreprocessing
    from cardioliquid.signal.windows import beat_feature_names
    from cardioliquid.training.augment import irregular_rhythm_features

    names = beat_feature_names(BeatPreprocessing(rr_feature_set="robust", template_features=True))
    n = 4000
    feats = torch.ones(n, len(names))  # a perfectly regular rhythm
    feats[:, names.index("local_median_over_record_median")] = 0.8
    feats[:, names.index("template_corr")] = 0.99
    labels = torch.zeros(n, dtype=torch.long)
    labels[::2] = 1  # half are S: never touched
    gen = torch.Generator().manual_seed(0)
    out = irregular_rhythm_features(feats, labels, names, 0.5, generator=gen)
    changed = (out != feats).any(1)
    assert not changed[labels == 1].any()
    assert 0.4 < changed[labels == 0].float().mean() < 0.6  # half of the N beats
    c = out[changed]
    col = {k: c[:, names.index(k)] for k in names}
    torch.testing.assert_close(col["post_over_pre"],
                               col["post_over_local_median"] / col["pre_over_local_median"])
    torch.testing.assert_close(col["pre_over_record_median"], col["pre_over_local_median"] * 0.8)
    assert ((col["local_rr_mad"] >= 0.08) & (col["local_rr_mad"] <= 0.2)).all()
    assert (col["pre_over_local_median"] < 0.8).float().mean() > 0.1  # "premature" yet N
    assert torch.equal(col["template_corr"], torch.full((len(c),), 0.99))  # morphology kept
    with pytest.raises(ValueError, match="robust"):
        irregular_rhythm_features(feats, labels, ("pre_rr_s",), 0.5)
    with pytest.raises(ValueError, match="aug_irregular"):
        MITBIHBeatDataModule(preprocessing=BeatPreprocessing(rr_feature_set="rhythm"),
                             aug_irregular=0.1)
