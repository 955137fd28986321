"""MIT-BIH beats: validation carved from training patients, no leakage, explicit empty splits."""

from __future__ import annotations

import numpy as np
import pytest

from cardioliquid.data import splits
from cardioliquid.errors import CardioLiquidError
from cardioliquid.signal.config import BeatPreprocessing
from cardioliquid.training.datamodules import mitbih
from cardioliquid.training.datamodules.mitbih import MITBIHBeatDataModule


def test_mitbih_validation_is_carved_from_training_patients():
    dm = MITBIHBeatDataModule(train_records="DS1", test_records="DS2",
                              val_patients=["118", "220"])
    s = dm.split_records()
    assert set(s["val"]) == {"118", "220"}
    assert not set(s["val"]) & set(s["train"])
    assert set(s["train"]) | set(s["val"]) == {str(r) for r in splits.DS1}
    assert set(s["test"]) == {str(r) for r in splits.DS2}
    with pytest.raises(ValueError, match="never from test"):
        MITBIHBeatDataModule(val_patients=["100"]).split_records()


def test_mitbih_refuses_patient_leakage_beyond_the_published_201_202_pair():
    MITBIHBeatDataModule(train_records="DS1", test_records="DS2").split_records()
    with pytest.raises(CardioLiquidError, match="leakage"):
        MITBIHBeatDataModule(train_records="DS1", test_records="DS2",
                             shared_patients=[]).split_records()
    with pytest.raises(CardioLiquidError, match="leakage"):
        MITBIHBeatDataModule(train_records=["100", "101"], test_records=["100"]).split_records()


def test_irregular_rhythm_augmentation_needs_the_robust_rr_set():
    with pytest.raises(ValueError, match="aug_irregular"):
        MITBIHBeatDataModule(preprocessing=BeatPreprocessing(rr_feature_set="rhythm"),
                             aug_irregular=0.1)


@pytest.fixture
def fake_beats(monkeypatch) -> list[str]:
    """Records read as 10 beats each (no files): the names asked for, in order."""
    asked: list[str] = []

    def record_beats(path, prep, cache_dir, keep_unlabelled):
        asked.append(path.name)
        n = 10
        return (np.zeros((n, 1, prep.n_times), np.float32),
                np.zeros((n, mitbih.n_beat_features(prep)), np.float32),
                np.arange(n, dtype=np.int64) % 2)

    monkeypatch.setattr(mitbih, "record_beats", record_beats)
    return asked


def test_empty_validation_and_test_splits_are_never_filled_from_training(fake_beats):
    dm = MITBIHBeatDataModule(train_records=["100", "101"], test_records=[], val_patients=[],
                              cache_dir=None)
    dm.setup(None)
    assert fake_beats == ["100", "101"]  # training records only, each once
    assert len(dm.dataset("train")) == 20 and dm.val_set is None and dm.test_set is None
    with pytest.raises(CardioLiquidError, match="no val data: val_patients is empty"):
        dm.val_dataloader()
    with pytest.raises(CardioLiquidError, match=r"no test data: test_records is \[\]"):
        dm.test_dataloader()
    with pytest.raises(CardioLiquidError, match="no training data: train_records"):
        MITBIHBeatDataModule(train_records=["100"], test_records=[], val_patients=["100"],
                             cache_dir=None).setup("fit")
    with pytest.raises(RuntimeError, match="call setup"):
        MITBIHBeatDataModule(cache_dir=None).train_dataloader()
