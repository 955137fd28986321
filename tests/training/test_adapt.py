"""Patient-adaptive fine-tuning on a synthetic ECG recording."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cardioliquid.errors import ContractError
from cardioliquid.io.recording import BeatAnnotations, Recording
from cardioliquid.models.checkpoint import LoadedModel
from cardioliquid.models.registry import create_model
from cardioliquid.signal.config import BeatPreprocessing
from cardioliquid.training.adapt import adapt_to_patient, calibration_data


def synthetic_ecg(rng: np.random.Generator, minutes: float = 8.0, fs: float = 360.0) -> Recording:
    """Narrow 'N' beats every ~0.8 s and wide, premature 'V' beats every 7th beat."""
    n = int(minutes * 60 * fs)
    t = np.arange(n) / fs
    sig = 0.02 * rng.standard_normal(n)
    samples, symbols = [], []
    pos, k = 0.5, 0
    while pos < minutes * 60 - 1:
        wide = k % 7 == 6
        width = 0.04 if wide else 0.012
        sig += (1.5 if wide else 1.0) * np.exp(-0.5 * ((t - pos) / width) ** 2)
        samples.append(int(pos * fs))
        symbols.append("V" if wide else "N")
        pos += 0.6 if k % 7 == 5 else 0.8
        k += 1
    symbols = np.array(symbols)
    beats = BeatAnnotations(np.array(samples), symbols, symbols)
    return Recording(sig[None].astype(np.float32), fs, ["MLII"], "mV", "syn", "syn", "ecg",
                     beats=beats)


@pytest.fixture
def loaded(model_name) -> LoadedModel:
    prep = BeatPreprocessing()
    from cardioliquid.signal.windows import n_beat_features

    kwargs = {"n_chans": 1, "n_outputs": 5, "n_times": prep.n_times, "sfreq": prep.fs,
              "n_features": n_beat_features(prep), "units": 12}
    torch.manual_seed(0)
    return LoadedModel(create_model(model_name, **kwargs).eval(), prep, model_name, kwargs)


def test_adaptation_uses_only_the_first_minutes_and_is_deterministic(rng, loaded):
    rec = synthetic_ecg(rng)
    _, _, y = calibration_data(loaded, rec, minutes=5.0)
    n_first = int(np.sum(rec.beats.sample < 5 * 60 * rec.fs))
    assert len(y) == n_first < len(rec.beats)
    before = {k: v.clone() for k, v in loaded.model.state_dict().items()}
    a = adapt_to_patient(loaded, rec, minutes=5.0, epochs=3)
    b = adapt_to_patient(loaded, rec, minutes=5.0, epochs=3)
    # The inter-patient model is untouched; the adapted copy moved; runs are identical.
    for k, v in loaded.model.state_dict().items():
        assert torch.equal(v, before[k])
    moved = any(not torch.equal(v, before[k]) for k, v in a.model.state_dict().items())
    assert moved
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k])
    info = a.metadata["adapted"]
    assert info["n_windows"] == n_first and info["class_counts"][2] > 0
    assert not a.model.training


def test_adaptation_improves_calibration_fit(rng, loaded):
    rec = synthetic_ecg(rng)
    x, f, y = calibration_data(loaded, rec, minutes=5.0)
    adapted = adapt_to_patient(loaded, rec, minutes=5.0, epochs=15, lr=1e-2, l2sp=0.0)
    with torch.no_grad():
        loss0 = torch.nn.functional.cross_entropy(loaded.model(x, f), y)
        loss1 = torch.nn.functional.cross_entropy(adapted.model(x, f), y)
    assert loss1 < loss0


def test_head_mode_changes_only_the_last_linear_layer(rng, loaded):
    rec = synthetic_ecg(rng, minutes=6.0)
    adapted = adapt_to_patient(loaded, rec, minutes=5.0, epochs=2, mode="head", lr=1e-2)
    linears = [n for n, m in adapted.model.named_modules() if isinstance(m, torch.nn.Linear)]
    head = linears[-1]
    for name, v in adapted.model.state_dict().items():
        same = torch.equal(v, loaded.model.state_dict()[name])
        assert same != name.startswith(head + ".") or ("weight" not in name and "bias" not in name)


def test_adaptation_needs_reference_labels(rng, loaded):
    rec = synthetic_ecg(rng, minutes=2.0)
    rec.beats = None
    with pytest.raises(ContractError, match="reference beat annotations"):
        adapt_to_patient(loaded, rec)
    with pytest.raises(ValueError, match="mode"):
        adapt_to_patient(loaded, synthetic_ecg(rng, minutes=2.0), mode="all")


def test_eval_mode_keeps_the_training_patients_statistics(rng, loaded):
    rec = synthetic_ecg(rng, minutes=6.0)
    assert loaded.model.feature_norm is not None  # liquid-cfc standardises its features
    stats = ("feature_norm.running_mean", "feature_norm.running_var")
    start = {k: loaded.model.state_dict()[k].clone() for k in stats}
    frozen = adapt_to_patient(loaded, rec, minutes=5.0, epochs=2, lr=1e-2, eval_mode=True)
    trained = adapt_to_patient(loaded, rec, minutes=5.0, epochs=2, lr=1e-2)
    for k in stats:
        # Eval mode fine-tunes the weights but not the normalisation statistics.
        assert torch.equal(frozen.model.state_dict()[k], start[k])
        assert not torch.equal(trained.model.state_dict()[k], start[k])
    assert not torch.equal(frozen.model.head.weight, loaded.model.head.weight)
    assert frozen.metadata["adapted"]["eval_mode"] is True
    assert trained.metadata["adapted"]["eval_mode"] is False


def test_an_adapted_model_may_carry_its_own_s_floor(rng, loaded):
    from dataclasses import replace

    from cardioliquid.decision.settings import DecisionSettings

    loaded = replace(loaded, decision=DecisionSettings(af_gate=True, sveb_min_proba=0.5))
    rec = synthetic_ecg(rng)
    kept = adapt_to_patient(loaded, rec, minutes=5.0, epochs=1)
    assert kept.decision == loaded.decision and "sveb_min_proba" not in kept.metadata["adapted"]
    dropped = adapt_to_patient(loaded, rec, minutes=5.0, epochs=1, sveb_min_proba=0.0)
    assert dropped.decision == replace(loaded.decision, sveb_min_proba=0.0)
    assert dropped.metadata["adapted"]["sveb_min_proba"] == 0.0
    assert loaded.decision.sveb_min_proba == 0.5  # the inter-patient model keeps its own


def test_an_adapted_model_may_keep_another_af_gate(rng, loaded):
    from dataclasses import replace

    from cardioliquid.decision.settings import DecisionSettings

    # v9.1: the inter-patient file gates on both leads' P waves, the adapted model on v9's rule.
    loaded = replace(loaded, decision=DecisionSettings(af_gate=True, af_gate_rule="atrial",
                                                       atrial_leads="max"))
    rec = synthetic_ecg(rng)
    restore = {"af_gate_rule": "af_specific_atrial", "atrial_leads": "first"}
    adapted = adapt_to_patient(loaded, rec, minutes=5.0, epochs=1, decision=restore,
                               sveb_min_proba=0.25)
    assert adapted.decision == DecisionSettings(af_gate=True, af_gate_rule="af_specific_atrial",
                                                atrial_leads="first", sveb_min_proba=0.25)
    assert adapted.metadata["adapted"]["decision"] == restore
    assert loaded.decision.af_gate_rule == "atrial"  # the inter-patient model keeps its own
    with pytest.raises(ValueError, match="af_gate_rules"):
        adapt_to_patient(loaded, rec, minutes=5.0, epochs=1, decision={"af_gate_rules": "x"})
    with pytest.raises(ValueError, match="atrial_leads"):
        adapt_to_patient(loaded, rec, minutes=5.0, epochs=1, decision={"atrial_leads": "min"})


def test_a_model_carries_its_own_adaptation_recipe(rng, loaded):
    from cardioliquid.training.adapt import adaptation_settings

    assert adaptation_settings(loaded) == {}
    loaded.metadata["adaptation"] = {"eval_mode": True, "lr": 3e-3}
    assert adaptation_settings(loaded) == {"eval_mode": True, "lr": 3e-3}
    loaded.metadata["adaptation"] = {"learning_rate": 1.0}
    with pytest.raises(ContractError, match="learning_rate"):
        adaptation_settings(loaded)


def test_untie_lets_adaptation_separate_tied_classes_by_shape(rng):
    from cardioliquid.models.classifier import TiedHead
    from cardioliquid.signal.windows import n_beat_features

    prep = BeatPreprocessing()
    kwargs = {"n_chans": 1, "n_outputs": 5, "n_times": prep.n_times, "sfreq": prep.fs,
              "n_features": n_beat_features(prep), "units": 12,
              "morphology_tied_outputs": [0, 1]}
    torch.manual_seed(0)
    tied = LoadedModel(create_model("liquid-cfc", **kwargs).eval(), prep, "liquid-cfc", kwargs)
    rec = synthetic_ecg(rng, minutes=6.0)
    n_motor = tied.model.head.n_tied_inputs

    kept = adapt_to_patient(tied, rec, minutes=5.0, epochs=2, lr=1e-2, eval_mode=True)
    freed = adapt_to_patient(tied, rec, minutes=5.0, epochs=2, lr=1e-2, eval_mode=True,
                             untie=True)
    assert isinstance(kept.model.head, TiedHead)
    assert type(freed.model.head) is torch.nn.Linear and isinstance(tied.model.head, TiedHead)
    assert freed.model_kwargs["morphology_tied_outputs"] is None
    assert tied.model_kwargs["morphology_tied_outputs"] == [0, 1]  # the original is untouched
    assert freed.metadata["adapted"]["untie"] is True
    w_kept = kept.model.head.tied_weight()[:, :n_motor]
    torch.testing.assert_close(w_kept[0], w_kept[1])  # still one shared row for N and S
    w_freed = freed.model.head.weight[:, :n_motor]
    assert not torch.allclose(w_freed[0], w_freed[1])  # N and S now have their own


def test_untie_heads_keeps_the_outputs():
    from cardioliquid.models.classifier import untie_heads

    prep = BeatPreprocessing()
    from cardioliquid.signal.windows import n_beat_features

    kwargs = {"n_chans": 1, "n_outputs": 5, "n_times": prep.n_times, "sfreq": prep.fs,
              "n_features": n_beat_features(prep), "units": 12,
              "morphology_tied_outputs": [0, 1]}
    torch.manual_seed(0)
    model = create_model("liquid-cfc", **kwargs).eval()
    x = torch.randn(4, 1, prep.n_times)
    f = torch.randn(4, n_beat_features(prep))
    with torch.no_grad():
        before = model(x, f)
        assert untie_heads(model) == 1 and untie_heads(model) == 0
        torch.testing.assert_close(model(x, f), before)


def test_present_classes_only_learns_nothing_from_one_class(rng, loaded):
    rec = synthetic_ecg(rng, minutes=6.0)
    keep = rec.beats.symbol == "N"  # a record whose first minutes hold N beats only
    rec.beats = BeatAnnotations(rec.beats.sample[keep], rec.beats.symbol[keep],
                                rec.beats.aami[keep])
    still = adapt_to_patient(loaded, rec, minutes=5.0, epochs=2, lr=1e-2, eval_mode=True,
                             present_classes_only=True)
    moved = adapt_to_patient(loaded, rec, minutes=5.0, epochs=2, lr=1e-2, eval_mode=True)
    start = loaded.model.state_dict()
    # Softmax over N alone: zero loss, and the L2-SP anchor holds the weights where they were.
    assert all(torch.equal(v, start[k]) for k, v in still.model.state_dict().items())
    assert any(not torch.equal(v, start[k]) for k, v in moved.model.state_dict().items())
    assert still.metadata["adapted"]["present_classes_only"] is True


def test_all_leads_calibrates_on_every_lead_the_model_averages(rng, loaded):
    from dataclasses import replace

    one = synthetic_ecg(rng)
    two = replace(one, signal=np.concatenate([one.signal, -0.7 * one.signal]),
                  channel_names=["MLII", "V1"])
    fusing = replace(loaded, preprocessing=replace(loaded.preprocessing, fuse_leads=2))
    n_first = int(np.sum(one.beats.sample < 5 * 60 * one.fs))
    both = adapt_to_patient(fusing, two, minutes=5.0, epochs=1, all_leads=True)
    first = adapt_to_patient(fusing, two, minutes=5.0, epochs=1)
    assert both.metadata["adapted"]["leads"] == 2 and first.metadata["adapted"]["leads"] == 1
    assert both.metadata["adapted"]["n_windows"] == 2 * n_first
    assert first.metadata["adapted"]["n_windows"] == n_first
    assert any(not torch.equal(v, first.model.state_dict()[k])
               for k, v in both.model.state_dict().items())  # V1's beats taught it too
    # A model that reads one lead, or a record with one, calibrates on that lead either way.
    alone = adapt_to_patient(fusing, one, minutes=5.0, epochs=1, all_leads=True)
    assert alone.metadata["adapted"]["leads"] == 1


def test_self_training_reads_no_reference_label(rng, loaded):
    from dataclasses import replace

    rec = synthetic_ecg(rng, minutes=6.0)
    # The same beat positions with every label swapped: label-free adaptation cannot tell.
    swapped = np.where(rec.beats.aami == "N", "V", "N")
    relabelled = replace(rec, beats=BeatAnnotations(rec.beats.sample, swapped, swapped))
    a = adapt_to_patient(loaded, rec, minutes=5.0, epochs=2, labels="model", min_confidence=0.0)
    b = adapt_to_patient(loaded, relabelled, minutes=5.0, epochs=2, labels="model",
                         min_confidence=0.0)
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k])
    assert a.metadata["adapted"]["labels"] == "model"
    assert a.metadata["adapted"]["min_confidence"] == 0.0


def test_self_training_learns_the_models_own_confident_calls(rng, loaded):
    from cardioliquid.scoring.beats import predict_beats
    from cardioliquid.training.adapt import model_labels

    rec = synthetic_ecg(rng, minutes=6.0)
    pred = predict_beats(rec, loaded, beats="reference")
    calls = model_labels(loaded, rec, 0.0)
    assert calls == dict(zip(pred.sample.tolist(), pred.proba.argmax(-1).tolist(), strict=True))
    cut = float(np.quantile(pred.proba.max(-1), 0.5))
    confident = model_labels(loaded, rec, cut)
    assert {s for s, c in confident.items() if c >= 0} == set(
        pred.sample[pred.proba.max(-1) >= cut].tolist())
    # Every call of the first 5 minutes is a label: the adapted model learns them.
    first = pred.sample < 5 * 60 * rec.fs
    own = np.bincount(pred.proba.argmax(-1)[first], minlength=5)
    adapted = adapt_to_patient(loaded, rec, minutes=5.0, epochs=1, labels="model",
                               min_confidence=0.0)
    assert adapted.metadata["adapted"]["class_counts"] == own.tolist()
    # No call confident enough: nothing to learn, so nothing changes.
    none = adapt_to_patient(loaded, rec, minutes=5.0, epochs=3, labels="model",
                            min_confidence=1.01)
    assert none.metadata["adapted"]["class_counts"] == [0] * 5
    assert none.metadata["adapted"]["epochs"] == 0
    for k, v in none.model.state_dict().items():
        assert torch.equal(v, loaded.model.state_dict()[k])


def test_label_free_adaptation_needs_no_annotation(rng, loaded):
    rec = synthetic_ecg(rng, minutes=6.0)
    rec.beats = None  # beats detected, calls the model's own
    adapted = adapt_to_patient(loaded, rec, minutes=5.0, epochs=1, labels="model",
                               min_confidence=0.0)
    assert sum(adapted.metadata["adapted"]["class_counts"]) > 200  # ~5 min at 75 beats/min


def test_patient_normalisation_takes_the_patients_own_statistics(rng, loaded):
    from cardioliquid.training.adapt import patient_normalisation

    rec = synthetic_ecg(rng, minutes=6.0)
    x, f, _ = calibration_data(loaded, rec, minutes=5.0)
    model = __import__("copy").deepcopy(loaded.model)
    assert patient_normalisation(model, x, f, batch_size=len(x)) > 0
    # liquid-cfc normalises its features with BatchNorm: now with this patient's moments.
    torch.testing.assert_close(model.feature_norm.running_mean, f.mean(0))
    torch.testing.assert_close(model.feature_norm.running_var, f.var(0), rtol=1e-4, atol=1e-6)
    assert not model.training

    adapted = adapt_to_patient(loaded, rec, minutes=5.0, labels="none", normalisation="patient")
    start = loaded.model.state_dict()
    for name, p in adapted.model.named_parameters():
        assert torch.equal(p, start[name])  # no weight moves
    stats = adapted.model.state_dict()
    assert not torch.equal(stats["feature_norm.running_mean"], start["feature_norm.running_mean"])
    assert adapted.metadata["adapted"]["batchnorm_layers_renormalised"] > 0
    with pytest.raises(ContractError, match="normalisation='patient'"):
        adapt_to_patient(loaded, rec, minutes=5.0, labels="none")
    with pytest.raises(ValueError, match="labels"):
        adapt_to_patient(loaded, rec, minutes=5.0, labels="expert")


def test_patient_normalisation_reads_every_fused_lead(rng, loaded):
    from dataclasses import replace

    one = synthetic_ecg(rng, minutes=6.0)
    two = replace(one, signal=np.concatenate([one.signal, -0.7 * one.signal]),
                  channel_names=["MLII", "V1"])
    fusing = replace(loaded, preprocessing=replace(loaded.preprocessing, fuse_leads=2))
    both = adapt_to_patient(fusing, two, minutes=5.0, labels="none", normalisation="patient")
    first = adapt_to_patient(fusing, one, minutes=5.0, labels="none", normalisation="patient")
    # One set of statistics serves both leads, so the inverted V1's beats move it too.
    conv = [k for k in both.model.state_dict() if "running_mean" in k and "feature_norm" not in k]
    assert conv and any(not torch.equal(both.model.state_dict()[k], first.model.state_dict()[k])
                        for k in conv)
