"""Which liquid neurons drive a decision: attributions over the neuron states.

Both methods put a multiplicative gate ``g`` (one per neuron, 1 = the trained
network) on every neuron's state inside the recurrence and differentiate the
target logit ``F`` with respect to it:

- ``"grad_x_activation"``: ``dF/dg_j`` at ``g = 1``, which by the chain rule is
  ``sum_t dF/dh_j(t) * h_j(t)`` — gradient times activation summed over the
  state trajectory, with the gradient through the recurrence included.
- ``"integrated_gradients"`` (Sundararajan et al., ICML 2017): the states are
  scaled together from the silenced network (``g = 0``) to the trained one
  (``g = 1``) and ``dF/dg_j`` is integrated along that path (midpoint rule).
  The attributions sum to ``F(g=1) - F(g=0)`` (completeness); the remainder
  is reported as ``delta``.

Models whose ``forward_stateful`` takes a ``neuron_gate`` argument apply the
gate themselves; for the others the one
:class:`~cardioliquid.models.sequence.LiquidRNN` inside is run step by step
(its exact streaming path) with the gate applied to the state it carries from
one step to the next.

A neuron's *share* is its absolute attribution over the sum of all absolute
attributions, so the shares of all neurons sum to 1.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from cardioliquid._check import check_option
from cardioliquid.errors import ContractError
from cardioliquid.explain.states import _as_batch, is_beat_sequence
from cardioliquid.models.sequence import LiquidRNN

METHODS: tuple[str, ...] = ("integrated_gradients", "grad_x_activation")


@dataclass
class NeuronAttribution:
    """Attribution of decisions to the liquid neurons.

    Attributes
    ----------
    scores : ndarray of float32, shape (n_windows, n_neurons)
        Signed attribution of each neuron to the target logit of each window.
    target : ndarray of int64, shape (n_windows,)
        The class explained for each window.
    method : str
        One of :data:`METHODS`.
    delta : ndarray of float32, shape (n_windows,)
        Completeness gap ``F(g=1) - F(g=0) - sum(scores)`` (integrated gradients;
        zeros for gradient x activation, which has no such property).
    """

    scores: np.ndarray
    target: np.ndarray
    method: str
    delta: np.ndarray

    @property
    def share(self) -> np.ndarray:
        """Each neuron's share of the absolute attribution, rows summing to 1."""
        mag = np.abs(self.scores)
        total = mag.sum(axis=1, keepdims=True)
        n = mag.shape[1]
        return np.where(total > 0, mag / np.where(total > 0, total, 1.0), 1.0 / max(n, 1))

    def top(self, k: int = 5, window: int = 0) -> list[tuple[int, float, float]]:
        """The ``k`` neurons with the largest share in one window: (neuron, share, signed score)."""
        share = self.share[window]
        order = np.argsort(-share, kind="stable")[:k]
        return [(int(i), float(share[i]), float(self.scores[window, i])) for i in order]


def supports_neuron_gate(model: nn.Module) -> bool:
    """Whether ``model.forward_stateful`` accepts a ``neuron_gate`` argument."""
    fn = getattr(model, "forward_stateful", None)
    if fn is None:
        return False
    try:
        return "neuron_gate" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _liquid_layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, LiquidRNN)]


@contextlib.contextmanager
def _gate_states(rnn: nn.Module, gate: torch.Tensor) -> Iterator[None]:
    """Make ``rnn`` scale its state by ``gate`` (batch, neurons) after every step.

    The cell's whole-sequence kernel is run one step at a time (the streaming
    path, exact by the models' stream == batch guarantee) and the state carried
    to the next step is multiplied by the gate, reordered to the cell's layout.
    """
    scan = rnn._scan
    gate_state = gate.index_select(1, rnn.state_neurons)
    n = gate_state.shape[1]

    def gated_scan(x, hx, ts):
        h, states, pairs = hx, [], True
        for t in range(x.shape[0]):
            ts_t = ts[t : t + 1] if isinstance(ts, torch.Tensor) else ts
            out = scan(x[t : t + 1], h, ts_t)
            pairs = isinstance(out, tuple)  # (states, carried hx) or just states
            h = out[1] if pairs else out[0]
            # gate the neurons' states; a memory cell carried beside them is left alone
            h = torch.cat([h[:, :n] * gate_state, h[:, n:]], dim=1)
            states.append(h[:, :n])
        stacked = torch.stack(states)
        return (stacked, h) if pairs else stacked

    rnn._scan = gated_scan
    try:
        yield
    finally:
        del rnn._scan


def _gated_logits(
    model: nn.Module, x: torch.Tensor, features: torch.Tensor | None, gate: torch.Tensor
) -> torch.Tensor:
    if supports_neuron_gate(model):
        logits, _, _ = model.forward_stateful(x, features, neuron_gate=gate)
        return logits[:, -1] if logits.ndim == 3 else logits
    layers = _liquid_layers(model)
    if len(layers) != 1:
        raise ContractError(
            f"{type(model).__name__} has {len(layers)} liquid layers and its forward_stateful "
            "has no 'neuron_gate' argument; neuron attribution needs exactly one liquid layer"
        )
    with _gate_states(layers[0], gate):
        logits, _, _ = model.forward_stateful(x, features)
    # Runs of beats (runs, beats, classes): the decision is the run's last beat.
    return logits[:, -1] if logits.ndim == 3 else logits


def _private_copy(model: nn.Module) -> nn.Module:
    """A copy to patch when the model has no gate argument (a shared model stays untouched)."""
    if supports_neuron_gate(model):
        return model
    return copy.deepcopy(model)


def _n_neurons(model: nn.Module, x: torch.Tensor, features: torch.Tensor | None) -> int:
    with torch.no_grad():
        _, _, states = model.forward_stateful(x[:1], None if features is None else features[:1])
    return int(states.shape[-1])


def attribute_neurons(
    model: nn.Module,
    x: torch.Tensor | np.ndarray,
    features: torch.Tensor | np.ndarray | None = None,
    target: int | np.ndarray | None = None,
    method: str = "integrated_gradients",
    steps: int = 16,
) -> NeuronAttribution:
    """Attribute the model's decision on each window to its liquid neurons.

    Parameters
    ----------
    model : nn.Module
        A liquid classifier whose ``forward_stateful`` accepts ``neuron_gate``.
    x : array, shape (n_windows, n_chans, n_times) or (n_chans, n_times)
        Preprocessed windows. For a beat-sequence model (one liquid step per
        beat), runs of beats ``(n_runs, n_beats, n_chans, n_times)``: each run's
        decision is its last beat, and the gate scales the neurons at every beat
        of the run, so the attribution covers the state carried into the decision.
    features : array, shape (n_windows, n_features), optional
        Their extra features; ``(n_runs, n_beats, n_features)`` for runs.
    target : int or array of int, optional
        Class to explain per window; default the predicted class.
    method : str
        ``"integrated_gradients"`` or ``"grad_x_activation"``.
    steps : int
        Integration steps (integrated gradients only).

    Returns
    -------
    NeuronAttribution
    """
    check_option("method", method, METHODS)
    x, features = _as_batch(x, features)
    if is_beat_sequence(model) and x.ndim == 3:  # separate beats: runs of one, from rest
        x, features = x[:, None], None if features is None else features[:, None]
    model = _private_copy(model)
    n_windows = x.shape[0]
    n = _n_neurons(model, x, features)
    ones = torch.ones(n_windows, n)
    with torch.no_grad():
        full = _gated_logits(model, x, features, ones)
    if target is None:
        tgt = full.argmax(dim=1)
    else:
        tgt = torch.as_tensor(np.broadcast_to(np.asarray(target), (n_windows,)).copy()).long()
    rows = torch.arange(n_windows)

    def grad_at(alpha: float) -> torch.Tensor:
        gate = torch.full((n_windows, n), float(alpha), requires_grad=True)
        logits = _gated_logits(model, x, features, gate)
        (grad,) = torch.autograd.grad(logits[rows, tgt].sum(), gate)
        return grad

    was_training = model.training
    model.eval()
    try:
        if method == "grad_x_activation":
            scores = grad_at(1.0)
            delta = torch.zeros(n_windows)
        else:
            alphas = (torch.arange(steps, dtype=torch.float32) + 0.5) / steps
            scores = sum(grad_at(float(a)) for a in alphas) / steps
            with torch.no_grad():
                silenced = _gated_logits(model, x, features, torch.zeros(n_windows, n))
            delta = (full[rows, tgt] - silenced[rows, tgt]) - scores.sum(dim=1)
    finally:
        model.train(was_training)
    return NeuronAttribution(
        scores.detach().float().numpy(),
        tgt.numpy().astype(np.int64),
        method,
        delta.detach().float().numpy(),
    )
