import numpy as np
import pytest
import torch

from cardioliquid.explain import (
    attribute_neurons,
    model_randomization_test,
    randomize_weights,
    sanity,
)


def test_randomized_copy_keeps_wiring_and_original(tiny_model):
    before = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    rand = randomize_weights(tiny_model, seed=3)
    for k, v in tiny_model.state_dict().items():
        assert torch.equal(v, before[k])
    assert torch.equal(rand.mask, tiny_model.mask)
    assert not torch.equal(rand.rec, tiny_model.rec)


def test_attributions_change_when_weights_are_randomized(tiny_model, tiny_inputs):
    for method in ("integrated_gradients", "grad_x_activation"):
        result = model_randomization_test(tiny_model, tiny_inputs, method=method, steps=8)
        assert result.passed, (method, result)
        assert result.rank_correlation < 0.5


def test_the_check_fails_an_explanation_that_ignores_the_weights(tiny_model, tiny_inputs,
                                                                 monkeypatch):
    """A control: the same model 'randomised' with its own weights keeps its ranking, so the
    check, fed weights that did not change, must fail (rank correlation 1, same top-k)."""
    same = attribute_neurons(tiny_model, tiny_inputs, method="grad_x_activation")
    again = attribute_neurons(
        randomize_weights(tiny_model, modules=[]), tiny_inputs, method="grad_x_activation"
    )
    np.testing.assert_allclose(same.scores, again.scores, rtol=1e-6)
    real = sanity.randomize_weights
    monkeypatch.setattr(sanity, "randomize_weights",
                        lambda model, seed=0, modules=None: real(model, seed, modules=[]))
    for method in ("integrated_gradients", "grad_x_activation"):
        result = model_randomization_test(tiny_model, tiny_inputs, method=method, steps=8)
        assert result.rank_correlation == pytest.approx(1.0), (method, result)
        assert result.top_k_overlap == pytest.approx(1.0), (method, result)
        assert not result.passed, (method, result)


def test_cascade_reports_every_stage(tiny_model, tiny_inputs):
    result = model_randomization_test(
        tiny_model, tiny_inputs, method="grad_x_activation", cascade=True
    )
    names = [name for name, _ in result.cascade]
    assert names[0] == "head" and sorted(names) == ["head", "inp", "rec"]
    assert all(-1.0 <= r <= 1.0 for _, r in result.cascade)
