"""Training runs that carry their patient, for the patient adversary and patient-balanced
weights (real records)."""

from __future__ import annotations

import lightning as L
import pytest
import torch

from cardioliquid.errors import CardioLiquidError
from cardioliquid.signal.config import BeatPreprocessing
from cardioliquid.training.datamodules import BeatSequenceDataModule, Sampling
from cardioliquid.training.module import LiquidClassifierModule

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def test_runs_name_their_patient_and_train_the_adversary(mitdb_dir, shared_data, tmp_path):
    torch.set_num_threads(2)
    L.seed_everything(0)
    prep = BeatPreprocessing(rr_feature_set="robust_absolute",
                             lead_preference=["MLII", "ECG1", "V1", "V5", "ECG2"])
    common = dict(data_dir=str(mitdb_dir), train_records=["106", "201"], test_records=["100"],
                  val_patients=[], preprocessing=prep,
                  sampling=Sampling(batch_size=8, sampler="shuffle"),
                  extra_train_records=["svdb/803"], extra_data_dir=str(shared_data),
                  train_leads="all", sequence_length=64, sequence_hop=64,
                  cache_dir=str(tmp_path / "cache"))
    plain = BeatSequenceDataModule(**common)
    plain.setup("fit")
    assert len(plain.train_set.tensors) == 3 and plain.n_train_patients is None
    dm = BeatSequenceDataModule(**common, patient_labels=True)
    dm.setup("fit")
    x, f, y, patients = dm.train_set.tensors
    assert dm.train_patients == ["mitdb/106", "mitdb/201", "svdb/803"]
    assert dm.n_train_patients == 3
    # The same runs as without patients, each with its record's patient.
    for mine, theirs in zip((x, f, y), plain.train_set.tensors, strict=True):
        assert torch.equal(mine, theirs)
    runs = torch.bincount(patients, minlength=3)
    # Each record's two leads give it twice its runs, all under one patient.
    assert all(int(n) % 2 == 0 and n > 0 for n in runs)
    assert int(runs.sum()) == len(y)
    assert torch.equal(dm.class_counts(), plain.class_counts())
    # Per patient and class, summing to the class counts; 106 has no S beat, 803 no V.
    by_patient = dm.patient_class_counts()
    assert by_patient.shape == (3, dm.n_outputs)
    assert torch.equal(by_patient.sum(0), dm.class_counts())
    s, v = prep.classes.index("S"), prep.classes.index("V")
    assert by_patient[0, s] == 0 and by_patient[0, v] > 0 and by_patient[1, s] > 0
    with pytest.raises(ValueError, match="patient_labels: true"):
        plain.patient_class_counts()
    module = _module(dm, patient_adversary=0.1, adversary_patients=8)
    trainer = L.Trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=0,
                        accelerator="cpu", deterministic=True, default_root_dir=tmp_path,
                        enable_progress_bar=False, logger=False, enable_model_summary=False)
    trainer.fit(module, dm)
    assert torch.isfinite(trainer.callback_metrics["train/adversary_loss"])
    # Patient-balanced weights come from the same counts and train.
    balanced = _module(dm, patient_balance=1.0)
    _fit(balanced, dm, batches=2)
    kept = by_patient > 0
    totals = (by_patient * balanced.patient_factors).sum(0)
    torch.testing.assert_close(totals, by_patient.sum(0).float())
    assert torch.all(balanced.patient_factors[~kept] == 0)
    # Without patients in the runs, either recipe is refused before training.
    with pytest.raises(CardioLiquidError, match="patient_labels: true"):
        _fit(_module(plain, patient_adversary=0.1), plain)
    with pytest.raises(CardioLiquidError, match="patient_balance needs each training run"):
        _fit(_module(plain, patient_balance=1.0), plain)
    with pytest.raises(CardioLiquidError, match="3 patients, more than the adversary's 2"):
        _fit(_module(dm, patient_adversary=0.1, adversary_patients=2), dm)


def _module(dm: BeatSequenceDataModule, **kwargs) -> LiquidClassifierModule:
    """A small rhythm model shaped to ``dm``, with the training options given."""
    return LiquidClassifierModule(
        "liquid-rhythm-cfc", {"units": 16, "motor_neurons": 5, "timespan_feature": 6},
        n_chans=1, n_outputs=dm.n_outputs, n_times=dm.n_times, sfreq=dm.sfreq,
        n_features=dm.n_features, preprocessing=dm.preprocessing_dict, **kwargs)


def _fit(module: LiquidClassifierModule, dm: BeatSequenceDataModule, batches: int = 1) -> None:
    L.Trainer(max_epochs=1, limit_train_batches=batches, limit_val_batches=0, accelerator="cpu",
              logger=False, enable_progress_bar=False, enable_checkpointing=False,
              enable_model_summary=False).fit(module, dm)
