"""Patient-balanced loss weights: the factors, and the module's weighted cross-entropy."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cardioliquid.errors import CardioLiquidError
from cardioliquid.training.losses import patient_balanced_weights
from cardioliquid.training.module import LiquidClassifierModule

KW = dict(n_chans=1, n_outputs=5, n_times=126, sfreq=180.0, n_features=12)
MODEL_KWARGS = {"units": 16, "motor_neurons": 5, "timespan_feature": 6}


def test_factors_even_out_a_class_patients_and_keep_its_total():
    # Three patients, two classes: class 1 is held mostly by patient 0.
    counts = torch.tensor([[100, 900], [100, 90], [100, 0]])
    f = patient_balanced_weights(counts, power=1.0, floor=10)
    weighted = counts * f
    # Each class keeps its total weight, so the class weights' balance is untouched.
    torch.testing.assert_close(weighted.sum(0), counts.sum(0).float())
    # Power 1: each patient of a class carries the same total ...
    torch.testing.assert_close(weighted[0, 1], weighted[1, 1])
    # ... and a patient without the class gets no factor for it.
    assert f[2, 1] == 0
    # A class spread evenly is left alone.
    torch.testing.assert_close(f[:, 0], torch.ones(3))
    # Power 0 is no reweighting at all where a class is present.
    torch.testing.assert_close(patient_balanced_weights(counts, power=0.0),
                               (counts > 0).float())
    # Power 0.5 lies between: the rare patient's beats weigh more, by the square root.
    half = patient_balanced_weights(counts, power=0.5, floor=10)
    assert f[1, 1] > half[1, 1] > 1.0 > half[0, 1] > f[0, 1]
    torch.testing.assert_close(half[1, 1] / half[0, 1], torch.tensor(10.0 ** 0.5))


def test_floor_caps_the_weight_of_a_patient_with_a_handful_of_beats():
    counts = torch.tensor([[1000], [2]])
    floored = patient_balanced_weights(counts, power=1.0, floor=40)
    # The 2-beat patient counts as 40: its beats weigh 1000 / 40 times the other's.
    torch.testing.assert_close(floored[1, 0] / floored[0, 0], torch.tensor(25.0))
    with pytest.raises(ValueError, match="power must be >= 0"):
        patient_balanced_weights(counts, power=-1.0)
    with pytest.raises(ValueError, match="floor"):
        patient_balanced_weights(counts, floor=0.0)


def test_module_weights_each_beat_by_its_patient_and_class():
    torch.manual_seed(0)
    module = LiquidClassifierModule("liquid-rhythm-cfc", MODEL_KWARGS, patient_balance=1.0,
                                    label_smoothing=0.1, **KW)
    module.loss_weights.copy_(torch.tensor([0.5, 2.0, 1.5, 1.0, 1.0]))
    x = torch.randn(3, 6, 1, 126)
    feats = torch.randn(3, 6, 12).abs()
    y = torch.randint(0, 3, (3, 6))
    y[2, 4:] = -1  # padding is not scored
    patients = torch.tensor([0, 1, 0])
    batch = (x, feats, y, patients)
    # Every factor 1: exactly the class-weighted cross-entropy of the plain module.
    module.patient_factors = torch.ones(2, 5)
    logits = module(x, feats).reshape(-1, 5)
    plain = F.cross_entropy(logits, y.reshape(-1), weight=module.loss_weights,
                            ignore_index=-1, label_smoothing=0.1)
    torch.testing.assert_close(module._step(batch, module.train_metrics, "train"), plain)
    # Factors by patient and class: the weighted mean of the per-beat losses.
    module.patient_factors = torch.tensor([[1.0, 3.0, 0.5, 1.0, 1.0],
                                           [2.0, 0.25, 1.0, 1.0, 1.0]])
    flat_y, scored = y.reshape(-1), y.reshape(-1) >= 0
    who = patients[:, None].expand_as(y).reshape(-1)[scored]
    f = module.patient_factors[who, flat_y[scored]]
    per = F.cross_entropy(logits[scored], flat_y[scored], weight=module.loss_weights,
                          reduction="none", label_smoothing=0.1)
    expected = (per * f).sum() / (module.loss_weights[flat_y[scored]] * f).sum()
    torch.testing.assert_close(module._step(batch, module.train_metrics, "train"), expected)
    # Validation is never reweighted (its runs carry no patient).
    torch.testing.assert_close(module._step(batch[:3], module.val_metrics, "val"), plain)


def test_module_refuses_patient_balance_it_cannot_apply():
    with pytest.raises(ValueError, match="patient_balance must be >= 0"):
        LiquidClassifierModule("liquid-rhythm-cfc", MODEL_KWARGS, patient_balance=-0.5, **KW)
    with pytest.raises(ValueError, match="not implemented with focal_gamma"):
        LiquidClassifierModule("liquid-rhythm-cfc", MODEL_KWARGS, patient_balance=1.0,
                               focal_gamma=2.0, **KW)
    module = LiquidClassifierModule("liquid-rhythm-cfc", MODEL_KWARGS, patient_balance=1.0,
                                    **KW)
    module.patient_factors = torch.ones(2, 5)
    batch = (torch.randn(1, 4, 1, 126), torch.randn(1, 4, 12), torch.zeros(1, 4, dtype=int))
    with pytest.raises(CardioLiquidError, match="patient_balance needs each training run"):
        module._step(batch, module.train_metrics, "train")
    # The factors are a training device: not in the saved state.
    assert "patient_factors" not in module.state_dict()
