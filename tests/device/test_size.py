"""Size: dense vs wired parameters, bytes, and two MAC counters that must agree."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from cardioliquid.device.size import (
    closed_form_macs,
    count_macs_flop_counter,
    count_ops_analytic,
    count_params,
    serialized_bytes,
    state_dict_bytes_torch,
)
from cardioliquid.models.cfc import CfC
from cardioliquid.models.ltc import LTC
from cardioliquid.models.wiring import auto_ncp


def _agree(model: nn.Module, run) -> tuple:
    flop = count_macs_flop_counter(run)
    ops = count_ops_analytic(model, run)
    assert flop.macs > 0
    assert ops.macs == flop.macs, (ops.by_module, flop.by_op)
    return flop, ops


def test_params_of_plain_modules_are_dense() -> None:
    m = nn.Sequential(nn.Conv1d(2, 3, 5), nn.Flatten(), nn.Linear(12, 4))
    p = count_params(m)
    assert p.dense == p.effective == sum(t.numel() for t in m.parameters())
    assert p.masked == {}


def test_ltc_effective_params_are_the_wiring_synapses() -> None:
    wiring = auto_ncp(12, 3, sparsity=0.5, seed=3)
    rnn = LTC(4, wiring)
    p = count_params(rnn)
    n, i = 12, 4
    assert p.dense == sum(t.numel() for t in rnn.parameters())
    syn, sens = rnn.wiring.synapse_count, rnn.wiring.sensory_synapse_count
    # w, sigma, mu, erev per synapse; the same four per sensory synapse.
    assert p.masked["w"] == (n * n, syn)
    assert p.masked["sensory_w"] == (i * n, sens)
    unmasked = p.dense - 4 * n * n - 4 * i * n
    assert p.effective == unmasked + 4 * syn + 4 * sens
    assert p.effective < p.dense


def test_cfc_effective_params_follow_its_masks() -> None:
    rnn = CfC(4, auto_ncp(12, 3, sparsity=0.5, seed=3))
    p = count_params(rnn)
    expected = int(rnn.input_mask.sum() + rnn.recurrent_mask.sum()) + rnn.bias.numel()
    assert p.effective == expected
    assert p.dense == sum(t.numel() for t in rnn.parameters())
    assert "input_mask" not in p.masked  # masks are wiring, not parameters


def test_mask_in_parent_covers_child_weight() -> None:
    class Masked(nn.Module):  # the ncps layout: mask in the cell, weight in a child Linear
        def __init__(self) -> None:
            super().__init__()
            self.ff1 = nn.Linear(4, 3)
            self.register_buffer("sparsity_mask", torch.tensor([[1.0, 0, 0, 1]] * 3).T)

    p = count_params(Masked())
    assert p.masked == {"ff1.weight": (12, 6)}
    assert p.effective == 6 + 3


def test_serialized_bytes_hold_every_parameter() -> None:
    m = nn.Linear(10, 7)
    n_bytes = serialized_bytes(m)
    assert 4 * 77 < n_bytes < 4 * 77 + 1024  # fp32 data + a small JSON header
    assert state_dict_bytes_torch(m) > 4 * 77


def test_counters_agree_with_pencil_and_paper_on_conv_and_linear() -> None:
    m = nn.Sequential(nn.Conv1d(2, 4, 5, stride=2), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 48, 5))
    x = torch.randn(3, 2, 100)
    _, ops = _agree(m, lambda: m(x))
    # conv: 48 output positions x 3 items; linear: 3 rows
    assert ops.macs == closed_form_macs(m, {"0": 48 * 3, "3": 3})
    assert ops.by_module == {"0": 4 * 2 * 5 * 48 * 3, "3": 4 * 48 * 5 * 3}


def test_effective_macs_skip_zero_weights() -> None:
    lin = nn.Linear(6, 4, bias=False)
    with torch.no_grad():
        lin.weight[:, :3] = 0
    ops = count_ops_analytic(lin, lambda: lin(torch.randn(5, 6)))
    assert ops.macs == 5 * 24 and ops.effective_macs == 5 * 12


@pytest.mark.parametrize("timespans", [False, True])
@pytest.mark.parametrize(
    "make",
    [
        lambda: CfC(4, auto_ncp(16, 5, sparsity=0.5)),
        lambda: CfC(4, auto_ncp(16, 5), mode="no_gate", return_sequences=False),
        lambda: CfC(4, auto_ncp(16, 5), mode="pure"),
        lambda: CfC(3, 8, backbone_units=12, backbone_layers=2),
        lambda: CfC(3, 8, backbone_layers=0),
        lambda: LTC(4, auto_ncp(12, 3, sparsity=0.5), ode_unfolds=3),
        lambda: LTC(3, 6, return_sequences=False),
    ],
    ids=["cfc-ncp", "cfc-nogate", "cfc-pure", "cfc-backbone", "cfc-dense", "ltc-ncp", "ltc-fc"],
)
def test_liquid_formulas_agree_with_flop_counter(make, timespans: bool) -> None:
    rnn = make().eval()
    x = torch.randn(2, 9, rnn.input_size)
    ts = torch.rand(2, 9) + 0.5 if timespans else None
    _, ops = _agree(rnn, lambda: rnn(x, timespans=ts))
    assert 0 < ops.effective_macs <= ops.macs
    assert ops.transcendental > 0


def test_ltc_effective_macs_are_three_per_synapse_evaluation() -> None:
    rnn = LTC(4, auto_ncp(12, 3, sparsity=0.5), ode_unfolds=3).eval()
    ops = count_ops_analytic(rnn, lambda: rnn(torch.randn(1, 10, 4)))
    syn, sens = rnn.wiring.synapse_count, rnn.wiring.sensory_synapse_count
    assert ops.effective_macs == 3 * 10 * (sens + 3 * syn)
    assert ops.transcendental == 10 * (sens + 3 * syn)


def test_whole_model_counters_agree(tiny_model) -> None:
    x, f = torch.randn(1, 1, 42), torch.randn(1, 2)
    _, ops = _agree(tiny_model, lambda: tiny_model(x, f))
    assert set(ops.by_module) == {"conv", "rnn", "head"}
    assert ops.by_module["head"] == 5 * 3
    assert ops.by_module["conv"] == 4 * 6 * 7


def test_streaming_step_counts_agree(tiny_model) -> None:
    rnn = tiny_model.rnn
    x_t, hx = torch.randn(1, 4), rnn.initial_state(1)
    flop = count_macs_flop_counter(lambda: rnn.step(x_t, hx))
    ops = count_ops_analytic(rnn, lambda: rnn(x_t.unsqueeze(1), hx))
    assert flop.macs == ops.macs > 0


@pytest.mark.parametrize("name", ["liquid-cfc", "liquid-ltc", "gru"])
def test_registered_classifiers_counters_agree(name: str) -> None:
    from cardioliquid.models.registry import create_model

    m = create_model(name, n_chans=2, n_outputs=3, n_times=64, sfreq=64.0, n_features=2,
                     units=12).eval()  # fmt: skip
    x, f = torch.randn(1, 2, 64), torch.randn(1, 2)
    _, ops = _agree(m, lambda: m(x, f))
    assert ops.by_module["head"] == m.head.weight.numel()


def test_lstm_formula_where_the_flop_counter_is_blind() -> None:
    lstm = nn.LSTM(3, 5, num_layers=2, batch_first=True)
    x = torch.randn(2, 7, 3)
    ops = count_ops_analytic(lstm, lambda: lstm(x))
    per_step = 4 * 5 * (3 + 5) + 4 * 5 * (5 + 5)  # two layers, 4 gates each
    assert ops.macs == ops.effective_macs == 2 * 7 * per_step
    assert ops.transcendental == 2 * 7 * 2 * 5 * 5  # 3 sigmoid + 2 tanh per unit and layer
    # The fused CPU LSTM has no FLOP formula in FlopCounterMode: it can only undercount.
    assert count_macs_flop_counter(lambda: lstm(x)).macs <= ops.macs


def test_lstm_classifier_matches_the_models_own_count() -> None:
    from cardioliquid.models.registry import create_model

    m = create_model("lstm", n_chans=1, n_outputs=5, n_times=126, sfreq=180.0, n_features=4)
    m.eval()
    ops = count_ops_analytic(m, lambda: m(torch.randn(1, 1, 126), torch.randn(1, 4)))
    assert ops.macs == m.complexity()["macs"]


def test_time_major_rnn_input_is_read_as_steps_first() -> None:
    gru = nn.GRU(3, 4)  # (steps, batch, features)
    x = torch.randn(6, 2, 3)
    ops = count_ops_analytic(gru, lambda: gru(x))
    assert ops.macs == count_macs_flop_counter(lambda: gru(x)).macs == 6 * 2 * 3 * 4 * (3 + 4)


def test_tied_head_and_fixed_feature_scaling_keep_the_counters_in_agreement() -> None:
    from cardioliquid.models.registry import create_model

    m = create_model("liquid-cfc", n_chans=1, n_outputs=5, n_times=64, sfreq=64.0, n_features=3,
                     units=12, morphology_tied_outputs=[0, 1], feature_stats="fixed").eval()
    x, f = torch.randn(1, 1, 64), torch.randn(1, 3)
    _, ops = _agree(m, lambda: m(x, f))
    # Averaging the tied rows is not a multiply-accumulate: the head costs one Linear.
    assert ops.by_module["head"] == m.head.weight.numel()
