"""Registered classifiers: contract, stateful forward, budgets, checkpoints."""

from __future__ import annotations

import json

import pytest
import torch

from cardioliquid.errors import ContractError
from cardioliquid.models import create_model, list_models
from cardioliquid.models.checkpoint import load_model, save_model
from cardioliquid.models.classifier import LiquidClassifier
from cardioliquid.signal.config import BeatPreprocessing

BEAT = {"n_chans": 1, "n_outputs": 5, "n_times": 126, "sfreq": 180.0, "n_features": 7}
SEIZURE = {"n_chans": 18, "n_outputs": 2, "n_times": 256, "sfreq": 128.0}


def test_registry_lists_liquid_models_and_baselines():
    assert {"liquid-cfc", "liquid-ltc", "lstm", "gru"} <= set(list_models())


@pytest.mark.parametrize("name", ["liquid-cfc", "liquid-ltc", "lstm", "gru"])
def test_forward_and_stateful_forward(name):
    torch.manual_seed(0)
    m = create_model(name, **BEAT, units=12, **({"motor_neurons": 4} if "liquid" in name else {}))
    m.eval()
    x, f = torch.randn(3, 1, 126), torch.randn(3, 7)
    logits = m(x, f)
    assert logits.shape == (3, 5)
    out, hx, states = m.forward_stateful(x, f)
    torch.testing.assert_close(out, logits)
    assert states.shape[:2] == (3, m.n_steps) and m.n_steps == 32
    # The state carries over: starting from hx changes the first steps.
    _, _, again = m.forward_stateful(x, f, hx)
    assert not torch.allclose(again[:, 0], states[:, 0])


def test_liquid_states_follow_the_wiring():
    m = create_model("liquid-cfc", **BEAT, units=16, motor_neurons=4).eval()
    assert isinstance(m, LiquidClassifier)
    _, hx, states = m.forward_stateful(torch.randn(2, 1, 126), torch.randn(2, 7))
    assert states.shape == (2, 32, m.wiring.units)
    assert m.wiring.roles.count("motor") == 4
    torch.testing.assert_close(states[:, -1], m.rnn.to_neuron_order(hx))


@pytest.mark.parametrize("name", ["liquid-cfc", "liquid-ltc"])
def test_arrhythmia_and_seizure_models_fit_the_budget(name):
    beat = create_model(name, **BEAT).complexity()
    assert beat["params"] < 20_000 and beat["macs"] < 100_000
    seizure = create_model(name, **SEIZURE, strides=[4, 2]).complexity()
    assert seizure["params"] < 20_000 and seizure["macs"] < 200_000


def test_contract_is_checked():
    m = create_model("liquid-cfc", **BEAT)
    with pytest.raises(ContractError, match=r"expected input of shape \(batch, 1 channels, 126"):
        m(torch.randn(2, 1, 100), torch.randn(2, 7))
    with pytest.raises(ContractError, match="expected 7 extra features per window, got None"):
        m(torch.randn(2, 1, 126))
    assert m.contract.input_window_seconds == pytest.approx(0.7)


def test_bad_front_end_is_reported():
    with pytest.raises(ValueError, match="of the same length"):
        create_model("liquid-cfc", **SEIZURE, conv_channels=[8], kernel_sizes=[3, 3])


def test_one_training_step_reaches_every_parameter():
    torch.manual_seed(0)
    m = create_model("liquid-ltc", **BEAT, ode_unfolds=2)
    loss = torch.nn.functional.cross_entropy(m(torch.randn(8, 1, 126), torch.randn(8, 7)),
                                             torch.randint(0, 5, (8,)))
    loss.backward()
    silent = [n for n, p in m.named_parameters() if p.grad is None or not p.grad.any()]
    assert silent == []


@pytest.mark.parametrize("name", ["liquid-cfc", "liquid-ltc", "lstm"])
def test_checkpoint_round_trip(tmp_path, name):
    kwargs = {**BEAT, "units": 12, "conv_channels": [4, 6]}
    json.dumps(kwargs)  # builder kwargs travel as JSON
    m = create_model(name, **kwargs).eval()
    path = save_model(tmp_path / "m.safetensors", m, name, kwargs, BeatPreprocessing())
    loaded = load_model(path)
    x, f = torch.randn(2, 1, 126), torch.randn(2, 7)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x, f), m(x, f))


def test_saved_model_is_readable_as_any_file_is(tmp_path):
    """safetensors creates its file owner-only (0600); a saved model gets the umask's mode."""
    import os
    import stat

    kwargs = {**BEAT, "units": 12}
    m = create_model("liquid-cfc", **kwargs)
    path = save_model(tmp_path / "m.safetensors", m, "liquid-cfc", kwargs, BeatPreprocessing())
    old = os.umask(0o022)
    os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~old


def test_morphology_dropout_zeroes_whole_windows_in_training_only():
    torch.manual_seed(0)
    m = create_model("liquid-cfc", n_chans=1, n_outputs=3, n_times=64, sfreq=100.0,
                     n_features=2, morphology_dropout=0.5)
    x, f = torch.randn(256, 1, 64), torch.randn(256, 2)
    with torch.no_grad():
        m.head.weight[:, -2:] = 0  # logits from the motor neurons only
        m.head.bias.zero_()
        m.train()
        train_logits = m(x, f)
        m.eval()
        eval_logits = m(x, f)
    dropped = (train_logits.abs().sum(-1) == 0).float().mean()
    assert 0.35 < dropped < 0.65  # about half of the windows lost their morphology
    assert (eval_logits.abs().sum(-1) > 0).all()  # evaluation keeps every window whole
    with pytest.raises(ValueError, match="morphology_dropout"):
        create_model("liquid-cfc", n_chans=1, n_outputs=3, n_times=64, sfreq=100.0,
                     morphology_dropout=1.0)


def test_feature_hidden_adds_a_nonlinear_feature_path_before_the_head():
    kw = dict(n_chans=1, n_outputs=3, n_times=64, sfreq=100.0, n_features=4)
    base = create_model("liquid-cfc", **kw)
    m = create_model("liquid-cfc", feature_hidden=6, **kw).eval()
    assert [type(x) for x in m.feature_mlp] == [torch.nn.Linear, torch.nn.Tanh, torch.nn.Linear]
    # The head is still the last Linear, which "head" patient adaptation tunes.
    assert [x for x in m.modules() if isinstance(x, torch.nn.Linear)][-1] is m.head
    extra = 4 * 6 + 6 + 6 * 3 + 3
    assert m.complexity()["params"] == base.complexity()["params"] + extra
    assert m.complexity()["macs"] == base.complexity()["macs"] + 4 * 6 + 6 * 3
    x, f = torch.randn(5, 1, 64), torch.randn(5, 4)
    with torch.no_grad():
        for layer in m.feature_mlp:
            if isinstance(layer, torch.nn.Linear):
                layer.weight.zero_()
                layer.bias.zero_()
        no_mlp = m(x, f)
        m.feature_mlp[2].bias.fill_(1.0)
        torch.testing.assert_close(m(x, f), no_mlp + 1.0)  # its logits add to the head's
    with torch.no_grad():
        m.head.weight.zero_()
        m.head.bias.zero_()
        m.feature_mlp[0].weight.normal_()
        m.feature_mlp[2].weight.normal_()
        # With the head silenced the logits depend on the features alone.
        torch.testing.assert_close(m(torch.randn(5, 1, 64), f), m(x, f))


def test_morphology_tied_outputs_leave_only_the_features_to_separate_them():
    kw = dict(n_chans=1, n_outputs=5, n_times=64, sfreq=100.0, n_features=3)
    m = create_model("liquid-cfc", morphology_tied_outputs=[0, 1], **kw).eval()
    assert "morphology_tie" not in m.state_dict()  # same checkpoint keys as untied models
    with torch.no_grad():
        m.head.weight[:, -3:] = 0  # no feature path: logits from the motor neurons only
        m.head.bias.zero_()
        logits = m(torch.randn(8, 1, 64), torch.randn(8, 3))
    torch.testing.assert_close(logits[:, 0], logits[:, 1])  # N and S tied...
    assert not torch.allclose(logits[:, 1], logits[:, 2])  # ...V still apart
    with torch.no_grad():
        m.head.weight[1, -3:] = 1.0  # the features do separate them
        x, f = torch.randn(8, 1, 64), torch.randn(8, 3)
        logits = m(x, f)
    torch.testing.assert_close(logits[:, 1] - logits[:, 0], f.sum(-1), atol=1e-4, rtol=1e-4)
    # Gradients still reach every head weight (the tie is a fixed map, not a mask).
    m.train()
    m(torch.randn(8, 1, 64), torch.randn(8, 3)).logsumexp(-1).sum().backward()
    assert m.head.weight.grad[:2].abs().sum() > 0
    with pytest.raises(ValueError, match="morphology_tied_outputs"):
        create_model("liquid-cfc", morphology_tied_outputs=[0, 5], **kw)


def test_cumulative_feature_stats_are_the_training_sets_and_ignore_batch_order():
    kw = dict(n_chans=1, n_outputs=3, n_times=64, sfreq=100.0, n_features=2)
    feats = torch.randn(64, 2)
    feats[-4:, 0] = 50.0  # a few outliers (beats after long pauses), seen last
    runs = {}
    for stats in ("ema", "cumulative"):
        for order in ("as-is", "reversed"):
            m = create_model("liquid-cfc", feature_stats=stats, **kw).train()
            f = feats if order == "as-is" else feats.flip(0)
            with torch.no_grad():
                for batch in f.split(8):
                    m(torch.randn(len(batch), 1, 64), batch)
            runs[stats, order] = m.feature_norm.running_mean.clone()
    # Cumulative: the mean of the 8 batch means (the data mean), whatever the order.
    torch.testing.assert_close(runs["cumulative", "as-is"], runs["cumulative", "reversed"])
    torch.testing.assert_close(runs["cumulative", "as-is"], feats.mean(0), atol=1e-5, rtol=1e-5)
    # The default exponential average follows the last batches.
    assert runs["ema", "as-is"][0] > runs["ema", "reversed"][0] + 1
    with pytest.raises(ValueError, match="feature_stats"):
        create_model("liquid-cfc", feature_stats="median", **kw)


def test_feature_standardizer_is_robust_to_outliers_and_saved_with_the_model(tmp_path):
    from cardioliquid.models.classifier import FeatureStandardizer

    g = torch.Generator().manual_seed(0)
    f = torch.randn(1000, 2, generator=g) * torch.tensor([0.2, 3.0]) + torch.tensor([1.0, -2.0])
    f[:10, 0] = 50.0  # 1 % extreme values (beats after long pauses)
    norm = FeatureStandardizer(2).fit(f)
    assert bool(norm.fitted)
    # Median and IQR ignore the outliers; the standard deviation would be ~5.
    torch.testing.assert_close(norm.center, torch.tensor([1.0, -2.0]), atol=0.3, rtol=0)
    torch.testing.assert_close(norm.scale, torch.tensor([0.2, 3.0]), atol=0.03, rtol=0.1)
    out = norm(f)
    assert out.abs().max() <= 8.0 and out[:10, 0].eq(8.0).all()  # outliers clamped
    # Same in training and evaluation (no batch statistics).
    torch.testing.assert_close(norm.train()(f[:7]), norm.eval()(f[:7]))
    constant = torch.zeros(50, 2)
    constant[:, 1] = torch.arange(50.0)
    assert FeatureStandardizer(2).fit(constant).scale[0] == 1.0  # no division by zero
    with pytest.raises(ValueError, match="shape"):
        FeatureStandardizer(2).fit(torch.zeros(5, 3))
    kw = dict(n_chans=1, n_outputs=3, n_times=64, sfreq=100.0, n_features=2)
    m = create_model("liquid-cfc", feature_stats="fixed", **kw)
    m.feature_norm.fit(f)
    state = m.state_dict()
    assert {"feature_norm.center", "feature_norm.scale"} <= set(state)
    m2 = create_model("liquid-cfc", feature_stats="fixed", **kw)
    m2.load_state_dict(state)
    torch.testing.assert_close(m2.feature_norm.scale, norm.scale)
