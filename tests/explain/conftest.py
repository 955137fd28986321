"""Small synthetic liquid-like models for the explain tests (no training, no data)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
import torch.nn as nn


@dataclass
class TinyWiring:
    """A four-role wiring: 2 sensory inputs, then inter, command and motor neurons."""

    n_inter: int = 3
    n_command: int = 3
    n_motor: int = 2
    adjacency_matrix: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        n = self.units
        adj = np.zeros((n, n), dtype=np.int8)
        inter = range(0, self.n_inter)
        command = range(self.n_inter, self.n_inter + self.n_command)
        motor = range(self.n_inter + self.n_command, n)
        for i in inter:
            for c in command:
                adj[i, c] = 1
        for c in command:
            adj[c, c] = 1
            for m in motor:
                adj[c, m] = 1
        self.adjacency_matrix = adj
        self.sensory_adjacency_matrix = np.ones((2, n), dtype=np.int8)

    @property
    def units(self) -> int:
        return self.n_inter + self.n_command + self.n_motor

    def get_type_of_neuron(self, i: int) -> str:
        if i < self.n_inter:
            return "inter"
        if i < self.n_inter + self.n_command:
            return "command"
        return "motor"


class TinyLiquid(nn.Module):
    """A leaky recurrent net with the models team's ``forward_stateful`` interface.

    ``h_t = tanh(W_in x_t + W h_{t-1} * mask)``, logits from the motor neurons
    at the last step (and optional features). ``neuron_gate`` multiplies every
    neuron's state inside the recurrence.
    """

    def __init__(self, n_chans: int = 2, n_outputs: int = 3, n_features: int = 0) -> None:
        super().__init__()
        self.wiring = TinyWiring()
        n = self.wiring.units
        self.n_chans, self.n_features = n_chans, n_features
        self.inp = nn.Linear(n_chans, n)
        self.rec = nn.Parameter(torch.randn(n, n) * 0.6)
        self.register_buffer("mask", torch.as_tensor(self.wiring.adjacency_matrix.T.copy()).float())
        self.head = nn.Linear(self.wiring.n_motor + n_features, n_outputs)

    def forward_stateful(self, x, features=None, hx=None, neuron_gate=None):
        b, _, t = x.shape
        n = self.wiring.units
        h = torch.zeros(b, n) if hx is None else hx
        drive = self.inp(x.transpose(1, 2))
        states = []
        for k in range(t):
            h = 0.5 * h + 0.5 * torch.tanh(drive[:, k] + h @ (self.rec * self.mask).T)
            if neuron_gate is not None:
                h = h * neuron_gate
            states.append(h)
        motor = h[:, -self.wiring.n_motor :]
        z = motor if features is None else torch.cat([motor, features], dim=1)
        return self.head(z), h, torch.stack(states, dim=1)

    def forward(self, x, features=None):
        return self.forward_stateful(x, features)[0]


@pytest.fixture
def tiny_model() -> TinyLiquid:
    torch.manual_seed(0)
    return TinyLiquid().eval()


@pytest.fixture
def tiny_inputs() -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.randn(6, 2, 24, generator=g)


class CfCClassifier(nn.Module):
    """A real wired CfC (models team) under a linear head, without a ``neuron_gate``."""

    def __init__(self) -> None:
        super().__init__()
        from cardioliquid.models.cfc import CfC
        from cardioliquid.models.wiring import auto_ncp

        self.rnn = CfC(2, auto_ncp(10, 3, seed=1), return_sequences=False)
        self.wiring = self.rnn.wiring
        self.head = nn.Linear(3, 3)

    def forward_stateful(self, x, features=None, hx=None):
        y, hx, states = self.rnn(x.transpose(1, 2), hx, return_states=True)
        return self.head(y), hx, states


@pytest.fixture
def cfc_model() -> nn.Module:
    torch.manual_seed(0)
    return CfCClassifier().eval()
