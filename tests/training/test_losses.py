"""The losses beside cross-entropy and the balanced class weights."""

from __future__ import annotations

import pytest
import torch

from cardioliquid.training.losses import (
    FORECAST_AHEAD,
    balanced_weights,
    focal_loss,
    rhythm_forecast_loss,
)


def test_balanced_weights_favour_rare_classes():
    w = balanced_weights(torch.tensor([900, 90, 10, 0]), power=1.0)
    assert w[3] == 0
    assert w[2] > w[1] > w[0]
    assert torch.isclose(w[:3].mean(), torch.tensor(1.0))
    # power 0 means unweighted
    assert torch.allclose(balanced_weights(torch.tensor([5, 50]), power=0.0), torch.ones(2))


def test_class_weight_cap_bounds_the_rarest_class():
    counts = torch.tensor([45866, 944, 3788, 415, 8])  # DS1's N S V F Q
    free = balanced_weights(counts, power=1.0)
    assert free[4] / free[0] > 5000  # 8 Q beats would dominate the loss
    capped = balanced_weights(counts, power=1.0, max_ratio=20.0)
    ratio = capped / capped[0]
    assert torch.isclose(ratio.max(), torch.tensor(20.0))
    assert torch.isclose(ratio[2], free[2] / free[0])  # V (ratio ~12) is under the cap
    assert torch.isclose(capped.mean(), torch.tensor(1.0))
    with pytest.raises(ValueError, match="max_ratio"):
        balanced_weights(counts, max_ratio=0.0)


def test_focal_loss_is_weighted_cross_entropy_at_gamma_zero_and_discounts_easy_beats():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(12, 3, generator=g)
    target = torch.randint(0, 3, (12,), generator=g)
    weight = torch.tensor([0.5, 2.0, 1.0])
    torch.testing.assert_close(focal_loss(logits, target, weight, 0.0),
                               torch.nn.functional.cross_entropy(logits, target, weight=weight))
    # A sure, right beat loses almost all its loss; a sure, wrong one keeps almost all of it.
    easy, hard = torch.tensor([[6.0, 0.0, 0.0]]), torch.tensor([[0.0, 6.0, 0.0]])
    zero = torch.tensor([0])
    ones = torch.ones(3)
    assert focal_loss(easy, zero, ones, 2.0) < 1e-3 * focal_loss(easy, zero, ones, 0.0)
    assert focal_loss(hard, zero, ones, 2.0) > 0.99 * focal_loss(hard, zero, ones, 0.0)


def test_rhythm_forecast_loss_is_one_minus_r2_over_labelled_pairs():
    g = torch.Generator().manual_seed(0)
    rr = 0.6 + 0.5 * torch.rand(2, 40, generator=g)
    feats = torch.zeros(2, 40, 3)
    feats[..., 1] = rr
    labels = torch.zeros(2, 40, dtype=torch.long)
    # A state whose first neuron after beat t holds log RR of beat t + 2: a perfect forecast.
    states = torch.zeros(2, 40, 4)
    states[:, :-FORECAST_AHEAD, 0] = rr[:, FORECAST_AHEAD:].log()
    head = torch.nn.Linear(4, 1).requires_grad_(False)
    with torch.no_grad():
        head.weight.zero_()
        head.weight[0, 0] = 1.0
        head.bias.zero_()
    assert float(rhythm_forecast_loss(head, states, feats, labels, column=1)) < 1e-10
    # Knowing only the mean: 1 - R² = 1 (n - 1 over n, from the unbiased variance).
    target = rr[:, FORECAST_AHEAD:].log()
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(float(target.mean()))
    assert abs(float(rhythm_forecast_loss(head, states, feats, labels, column=1)) - 1) < 0.02
    # Padding (label -1) takes no part: changing its interval changes nothing.
    labels[0, 30:] = -1
    before = rhythm_forecast_loss(head, states, feats, labels, column=1)
    feats[0, 30:, 1] = 5.0
    torch.testing.assert_close(rhythm_forecast_loss(head, states, feats, labels, column=1),
                               before)
