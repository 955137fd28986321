"""The RNN-shaped interface: shapes, state trajectories in wiring order, input checks."""

from __future__ import annotations

import pytest
import torch

from cardioliquid.models.cfc import CfC
from cardioliquid.models.ltc import LTC
from cardioliquid.models.wiring import auto_ncp


@pytest.fixture(params=["cfc", "ltc"])
def rnn(request):
    torch.manual_seed(0)
    w = auto_ncp(14, 3)
    return CfC(4, w) if request.param == "cfc" else LTC(4, w, ode_unfolds=2)


def test_shapes_and_return_sequences(rnn):
    x = torch.randn(2, 11, 4)
    y, h = rnn(x)
    assert y.shape == (2, 11, 3) and h.shape == (2, 14)
    rnn.return_sequences = False
    y_last, h2 = rnn(x)
    torch.testing.assert_close(y_last, y[:, -1])
    torch.testing.assert_close(h2, h)


def test_states_are_in_wiring_neuron_order(rnn):
    x = torch.randn(2, 6, 4)
    y, h, states = rnn(x, return_states=True)
    assert states.shape == (2, 6, 14)
    motor = rnn.wiring.neurons_of("motor")
    # The outputs are the motor neurons' states (LTC adds its affine output map).
    expected = states[..., motor]
    if isinstance(rnn, LTC):
        expected = expected * rnn.output_w + rnn.output_b
    torch.testing.assert_close(y, expected)
    torch.testing.assert_close(rnn.to_neuron_order(h), states[:, -1])


def test_unbatched_input(rnn):
    x = torch.randn(7, 4)
    y, h = rnn(x)
    yb, hb = rnn(x.unsqueeze(0))
    torch.testing.assert_close(y, yb[0])
    torch.testing.assert_close(h, hb[0])


def test_bad_shapes_are_reported(rnn):
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, steps, 4\), got"):
        rnn(torch.randn(2, 5, 3))
    with pytest.raises(ValueError, match=r"expected hx of shape \(2, 14\), got \(2, 13\)"):
        rnn(torch.randn(2, 5, 4), torch.zeros(2, 13))
    with pytest.raises(ValueError, match="expected timespans of shape"):
        rnn(torch.randn(2, 5, 4), timespans=torch.ones(2, 4))
