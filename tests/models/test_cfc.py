"""CfC: same outputs and gradients as ncps; sparse masks stay sparse; streaming == one-shot."""

from __future__ import annotations

import copy

import pytest
import torch
from _ncps_ref import copy_cfc, ncps_cfc

from cardioliquid.models.cfc import CfC
from cardioliquid.models.wiring import auto_ncp, random_sparse

STRUCTURES = {
    "auto_ncp": lambda: auto_ncp(14, 3, sparsity=0.5),
    "random": lambda: random_sparse(9, sparsity=0.5),
    "unwired-backbone": lambda: 11,
    "unwired-no-backbone": lambda: 11,
}


def _make(structure: str, mode: str) -> CfC:
    units = STRUCTURES[structure]()
    return CfC(5, units, mode=mode, backbone_units=16, backbone_layers=(
        0 if structure == "unwired-no-backbone" else 1))


def _ncps_grads(ref, ours: CfC) -> dict[str, torch.Tensor]:
    """ncps parameter gradients expressed in our parameter layout."""
    grads = {n: p.grad for n, p in ref.named_parameters() if p.requires_grad}
    ref_g = copy.deepcopy(ref)  # (deepcopy drops .grad of parameters)
    for n, p in ref_g.named_parameters():
        if n in grads:
            p.data = torch.zeros_like(p) if grads[n] is None else grads[n].clone()
    into = copy.deepcopy(ours)
    copy_cfc(ref_g, into)
    return dict(into.named_parameters())


@pytest.mark.parametrize("mode", ["default", "no_gate", "pure"])
@pytest.mark.parametrize("structure", list(STRUCTURES))
@pytest.mark.parametrize("timed", [False, True])
def test_matches_ncps_outputs_and_gradients(float64, structure, mode, timed):
    ours = _make(structure, mode)
    ref = ncps_cfc(ours)
    # ncps squeezes per-sample time spans and then broadcasts them wrongly for
    # batch > 1, so with time spans the reference runs one sequence at a time.
    batch = 1 if timed else 3
    x = torch.randn(batch, 9, 5)
    ts = torch.rand(batch, 9) + 0.2 if timed else None
    hx = torch.randn(batch, ours.state_size) * 0.5
    xo, xr = x.clone().requires_grad_(), x.clone().requires_grad_()
    yo, ho = ours(xo, hx, ts)
    yr, hr = ref(xr, hx, ts)
    torch.testing.assert_close(yo, yr, atol=1e-5, rtol=0)
    torch.testing.assert_close(ho, hr, atol=1e-5, rtol=0)
    (yo.square().sum() + ho.sum()).backward()
    (yr.square().sum() + hr.sum()).backward()
    torch.testing.assert_close(xo.grad, xr.grad, atol=1e-5, rtol=0)
    expected = _ncps_grads(ref, ours)
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, expected[name].data, atol=1e-5, rtol=0, msg=name)


@pytest.mark.parametrize("mode", ["default", "pure"])
@pytest.mark.parametrize("structure", ["auto_ncp", "unwired-no-backbone"])
@pytest.mark.parametrize("timed", [False, True])
def test_mixed_memory_matches_ncps(float64, structure, mode, timed):
    ours = CfC(5, STRUCTURES[structure](), mode=mode, backbone_layers=0, mixed_memory=True)
    ref = ncps_cfc(ours)
    batch, n = (1 if timed else 3), ours.state_size
    x = torch.randn(batch, 9, 5)
    ts = torch.rand(batch, 9) + 0.2 if timed else None
    hx = torch.randn(batch, 2 * n) * 0.5
    xo, xr = x.clone().requires_grad_(), x.clone().requires_grad_()
    yo, ho = ours(xo, hx, ts)
    yr, (hr, cr) = ref(xr, (hx[:, :n], hx[:, n:]), ts)
    torch.testing.assert_close(yo, yr, atol=1e-5, rtol=0)
    torch.testing.assert_close(ho, torch.cat([hr, cr], -1), atol=1e-5, rtol=0)
    (yo.square().sum() + ho.sum()).backward()
    (yr.square().sum() + hr.sum() + cr.sum()).backward()
    torch.testing.assert_close(xo.grad, xr.grad, atol=1e-5, rtol=0)
    expected = _ncps_grads(ref, ours)
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, expected[name].data, atol=1e-5, rtol=0, msg=name)
    # Streaming carries [h, c].
    with torch.no_grad():
        hs = hx
        for t in range(9):
            _, hs = ours.step(x[:, t], hs, None if ts is None else ts[:, t])
        torch.testing.assert_close(hs, ho, atol=1e-12, rtol=0)


def test_float32_matches_ncps_on_a_long_sequence():
    torch.manual_seed(1)
    ours = CfC(4, auto_ncp(20, 5))
    ref = ncps_cfc(ours)
    x = torch.randn(8, 200, 4)
    with torch.no_grad():
        torch.testing.assert_close(ours(x)[0], ref(x)[0], atol=1e-5, rtol=0)


def test_absent_synapses_get_no_gradient_and_stay_absent():
    torch.manual_seed(0)
    m = CfC(4, auto_ncp(16, 4, sparsity=0.7))
    absent_in, absent_rec = m.input_mask == 0, m.recurrent_mask == 0
    assert absent_rec.any() and absent_in.any()
    opt = torch.optim.AdamW(m.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        m(torch.randn(4, 12, 4))[0].square().mean().backward()
        assert not m.recurrent_weight.grad[absent_rec].any()
        assert not m.input_weight.grad[absent_in].any()
        opt.step()
    assert not m.recurrent_weight[absent_rec].any()
    assert not m.input_weight[absent_in].any()
    assert m.recurrent_weight[~absent_rec].abs().sum() > 0


@pytest.mark.parametrize("mode", ["default", "no_gate", "pure"])
@pytest.mark.parametrize("units", [lambda: auto_ncp(14, 3), lambda: 10])
def test_streaming_equals_one_shot(float64, mode, units):
    m = CfC(3, units(), mode=mode, backbone_units=8).eval()
    x = torch.randn(2, 30, 3)
    ts = torch.rand(2, 30) + 0.5
    with torch.no_grad():
        y, h = m(x, timespans=ts)
        chunks, hx = [], None
        for a, b in [(0, 7), (7, 8), (8, 21), (21, 30)]:
            yc, hx = m(x[:, a:b], hx, ts[:, a:b])
            chunks.append(yc)
        torch.testing.assert_close(torch.cat(chunks, 1), y, atol=1e-12, rtol=0)
        torch.testing.assert_close(hx, h, atol=1e-12, rtol=0)
        steps, hx = [], None
        for t in range(30):
            yt, hx = m.step(x[:, t], hx, ts[:, t])
            steps.append(yt)
        torch.testing.assert_close(torch.stack(steps, 1), y, atol=1e-12, rtol=0)
        torch.testing.assert_close(hx, h, atol=1e-12, rtol=0)


def test_constant_timespan_equals_tensor_of_it(float64):
    m = CfC(3, auto_ncp(12, 3))
    x = torch.randn(2, 10, 3)
    torch.testing.assert_close(m(x, timespans=0.5)[0], m(x, timespans=torch.full((2, 10), 0.5))[0])
    torch.testing.assert_close(m(x, timespans=1.0)[0], m(x)[0])


def test_bad_arguments_are_reported():
    with pytest.raises(ValueError, match="'mode' parameter"):
        CfC(3, 8, mode="fast")
    with pytest.raises(ValueError, match="mixed_memory needs a wiring or backbone_layers=0"):
        CfC(3, 8, mixed_memory=True)


@pytest.mark.parametrize("units", [lambda: auto_ncp(32, 5), lambda: random_sparse(9, sparsity=0.5)])
def test_small_batch_numpy_step_equals_the_scan_in_float32(units):
    """A few streams step through :class:`SmallBatchStep` (NumPy); many streams through
    TorchScript; both equal the one-shot scan, and the scan's outputs-only path equals the
    outputs read from every neuron's states."""
    from cardioliquid.models.cfc import SMALL_BATCH

    torch.manual_seed(0)
    m = CfC(16, units()).eval()
    for batch in (1, SMALL_BATCH + 1):
        x = torch.randn(batch, 25, 16)
        with torch.no_grad():
            y, h = m(x)
            y_states, h_states, _ = m(x, return_states=True)
            hx, steps = None, []
            for t in range(25):
                yt, hx = m.step(x[:, t], hx)
                steps.append(yt)
        assert (m._small_step is not None) == (batch == 1)  # NumPy only for a few streams
        torch.testing.assert_close(y, y_states, atol=0, rtol=0)
        torch.testing.assert_close(h, h_states, atol=0, rtol=0)
        torch.testing.assert_close(torch.stack(steps, 1), y, atol=2e-6, rtol=0)
        torch.testing.assert_close(hx, h, atol=2e-6, rtol=0)
        m.train().eval()  # drops the cached kernels


def test_tracers_and_flop_counters_see_the_torch_step():
    """The NumPy step is invisible to ``torch.jit.trace`` and to dispatch modes, so a
    streaming step traces to a graph of its inputs and the FLOP counter counts it."""
    from torch.utils.flop_counter import FlopCounterMode

    from cardioliquid.models.export import StreamingStep

    torch.manual_seed(0)
    m = CfC(16, auto_ncp(32, 5)).eval()
    x, h = torch.randn(1, 16), torch.randn(1, 32) * 0.3
    with torch.no_grad():
        traced = torch.jit.trace(StreamingStep(m), (x, h))
        x2, h2 = torch.randn(1, 16), torch.randn(1, 32) * 0.3
        torch.testing.assert_close(traced(x2, h2)[1], m.step(x2, h2)[1], atol=2e-6, rtol=0)
        with FlopCounterMode(display=False) as counter:
            m.step(x, h)
    assert counter.get_total_flops() > 0
