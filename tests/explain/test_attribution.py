import numpy as np
import pytest
import torch

from cardioliquid.errors import ContractError
from cardioliquid.explain import attribute_neurons


def test_integrated_gradients_is_complete(tiny_model, tiny_inputs):
    att = attribute_neurons(tiny_model, tiny_inputs, method="integrated_gradients", steps=64)
    with torch.no_grad():
        full = tiny_model.forward_stateful(tiny_inputs)[0]
        off = tiny_model.forward_stateful(tiny_inputs, neuron_gate=torch.zeros(6, 8))[0]
    rows = np.arange(6)
    gap = (full - off).numpy()[rows, att.target]
    # completeness: the attributions add up to F(trained) - F(silenced)
    np.testing.assert_allclose(att.scores.sum(axis=1), gap, atol=5e-3 * np.abs(gap).max())
    np.testing.assert_allclose(att.delta, gap - att.scores.sum(axis=1), atol=1e-5)
    assert np.array_equal(att.target, full.argmax(1).numpy())


def test_grad_x_activation_equals_sum_over_time_of_state_times_gradient(tiny_model, tiny_inputs):
    """Unroll by hand: d logit / d h(t) through the recurrence, times h(t), summed over t."""
    x = tiny_inputs[:1]
    att = attribute_neurons(tiny_model, x, method="grad_x_activation", target=1)
    m = tiny_model
    drive = m.inp(x.transpose(1, 2))
    h = torch.zeros(1, 8)
    states = []
    for k in range(x.shape[-1]):
        h = 0.5 * h + 0.5 * torch.tanh(drive[:, k] + h @ (m.rec * m.mask).T)
        h.retain_grad()
        states.append(h)
    m.head(h[:, -2:])[0, 1].backward()
    expected = sum((s.grad * s).detach() for s in states)[0].numpy()
    np.testing.assert_allclose(att.scores[0], expected, rtol=1e-4, atol=1e-6)


def test_shares_sum_to_one_and_top_is_sorted(tiny_model, tiny_inputs):
    att = attribute_neurons(tiny_model, tiny_inputs, method="grad_x_activation")
    np.testing.assert_allclose(att.share.sum(axis=1), 1.0, atol=1e-6)
    top = att.top(3)
    assert [s for _, s, _ in top] == sorted((s for _, s, _ in top), reverse=True)
    assert top[0][1] == pytest.approx(att.share[0].max())


def test_model_without_gate_is_refused(tiny_inputs):
    class NoGate(torch.nn.Module):
        def forward_stateful(self, x, features=None, hx=None):
            s = x.transpose(1, 2)
            return s[:, -1], s[:, -1], s

    with pytest.raises(ContractError, match="neuron_gate"):
        attribute_neurons(NoGate(), tiny_inputs)


def test_unknown_method_is_refused(tiny_model, tiny_inputs):
    with pytest.raises(ValueError, match="'method' parameter"):
        attribute_neurons(tiny_model, tiny_inputs, method="saliency")


def test_liquid_layer_without_gate_argument_is_gated_stepwise(cfc_model, tiny_inputs):
    """A real CfC: gate 1 reproduces the model, and IG adds up to F(trained) - F(silenced)."""
    from cardioliquid.explain.attribution import _gated_logits

    x = tiny_inputs[:3]
    with torch.no_grad():
        plain = cfc_model.forward_stateful(x)[0]
        gated = _gated_logits(cfc_model, x, None, torch.ones(3, 10))
        off = _gated_logits(cfc_model, x, None, torch.zeros(3, 10))
    torch.testing.assert_close(gated, plain, rtol=1e-5, atol=1e-5)
    att = attribute_neurons(cfc_model, x, method="integrated_gradients", steps=12)
    gap = (plain - off).numpy()[np.arange(3), att.target]
    np.testing.assert_allclose(att.scores.sum(axis=1), gap, atol=0.03 * np.abs(gap).max() + 1e-4)
    assert not hasattr(cfc_model.rnn, "_scan") or "_scan" not in vars(cfc_model.rnn)


def _rhythm_model():
    from cardioliquid.models.registry import create_model

    torch.manual_seed(0)
    return create_model("liquid-rhythm-cfc", n_chans=1, n_outputs=5, n_times=40, sfreq=180.0,
                        n_features=9, timespan_feature=6, units=12, motor_neurons=5).eval()


def _runs(n_runs: int, n_beats: int):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n_runs, n_beats, 1, 40, generator=g)
    f = torch.rand(n_runs, n_beats, 9, generator=g) + 0.5  # column 6: RR of 0.5-1.5 s
    return x, f


def test_runs_of_beats_explain_the_last_beat_with_the_state_carried_into_it():
    """A beat-sequence model: each run's decision is its last beat; integrated gradients
    stay complete with the gate on every beat of the run, so earlier beats count."""
    from cardioliquid.explain import neuron_trajectory

    model = _rhythm_model()
    x, f = _runs(3, 10)
    att = attribute_neurons(model, x, f, method="integrated_gradients", steps=64)
    with torch.no_grad():
        last = model(x, f)[:, -1]
    assert att.scores.shape == (3, 12)
    assert np.array_equal(att.target, last.argmax(1).numpy())
    gap = att.scores.sum(axis=1) + att.delta  # F(trained) - F(silenced) of the last beat
    assert np.abs(att.delta).max() < 5e-3 * np.abs(gap).max()
    # The state carried in matters: the same last beat alone (a run of one) explains otherwise.
    alone = attribute_neurons(model, x[:, -1:], f[:, -1:], target=att.target, steps=64)
    assert np.abs(alone.scores - att.scores).max() > 1e-4
    # Separate beats (3-D) are runs of one, from rest.
    flat = attribute_neurons(model, x[:, -1], f[:, -1], target=att.target, steps=64)
    np.testing.assert_allclose(flat.scores, alone.scores, atol=1e-6)
    # The trajectory of one run: one step per beat, the run's last decision.
    traj = neuron_trajectory(model, x[0], f[0])
    assert traj.states.shape == (10, 12)
    np.testing.assert_allclose(traj.proba, torch.softmax(last[0], -1).numpy(), atol=1e-6)
    assert traj.step_s == pytest.approx(float(f[0, :, 6].clamp(0.2, 3.0).mean()), rel=1e-5)


def test_sanity_check_runs_on_runs_of_beats():
    """The check on runs of beats compares the last beats' neuron rankings: the mean Spearman
    correlation of the absolute attributions of the trained and the randomised model."""
    from scipy.stats import spearmanr

    from cardioliquid.explain import model_randomization_test, randomize_weights

    model = _rhythm_model()
    x, f = _runs(6, 8)
    result = model_randomization_test(model, x, f, steps=8)
    trained = attribute_neurons(model, x, f, steps=8)
    rand = attribute_neurons(randomize_weights(model, seed=0), x, f, target=trained.target,
                             steps=8)
    expected = np.mean([spearmanr(np.abs(a), np.abs(b)).statistic
                        for a, b in zip(trained.scores, rand.scores, strict=True)])
    assert result.rank_correlation == pytest.approx(expected, abs=1e-9)
    assert result.threshold == 0.5 and result.passed == (expected < 0.5)
    top = [(set(np.argsort(-a)[:3]), set(np.argsort(-b)[:3]))
           for a, b in zip(trained.share, rand.share, strict=True)]
    assert result.top_k_overlap == pytest.approx(np.mean([len(a & b) / len(a | b)
                                                          for a, b in top]))
