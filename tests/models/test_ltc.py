"""LTC: same outputs and gradients as ncps; constraints; streaming == one-shot."""

from __future__ import annotations

import pytest
import torch
from _ncps_ref import ncps_ltc

from cardioliquid.models.ltc import LTC
from cardioliquid.models.wiring import auto_ncp, random_sparse

WIRINGS = {
    "auto_ncp": lambda: auto_ncp(14, 3, sparsity=0.5),
    "random": lambda: random_sparse(8, 2, sparsity=0.5),
    "unwired": lambda: 7,
}


def _perturb(m: LTC) -> None:
    """Move the parameters off their init so every term matters."""
    with torch.no_grad():
        for name in ("input_w", "input_b", "output_w", "output_b", "erev", "sensory_erev"):
            p = getattr(m, name)
            p.add_(torch.randn_like(p) * 0.3)


@pytest.mark.parametrize("wiring", list(WIRINGS))
@pytest.mark.parametrize("timed", [False, True])
@pytest.mark.parametrize("implicit", [True, False])
def test_matches_ncps_outputs_and_gradients(float64, wiring, timed, implicit):
    ours = LTC(4, WIRINGS[wiring](), ode_unfolds=3, implicit_constraints=implicit)
    _perturb(ours)
    ref = ncps_ltc(ours)
    x = torch.randn(3, 8, 4)
    ts = torch.rand(3, 8) + 0.2 if timed else None
    hx = torch.randn(3, ours.state_size) * 0.3
    xo = x.clone().requires_grad_()
    yo, ho = ours(xo, hx, ts)
    (yo.square().sum() + ho.sum()).backward()
    # ncps broadcasts per-sample time spans wrongly for batch > 1 (it squeezes
    # them to (batch,) and divides a (units,) vector by it): one sequence at a time.
    ref_grads = {n: torch.zeros_like(p) for n, p in ref.rnn_cell.named_parameters()}
    for b in range(3):
        xr = x[b : b + 1].clone().requires_grad_()
        ref.zero_grad()
        yr, hr = ref(xr, hx[b : b + 1], None if ts is None else ts[b : b + 1])
        torch.testing.assert_close(yo[b : b + 1], yr, atol=1e-5, rtol=0)
        torch.testing.assert_close(ho[b : b + 1], hr, atol=1e-5, rtol=0)
        (yr.square().sum() + hr.sum()).backward()
        torch.testing.assert_close(xo.grad[b : b + 1], xr.grad, atol=1e-5, rtol=0)
        for n, p in ref.rnn_cell.named_parameters():
            if p.grad is not None:
                ref_grads[n] += p.grad
    for n, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, ref_grads[n], atol=1e-5, rtol=0, msg=n)


def test_float32_matches_ncps_on_a_long_sequence():
    torch.manual_seed(2)
    ours = LTC(3, auto_ncp(16, 4))
    ref = ncps_ltc(ours)
    x = torch.randn(4, 120, 3)
    with torch.no_grad():
        torch.testing.assert_close(ours(x)[0], ref(x)[0], atol=1e-5, rtol=0)


def test_absent_synapses_get_no_gradient():
    m = LTC(3, auto_ncp(16, 4, sparsity=0.7))
    m(torch.randn(2, 10, 3))[0].sum().backward()
    absent = m.sparsity_mask == 0
    for name in ("w", "sigma", "mu", "erev"):
        assert not getattr(m, name).grad[absent].any(), name
    assert not m.sensory_w.grad[m.sensory_sparsity_mask == 0].any()


def test_explicit_constraints_clip_at_zero():
    m = LTC(3, 6, implicit_constraints=False)
    with torch.no_grad():
        m.w.fill_(-1.0)
        m.cm.fill_(-0.5)
    m.apply_weight_constraints()
    assert (m.w == 0).all() and (m.cm == 0).all()


def test_streaming_equals_one_shot(float64):
    m = LTC(3, auto_ncp(12, 3), ode_unfolds=4).eval()
    x = torch.randn(2, 25, 3)
    ts = torch.rand(2, 25) + 0.5
    with torch.no_grad():
        y, h = m(x, timespans=ts)
        ya, ha = m(x[:, :11], None, ts[:, :11])
        yb, _ = m(x[:, 11:], ha, ts[:, 11:])
        torch.testing.assert_close(torch.cat([ya, yb], 1), y, atol=1e-12, rtol=0)
        steps, hx = [], None
        for t in range(25):
            yt, hx = m.step(x[:, t], hx, ts[:, t])
            steps.append(yt)
        torch.testing.assert_close(torch.stack(steps, 1), y, atol=1e-12, rtol=0)
        torch.testing.assert_close(hx, h, atol=1e-12, rtol=0)


def test_bad_unfolds_are_reported():
    with pytest.raises(ValueError, match="expected ode_unfolds >= 1, got 0"):
        LTC(3, 5, ode_unfolds=0)


def test_lean_streaming_step_equals_one_shot(float64):
    m = LTC(3, auto_ncp(12, 3), ode_unfolds=4).eval()
    x = torch.randn(2, 9, 3)
    with torch.no_grad():
        y, h = m(x)
        hx, ys = None, []
        for t in range(9):
            yt, hx = m.step(x[:, t], hx)
            ys.append(yt)
        torch.testing.assert_close(torch.stack(ys, 1), y, atol=1e-12, rtol=0)
        torch.testing.assert_close(hx, h, atol=1e-12, rtol=0)
        with torch.no_grad():  # the cache follows in-place weight changes
            m.cm.add_(0.5)
        torch.testing.assert_close(m.step(x[:, 0])[1], m(x[:, :1])[1], atol=1e-12, rtol=0)
