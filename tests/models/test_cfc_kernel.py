"""The fused CPU kernel of the CfC scan computes what the TorchScript scan computes."""

from __future__ import annotations

import shutil

import pytest
import torch

import cardioliquid.models.cfc as cfc_module
import cardioliquid.models.kernels as kernels
from cardioliquid.models.cfc import CfC
from cardioliquid.models.wiring import auto_ncp

CAN_BUILD = shutil.which("c++") is not None and shutil.which("ninja") is not None


@pytest.fixture
def kernel():
    """The built kernel; a machine with a compiler and ninja must be able to build it."""
    module = kernels.cfc_kernel()
    if module is None:
        if CAN_BUILD and kernels.kernels_enabled():
            pytest.fail("a compiler and ninja are here, but the CfC kernel did not build")
        pytest.skip("no C++ compiler or ninja, or CARDIOLIQUID_KERNELS=0")
    return module


def _both(monkeypatch, fn):
    """``fn()`` through the TorchScript scan, then through the kernel."""
    monkeypatch.setenv(kernels.ENV, "0")
    reference = fn()
    monkeypatch.setenv(kernels.ENV, "1")
    return reference, fn()


@pytest.mark.slow
@pytest.mark.parametrize("wiring", ["ncp", "ncp-small", "dense"])
@pytest.mark.parametrize("timespans", [None, "tensor", 0.5])
@pytest.mark.parametrize("states", [False, True])
def test_kernel_equals_torchscript_scan(kernel, monkeypatch, wiring, timespans, states):
    torch.manual_seed(0)
    units = {"ncp": auto_ncp(32, 5), "ncp-small": auto_ncp(12, 3), "dense": 10}[wiring]
    m = CfC(6, units, backbone_layers=0).eval()
    x, hx = torch.randn(3, 50, 6), torch.randn(3, m.state_size) * 0.5
    ts = torch.rand(3, 50) * 2 if timespans == "tensor" else timespans
    with torch.no_grad():
        ref, got = _both(monkeypatch, lambda: m(x, hx, timespans=ts, return_states=states))
    assert got[0].shape == ref[0].shape
    for a, b in zip(ref, got, strict=True):
        torch.testing.assert_close(b, a, atol=2e-6, rtol=0)


@pytest.mark.slow
def test_kernel_carries_the_state_across_chunks(kernel):
    """A stream cut into chunks (hx passed on) gives the one-shot result."""
    torch.manual_seed(1)
    m = CfC(4, auto_ncp(16, 4)).eval()
    x, ts = torch.randn(2, 40, 4), torch.rand(2, 40) + 0.5
    with torch.no_grad():
        whole, h_whole = m(x, timespans=ts)
        first, h = m(x[:, :17], timespans=ts[:, :17])
        second, h = m(x[:, 17:], h, timespans=ts[:, 17:])
    torch.testing.assert_close(torch.cat([first, second], 1), whole, atol=2e-6, rtol=0)
    torch.testing.assert_close(h, h_whole, atol=2e-6, rtol=0)


@pytest.mark.slow
def test_kernel_is_not_used_where_it_must_not_be(kernel, monkeypatch):
    """Autograd and float64 take the TorchScript scan (the kernel refuses gradients)."""
    calls = []
    real = kernel.wired_scan_default
    monkeypatch.setattr(cfc_module, "cfc_kernel", lambda: _Spy(real, calls))
    m = CfC(4, auto_ncp(16, 4))
    x = torch.randn(2, 9, 4)
    m(x)[0].sum().backward()  # training: gradients flow, no kernel
    assert calls == [] and m.recurrent_weight.grad is not None
    with torch.no_grad():
        m.double()(x.double())
        assert calls == []
        m.float()(x)
    assert len(calls) == 1


class _Spy:
    def __init__(self, fn, calls):
        self._fn, self._calls = fn, calls

    def wired_scan_default(self, *args):
        self._calls.append(args)
        return self._fn(*args)


def test_kernels_off_by_environment(monkeypatch):
    monkeypatch.setenv(kernels.ENV, "0")
    assert kernels.cfc_kernel() is None


def test_a_failed_build_falls_back_with_a_warning(monkeypatch, caplog):
    """No compiler: one warning, no kernel, and the CfC still runs (TorchScript)."""
    import torch.utils.cpp_extension as cpp

    def broken(**kwargs):
        raise RuntimeError("c++: command not found")

    monkeypatch.setenv(kernels.ENV, "1")
    monkeypatch.setattr(cpp, "load", broken)
    monkeypatch.setattr(kernels, "_built_library", lambda name: None)
    kernels._build.cache_clear()
    try:
        with caplog.at_level("WARNING", logger=kernels.__name__):
            assert kernels.cfc_kernel() is None
        assert "could not be built" in caplog.text and "command not found" in caplog.text
        with torch.no_grad():
            y, _ = CfC(4, auto_ncp(16, 4))(torch.randn(2, 9, 4))
        assert y.shape == (2, 9, 4) and torch.isfinite(y).all()
    finally:
        kernels._build.cache_clear()
