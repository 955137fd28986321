"""A short real-data training run on three MIT-BIH records (patient-disjoint split)."""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch

from cardioliquid.models.checkpoint import load_model
from cardioliquid.models.provenance import evaluation_label
from cardioliquid.signal.config import BeatPreprocessing
from cardioliquid.training.datamodules import (
    BeatSequenceDataModule,
    MITBIHBeatDataModule,
    Sampling,
    SeizureDataModule,
)
from cardioliquid.training.module import LiquidClassifierModule

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def test_short_fit_on_three_mitdb_records(mitdb_dir, tmp_path, model_name):
    torch.set_num_threads(2)
    L.seed_everything(0)
    dm = MITBIHBeatDataModule(
        data_dir=str(mitdb_dir), train_records=["106", "209"], test_records=["100"],
        val_patients=["209"], preprocessing=BeatPreprocessing(),
        sampling=Sampling(batch_size=128, eval_batch_size=2048, sampler_power=0.5),
        cache_dir=str(tmp_path / "cache"),
    )
    dm.prepare_data()
    dm.setup("fit")
    counts = dm.class_counts()
    assert counts[0] > 1000 and counts[2] > 100  # 106: normal and ventricular beats
    x, f, _y = dm.train_set[:2]
    assert x.shape[1:] == (1, dm.n_times) and f.shape[1] == dm.n_features
    module = LiquidClassifierModule(
        model_name, {"units": 12}, n_chans=1, n_outputs=dm.n_outputs, n_times=dm.n_times,
        sfreq=dm.sfreq, n_features=dm.n_features, preprocessing=dm.preprocessing_dict,
        key_classes=["S", "V"],
    )
    trainer = L.Trainer(max_epochs=1, limit_train_batches=15, limit_val_batches=2,
                        accelerator="cpu", deterministic=True, default_root_dir=tmp_path,
                        enable_progress_bar=False, logger=False, enable_model_summary=False)
    trainer.fit(module, dm)
    assert torch.isfinite(trainer.callback_metrics["val/loss"])
    assert "val/key_f1" in trainer.callback_metrics
    ckpt = tmp_path / "real.ckpt"
    trainer.save_checkpoint(ckpt)
    loaded = load_model(ckpt)
    assert loaded.task == "arrhythmia" and loaded.preprocessing == dm.preprocessing
    # The checkpoint says what the run read, and provenance labels read it (they said
    # "unknown" for every .ckpt): 209 chose the epoch, 100 was tested, DS1's 101 never seen.
    meta = loaded.metadata
    assert (meta["train_records"], meta["val_records"]) == (["106"], ["209"])
    assert "in-sample" in evaluation_label("209", "209", "arrhythmia", meta)
    assert "held-out" in evaluation_label("100", "100", "arrhythmia", meta)
    assert "held-out" in evaluation_label("101", "101", "arrhythmia", meta)
    # The cache is keyed by preprocessing; a second build reads it back identically.
    again = MITBIHBeatDataModule(data_dir=str(mitdb_dir), train_records=["106"],
                                 test_records=["100"], cache_dir=str(tmp_path / "cache"))
    again.setup("test")
    assert len(again.test_set) == len(MITBIHBeatDataModule(
        data_dir=str(mitdb_dir), train_records=["106"], test_records=["100"],
        cache_dir=None)._dataset(["100"]))


def test_seizure_datamodule_windows_real_chbmit_excerpts(shared_data, tmp_path):
    src = shared_data / "eeg" / "chbmit_edf"
    # A small folder of links: one continuous chb01 onset excerpt, one chb03 seizure.
    for stem in ["chb01_03_onset", "chb03_01_ictal", "chb03_01_preictal"]:
        for suffix in (".edf", "_events.tsv"):
            (tmp_path / f"{stem}{suffix}").symlink_to(src / f"{stem}{suffix}")
    dm = SeizureDataModule(data_dir=str(tmp_path), train_patients=["chb01"],
                           test_patients=["chb03"])
    dm.prepare_data()
    dm.setup("fit")
    dm.setup("test")
    x, y = dm.train_set.tensors
    assert x.shape[1:] == (18, dm.n_times)
    # 10 s of background then a 40 s seizure: both classes, mostly seizure.
    counts = torch.bincount(y, minlength=2)
    assert counts[0] >= 5 and counts[1] > 2 * counts[0]
    assert set(torch.unique(dm.test_set.tensors[1]).tolist()) == {0, 1}


def test_short_fit_of_the_rhythm_model_on_ds1_and_svdb(shared_data, mitdb_dir, tmp_path):
    """The liquid model of the rhythm trains briefly on DS1 + SVDB records (both leads) and
    scores a held-out SVDB record through the scoring path, beat for beat."""
    from dataclasses import replace

    from cardioliquid.io import load_ecg
    from cardioliquid.scoring.beats import predict_beats
    from cardioliquid.scoring.stream import replay
    from cardioliquid.training.export import export_checkpoint

    torch.set_num_threads(2)
    L.seed_everything(0)
    prep = BeatPreprocessing(rr_feature_set="robust_absolute", template_features=True,
                             lead_preference=["MLII", "ECG1", "V1", "ECG2"])
    dm = BeatSequenceDataModule(
        data_dir=str(mitdb_dir), train_records=["106"], test_records=["100"],
        val_patients=[], preprocessing=prep, sampling=Sampling(batch_size=8, sampler="shuffle"),
        extra_train_records=["svdb/803", "svdb/820"], extra_data_dir=str(shared_data),
        train_leads="all", sequence_length=64, cache_dir=str(tmp_path / "cache"),
    )
    dm.prepare_data()
    dm.setup("fit")
    x, f, y = dm.train_set.tensors
    assert x.shape[1:] == (64, 1, dm.n_times) and f.shape[1:] == (64, dm.n_features)
    # 106 (MLII + V1) and two SVDB records (ECG1 + ECG2): six runs of beats.
    n_beats = int((y >= 0).sum())
    assert n_beats > 2 * (2000 + 2 * 1800)
    counts = dm.class_counts()
    assert counts[1] > 300 and counts[2] > 500  # 820's S beats, 106's and 803's V beats
    module = LiquidClassifierModule(
        "liquid-rhythm-cfc", {"units": 16, "motor_neurons": 5, "timespan_feature": 6},
        n_chans=1, n_outputs=dm.n_outputs, n_times=dm.n_times, sfreq=dm.sfreq,
        n_features=dm.n_features, preprocessing=dm.preprocessing_dict, key_classes=["S", "V"],
    )
    trainer = L.Trainer(max_epochs=1, limit_train_batches=10, limit_val_batches=0,
                        accelerator="cpu", deterministic=True, default_root_dir=tmp_path,
                        enable_progress_bar=False, logger=False, enable_model_summary=False)
    trainer.fit(module, dm)
    assert torch.isfinite(trainer.callback_metrics["train/loss"])
    assert bool(module.model.feature_norm.fitted)
    path = export_checkpoint(module, tmp_path / "rhythm.safetensors", {})
    loaded = load_model(path)
    rec = load_ecg(shared_data / "svdb" / "807")  # not trained on
    pred = predict_beats(rec, loaded, beats="reference")
    n_ref = int((rec.beats.aami != "").sum())
    assert len(pred) == n_ref and pred.lead == "ECG1"
    # A stream over the record's first 3 minutes, fed in 1-s chunks, equals batch
    # scoring with the same 10-s segments (the state carried beat by beat).
    head = replace(rec, signal=rec.signal[:, :round(180 * rec.fs)],
                   beats=replace(rec.beats, sample=rec.beats.sample[
                       rec.beats.sample < round(180 * rec.fs)],
                       aami=rec.beats.aami[rec.beats.sample < round(180 * rec.fs)],
                       symbol=rec.beats.symbol[rec.beats.sample < round(180 * rec.fs)]))
    batch = predict_beats(head, loaded, beats="reference", segment_s=10.0)
    streamed = None
    for _, new in replay(head, loaded, chunk_s=1.0, beats="reference", segment_s=10.0):
        streamed = new if streamed is None else streamed.concat(new)
    assert len(batch) > 150
    np.testing.assert_array_equal(streamed.sample, batch.sample)
    np.testing.assert_allclose(streamed.proba, batch.proba, atol=1e-5)
    # Distillation on real runs of beats: a student with the exported file as its teacher
    # trains on the same data, and its file holds the student alone.
    from cardioliquid.training.distill import prepare_teachers

    L.seed_everything(0)
    student = LiquidClassifierModule(
        "liquid-rhythm-cfc", {"units": 16, "motor_neurons": 5, "timespan_feature": 6},
        n_chans=1, n_outputs=dm.n_outputs, n_times=dm.n_times, sfreq=dm.sfreq,
        n_features=dm.n_features, preprocessing=dm.preprocessing_dict, key_classes=["S", "V"],
        distill={"teachers": [str(path)]},
    )
    prepare_teachers(student, dm, epochs=1, seed=0)
    trainer = L.Trainer(max_epochs=1, limit_train_batches=10, limit_val_batches=0,
                        accelerator="cpu", deterministic=True, default_root_dir=tmp_path,
                        enable_progress_bar=False, logger=False, enable_model_summary=False)
    trainer.fit(student, dm)
    kd = float(trainer.callback_metrics["train/distill_loss"])
    assert np.isfinite(kd) and kd > 0
    distilled = load_model(export_checkpoint(student, tmp_path / "student.safetensors", {}))
    assert set(distilled.model.state_dict()) == set(loaded.model.state_dict())
