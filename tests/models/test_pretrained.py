"""The shipped models: safe to load by name, within budget, carrying their recipes."""

from __future__ import annotations

import pytest
import torch

from cardioliquid.device.size import count_macs_flop_counter
from cardioliquid.models.cfc import CfC
from cardioliquid.models.checkpoint import list_pretrained, load_model
from cardioliquid.models.classifier import FeatureStandardizer
from cardioliquid.models.rhythm import BeatRhythmClassifier
from cardioliquid.signal.rr import rr_feature_names
from cardioliquid.training.adapt import adaptation_settings


def test_shipped_arrhythmia_model_fits_the_budgets_and_carries_its_recipe():
    assert {"arrhythmia", "seizure", "seizure-1ch"} <= set(list_pretrained())  # shipped
    loaded = load_model("arrhythmia")
    m = loaded.model.eval()
    n_params = sum(p.numel() for p in m.parameters())
    x = torch.randn(1, 1, m.contract.n_times)
    f = torch.randn(1, m.contract.n_features)
    macs = count_macs_flop_counter(lambda: m(x, f)).macs
    assert n_params < 20_000 and macs < 100_000  # issue 4's and issue 6's budgets, dense
    # The feature scaling was fitted on the training set and saved with the weights.
    assert isinstance(m.feature_norm, FeatureStandardizer) and bool(m.feature_norm.fitted)
    assert torch.all(m.feature_norm.scale > 0)
    # v6: the liquid model of the rhythm, one CfC step per beat lasting the beat's RR interval
    assert isinstance(m, BeatRhythmClassifier) and isinstance(m.rnn, CfC)
    assert loaded.model_name == "liquid-rhythm-cfc"
    assert loaded.preprocessing.rr_feature_set == "robust_absolute_local_onset"  # v8
    assert rr_feature_names(loaded.preprocessing)[m.timespan_feature] == "pre_rr_s"
    assert loaded.preprocessing.template_align_s == 0.011  # v5.1: aligned template features
    # v10 (round 39): AF-specific irregularity, settled only where neither lead shows
    # consistent P waves.
    assert loaded.decision.af_gate and loaded.decision.af_gate_rule == "af_specific_atrial"
    assert loaded.decision.atrial_leads == "max"
    assert loaded.decision.needs_atrial and not loaded.preprocessing.atrial_features
    assert loaded.decision.sveb_min_proba == 0.0  # v9: no S floor (v8.2's lost round 22)
    assert loaded.preprocessing.fuse_leads == 2  # v9: both leads, averaged (round 22)
    # v10 (round 39): each beat read beside its departure from the patient's earlier beats,
    # trained with every patient of a class weighted alike.
    assert m.embedding_reference == 64 and m.reference_input == "both"
    assert "patient_balance: 1.0" in loaded.metadata["config"]
    assert "train_leads: all" in loaded.metadata["config"]  # v5.3: both leads in training
    assert loaded.preprocessing.lead_preference[0] == "MLII"  # ...and it reads MLII
    # Chosen on DS1 folds; adapted models keep v9's gate (round 25).
    assert adaptation_settings(loaded) == {
        "eval_mode": True, "lr": 0.003, "class_weight_power": 0.75,
        "decision": {"af_gate_rule": "af_specific_atrial", "atrial_leads": "first"}}
    assert "Supraventricular" in loaded.metadata["data"]  # v6, v7: DS1 + SVDB patients
    assert "DS1" in loaded.metadata["data"] and "DS2" not in loaded.metadata["data"]


@pytest.mark.realdata
@pytest.mark.slow
def test_shipped_arrhythmia_model_reads_other_databases_rates_and_lead_names(mitdb_dir, tmp_path):
    """Record 208 rewritten the way other PhysioNet databases store ECG (128 Hz, as in
    the MIT-BIH Supraventricular Arrhythmia Database, leads named ECG1/ECG2) gets
    almost the same beat labels as the original at 360 Hz."""
    import numpy as np
    import wfdb
    from wfdb import processing

    from cardioliquid.io import load_ecg
    from cardioliquid.scoring.beats import predict_beats
    from cardioliquid.signal.leads import select_lead

    src = wfdb.rdrecord(str(mitdb_dir / "208"))
    ann = wfdb.rdann(str(mitdb_dir / "208"), "atr")
    assert src.sig_name[0] == "MLII"
    sig, ann128 = processing.resample_multichan(src.p_signal, ann, src.fs, 128, resamp_ann_chan=0)
    wfdb.wrsamp("208", fs=128, units=src.units, sig_name=["ECG1", "ECG2"], p_signal=sig,
                fmt=["16", "16"], write_dir=str(tmp_path))
    wfdb.wrann("208", "atr", ann128.sample, ann128.symbol, fs=128, write_dir=str(tmp_path))

    loaded = load_model("arrhythmia")
    original = predict_beats(load_ecg(mitdb_dir / "208"), loaded, beats="reference")
    rec128 = load_ecg(tmp_path / "208")
    assert select_lead(rec128, loaded.preprocessing.lead_preference) == "ECG1"
    moved = predict_beats(rec128, loaded, beats="reference")
    assert moved.fs == 128 and len(moved.labels) == len(original.labels) > 2900
    agreement = np.mean(np.asarray(moved.labels) == np.asarray(original.labels))
    # 0.995 measured with v10; 0.989 with v9.1 (both leads, ECG1 + ECG2 at 128 Hz); v9 0.990;
    # v8.2 0.980 (v8, v8.1 0.979); v7 0.980 (7 of its S calls turn N at 128 Hz); v6 0.968
    # (34 turned N: S decisions lie closer to the threshold than V ones);
    # v5.3 0.987; v5 (unaligned) 0.954
    assert agreement > 0.96
    called_v = int((np.asarray(original.labels) == "V").sum())
    assert called_v > 0.85 * int((np.asarray(ann.symbol) == "V").sum())  # v7: 976 of 992
    assert (np.asarray(moved.labels) == "V").sum() > 0.97 * called_v  # v7: 984 at 128 Hz
    # With beats from the detector (unannotated use), the 128 Hz grid's jitter must not
    # change the calls either (v5 called hundreds of extra V there; v5.1 aligns templates).
    at360 = predict_beats(load_ecg(mitdb_dir / "208"), loaded, beats="detect").counts()
    at128 = predict_beats(rec128, loaded, beats="detect").counts()
    assert abs(at128["V"] - at360["V"]) < 0.03 * at360["V"]  # v9: 817 vs 824; v7 878 vs 879
    assert abs(at128["N"] - at360["N"]) < 0.03 * at360["N"]


@pytest.mark.realdata
def test_a_signal_dropout_costs_only_the_beats_beside_it(mitdb_dir, tmp_path):
    """Record 200 with a 28 s dropout in MLII (stored as WFDB invalid samples, the way
    gaps reach us from other databases) is scored, not refused: the beats in and
    beside the gap are called from the other lead, every other beat keeps its call, and
    where both leads drop out the beats are unclassifiable (Q)."""
    import numpy as np
    import wfdb

    from cardioliquid.io import load_ecg
    from cardioliquid.scoring.beats import predict_beats

    src = wfdb.rdrecord(str(mitdb_dir / "200"))
    ann = wfdb.rdann(str(mitdb_dir / "200"), "atr")
    sig = src.p_signal.copy()
    sig[100_000:110_000, 0] = np.nan  # MLII only
    both = sig.copy()
    both[100_000:110_000, 1] = np.nan
    for name, values in (("200", sig), ("200both", both)):
        wfdb.wrsamp(name, fs=src.fs, units=src.units, sig_name=src.sig_name, p_signal=values,
                    fmt=["212", "212"], write_dir=str(tmp_path))
        wfdb.wrann(name, "atr", ann.sample, ann.symbol, fs=src.fs, write_dir=str(tmp_path))

    loaded = load_model("arrhythmia")
    clean = predict_beats(load_ecg(mitdb_dir / "200"), loaded, beats="reference")
    gap = predict_beats(load_ecg(tmp_path / "200"), loaded, beats="reference")
    assert np.array_equal(clean.sample, gap.sample)
    labels, ref = np.asarray(gap.labels), np.asarray(clean.labels)
    inside = (gap.sample >= 100_000) & (gap.sample < 110_000)
    beside = (gap.sample > 99_000) & (gap.sample < 111_000)
    # v9 reads V1 too: where MLII drops out, V1 alone calls the beats.
    assert inside.sum() > 40 and not (labels[beside] == "Q").any()
    assert np.mean(labels[beside] == ref[beside]) > 0.7  # 0.79 measured (53 beats, many V)
    assert np.mean(labels[~beside] == ref[~beside]) > 0.995  # 1.0 measured (2,548 beats)
    dropped = np.asarray(predict_beats(load_ecg(tmp_path / "200both"), loaded,
                                       beats="reference").labels)
    assert (dropped[inside] == "Q").all()
    assert np.mean(dropped[~beside] == ref[~beside]) > 0.995
    # Unannotated use: the detector finds nothing in the gap and the rest is scored.
    found = predict_beats(load_ecg(tmp_path / "200"), loaded, beats="detect")
    assert not ((found.sample > 100_100) & (found.sample < 109_900)).any()
    assert len(found) > 2500


@pytest.mark.realdata
def test_the_af_gate_finds_the_annotated_af_and_leaves_sinus_rhythm_alone(mitdb_dir):
    """DS1's record 201 moves between sinus rhythm, AF and other rhythms (its
    rhythm annotations say when); 101 stays in sinus rhythm."""
    from dataclasses import replace

    import numpy as np

    from cardioliquid.io import load_ecg
    from cardioliquid.scoring.beats import predict_beats

    # v8.1's gate: the AF-specific rule that also needs inconsistent P waves.
    loaded = load_model("arrhythmia")
    assert loaded.decision.af_gate and loaded.decision.needs_atrial
    rec = load_ecg(mitdb_dir / "201")
    pred = predict_beats(rec, loaded, beats="reference")
    starts = np.array([s for s, _ in rec.rhythms])
    names = np.array([a for _, a in rec.rhythms])
    rhythm = names[np.clip(np.searchsorted(starts, pred.sample, side="right") - 1, 0, None)]
    in_af = rhythm == "(AFIB"
    assert in_af.sum() > 500
    assert pred.af[in_af].mean() > 0.9  # it finds the annotated AF (0.922 measured)
    assert (pred.labels[pred.af] != "S").all()  # and nothing there is reported S
    # The RR test alone also flags most of 201's other irregular rhythms; the P waves there
    # keep most of them unflagged.
    rr_only = replace(loaded, decision=replace(loaded.decision, af_gate_rule="rhythm"))
    plain = predict_beats(rec, rr_only, beats="reference")
    assert plain.af[in_af].mean() > 0.95
    assert pred.af[~in_af].sum() < 0.25 * plain.af[~in_af].sum()  # 61 against 949 measured
    sinus = predict_beats(load_ecg(mitdb_dir / "101"), loaded, beats="reference")
    assert not sinus.af.any()
