"""The patient adversary: gradient reversal, its schedule, its loss, and the module's use."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cardioliquid.errors import CardioLiquidError
from cardioliquid.training.adversary import (
    PatientAdversary,
    adversary_ramp,
    reverse_gradient,
)
from cardioliquid.training.module import LiquidClassifierModule

KW = dict(n_chans=1, n_outputs=5, n_times=126, sfreq=180.0, n_features=12)
MODEL_KWARGS = {"units": 16, "motor_neurons": 5, "timespan_feature": 6}


def test_reverse_gradient_is_identity_forward_and_flips_the_gradient():
    x = torch.randn(3, 4, requires_grad=True)
    y = reverse_gradient(x, 0.5)
    assert torch.equal(y, x)
    upstream = torch.randn(3, 4)
    y.backward(upstream)
    torch.testing.assert_close(x.grad, -0.5 * upstream)


def test_ramp_rises_from_zero_to_one():
    values = [adversary_ramp(p) for p in (-1.0, 0.0, 0.1, 0.5, 1.0, 2.0)]
    assert values[0] == values[1] == 0.0  # clamped below
    assert values[1] < values[2] < values[3] < values[4]
    assert values[4] == pytest.approx(1.0, abs=1e-4) and values[5] == values[4]


def test_adversary_loss_names_patients_of_scored_beats_only():
    torch.manual_seed(0)
    adversary = PatientAdversary(n_inputs=6, capacity=4)
    morphology = torch.randn(3, 10, 6, requires_grad=True)
    patients = torch.tensor([0, 2, 3])
    labels = torch.randint(0, 5, (3, 10))
    labels[1, 5:] = -1
    loss = adversary.loss(morphology, patients, labels, scale=1.0)
    # The same as cross-entropy over the scored beats with their run's patient.
    scored = labels >= 0
    who = patients[:, None].expand(3, 10)[scored]
    expected = F.cross_entropy(adversary.head(morphology[scored]), who)
    torch.testing.assert_close(loss, expected)
    # Unscored beats do not count, whatever their morphology.
    moved = morphology.detach().clone()
    moved[1, 5:] += 10.0
    torch.testing.assert_close(adversary.loss(moved, patients, labels, 1.0), loss.detach())
    # The head descends the loss; the morphology gets the reversed gradient times scale.
    loss_scaled = adversary.loss(morphology, patients, labels, scale=0.25)
    loss_scaled.backward()
    reversed_grad = morphology.grad.clone()
    morphology.grad = None
    adversary.zero_grad()
    expected.backward()
    torch.testing.assert_close(reversed_grad, -0.25 * morphology.grad)
    assert adversary.head.weight.grad.abs().sum() > 0
    with pytest.raises(CardioLiquidError, match="capacity 4"):
        adversary.loss(morphology, torch.tensor([0, 1, 4]), labels, 1.0)
    with pytest.raises(ValueError, match="capacity >= 2"):
        PatientAdversary(6, capacity=1)
    none = torch.full((3, 10), -1)
    assert float(adversary.loss(morphology, patients, none, 1.0).detach()) == 0.0


def test_module_trains_against_the_adversary_and_exports_the_same_model():
    with pytest.raises(ValueError, match="patient_adversary must be >= 0"):
        LiquidClassifierModule("liquid-rhythm-cfc", MODEL_KWARGS, patient_adversary=-1.0,
                               **KW)
    with pytest.raises(ValueError, match="model of the beat sequence"):
        LiquidClassifierModule("liquid-cfc", {"units": 12}, patient_adversary=0.1, **KW)
    torch.manual_seed(0)
    module = LiquidClassifierModule("liquid-rhythm-cfc", MODEL_KWARGS, patient_adversary=0.5,
                                    adversary_patients=8, class_weights=None, **KW)
    plain = LiquidClassifierModule("liquid-rhythm-cfc", MODEL_KWARGS, class_weights=None,
                                   **KW)
    # The adversary is the module's: exported files do not change.
    assert set(module.model.state_dict()) == set(plain.model.state_dict())
    assert module.adversary.head.in_features == module.model.n_morphology == 16
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 32, 1, 126, generator=g)
    feats = torch.rand(4, 32, 12, generator=g) + 0.4
    y = torch.randint(0, 5, (4, 32), generator=g)
    patients = torch.tensor([0, 1, 1, 7])
    module.train()
    with pytest.raises(CardioLiquidError, match="patient_labels: true"):
        module.training_step((x, feats, y), 0)
    plain.load_state_dict(module.state_dict(), strict=False)
    plain.train()
    torch.manual_seed(2)
    total = module.training_step((x, feats, y, patients), 0)
    torch.manual_seed(2)
    ce = plain.training_step((x, feats, y), 0)
    assert float(total) > float(ce)  # the adversary's share
    total.backward()
    assert module.adversary.head.weight.grad.abs().sum() > 0
    assert module.model.front[0].weight.grad.abs().sum() > 0
    # Evaluation ignores the patient item: the same logits as without it.
    module.eval()
    torch.testing.assert_close(module.model(x, feats), plain.eval().model(x, feats))
