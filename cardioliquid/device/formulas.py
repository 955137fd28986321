"""Closed-form operation counts of the liquid cells, from their structure.

The cells run their time loop in TorchScript, which a function-level counter
cannot see into; these formulas count one forward call from the module's
sizes and wiring masks instead, and a test checks them against PyTorch's
``FlopCounterMode``, which sees the dispatched kernels.

CfC (:class:`cardioliquid.models.cfc.CfC`), per forward over ``T`` steps and
batch ``B``, ``N`` neurons, ``I`` inputs, ``H`` weight heads after folding the
two time-gate heads when no time spans are given (3; 4 with time spans; 1 for
``mode="pure"``), ``L`` wiring layers:

- wired: input projection ``B·T·I·H·N`` + recurrent ``B·(T+L-1)·N·H·N`` (the
  layers run on a skewed schedule, ``T+L-1`` iterations of one dense matmul);
  effective (a sparse kernel stepping the layers in turn): ``B·T`` x the
  synapses of the fused heads;
- backbone (fully connected): ``B·T·(I·U + N·U + (k-1)·U·U + U·H·N)`` for a
  ``k``-layer backbone of width ``U``.

Element-wise and transcendental counts (for microcontroller projections)
count per step and neuron 2 tanh + 1 sigmoid and a 3-op interpolation
(``pure``: 1 exp and 5 ops), plus the bias adds of the heads.

This module also owns :class:`OpCount` and the formula registry
(:func:`register_formula`, :func:`formula_for`) that :mod:`cardioliquid.device.size`
reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn as nn

from cardioliquid.models.cfc import CfC
from cardioliquid.models.ltc import LTC


@dataclass
class OpCount:
    """Analytic operation counts of one forward.

    Attributes
    ----------
    macs : int
        Multiply-accumulates in linear, matmul and convolution (dense).
    effective_macs : int
        The same, skipping weights that are exactly zero (removed synapses).
    elementwise : int
        Element-wise arithmetic results (add, mul, relu, ...) and reduction inputs.
    transcendental : int
        exp / tanh / sigmoid / softplus / ... evaluations.
    by_module : dict
        Module path -> dense MACs it issued (its own calls, not children's).
    """

    macs: int = 0
    effective_macs: int = 0
    elementwise: int = 0
    transcendental: int = 0
    by_module: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return asdict(self)


# Module-level formulas for modules whose kernels run inside TorchScript, where the
# function-level counter cannot see. Each returns the OpCount of one forward call
# from the module's structure and the call's (batch, steps, time spans given?).
Formula = Callable[[nn.Module, int, int, bool], OpCount]
_FORMULAS: dict[type, Formula] = {}


def register_formula(cls: type) -> Callable[[Formula], Formula]:
    """Decorator: analytic op counts for every forward of modules of type ``cls``."""

    def deco(fn: Formula) -> Formula:
        _FORMULAS[cls] = fn
        return fn

    return deco


def formula_for(module: nn.Module) -> Formula | None:
    """The registered formula for ``module``'s type (or a base class), if any."""
    for cls in type(module).__mro__:
        if cls in _FORMULAS:
            return _FORMULAS[cls]
    return None




def _fused_synapses(weight_mask: torch.Tensor, heads: int) -> int:
    """Non-zero entries of the fused (folded) heads of a (heads, in, N) mask."""
    m = weight_mask != 0
    if m.shape[0] == 4 and heads == 3:  # the two time-gate heads are summed
        return int(m[0].sum() + m[1].sum() + (m[2] | m[3]).sum())
    return int(m.sum())


@register_formula(CfC)
def cfc_ops(module: nn.Module, batch: int, steps: int, timespans: bool) -> OpCount:
    """Operation counts of one :class:`CfC` forward (see the module docstring)."""
    n, i_dim = module.state_size, module.input_size
    heads = module.n_heads if (timespans or module.n_heads == 1) else 3
    if module.use_backbone:
        lins = list(module.backbone)
        units = lins[0].out_features
        per_step = n * units + sum(lin.in_features * lin.out_features for lin in lins[1:])
        per_step += units * heads * n
        macs = batch * steps * (i_dim * units + per_step)
        effective = macs
        iterations = steps
        elementwise = batch * steps * (units * len(lins))  # backbone activations' bias adds
        transcendental = batch * steps * units * len(lins)  # lecun_tanh per hidden unit
    else:
        layers = module.n_layers
        iterations = steps + layers - 1
        macs = batch * steps * i_dim * heads * n + batch * iterations * n * heads * n
        synapses = _fused_synapses(module.input_mask, heads) + _fused_synapses(
            module.recurrent_mask, heads
        )
        effective = batch * steps * synapses
        elementwise = batch * steps * heads * n  # input projection bias
        transcendental = 0
    if module.mode == "pure":
        elementwise += batch * iterations * 5 * n
        transcendental += batch * iterations * n
    else:
        elementwise += batch * iterations * 3 * n
        transcendental += batch * iterations * 3 * n
    return OpCount(
        macs=int(macs),
        effective_macs=int(effective),
        elementwise=int(elementwise),
        transcendental=int(transcendental),
    )


@register_formula(LTC)
def ltc_ops(module: nn.Module, batch: int, steps: int, timespans: bool) -> OpCount:
    """Operation counts of one :class:`LTC` forward.

    With ``E`` synapses, ``E_s`` sensory synapses and ``U`` ODE unfolds, as
    executed: per unfold the synapse activations are gathered element-wise and
    scattered onto the ``N`` neurons by two ``(E, N)`` one-hot matmuls, so
    ``2·B·T·U·E·N`` MACs (the sensory synapses use ``index_add``, no matmul).
    A sparse kernel does 3 MACs per synapse evaluation (``sigma·v``,
    ``a·erev``, ``a``): effective ``3·B·T·(E_s + U·E)``, with one sigmoid each.
    """
    n, i_dim, m = module.state_size, module.input_size, module.output_size
    e = int(torch.count_nonzero(module.sparsity_mask))
    e_s = int(torch.count_nonzero(module.sensory_sparsity_mask))
    u = module.ode_unfolds
    bt = batch * steps
    macs = 2 * bt * u * e * n
    effective = 3 * bt * (e_s + u * e)
    transcendental = bt * (e_s + u * e)
    out_steps = steps if module.return_sequences else 1
    elementwise = (
        bt * (2 * i_dim + 2 * e_s + 3 * n)  # input affine, sensory shift/sum, constants
        + bt * u * (e + 4 * n)  # synapse shift, cm·v, numerator/denominator, division
        + 2 * batch * out_steps * m  # output affine
    )
    return OpCount(
        macs=int(macs),
        effective_macs=int(effective),
        elementwise=int(elementwise),
        transcendental=int(transcendental),
    )


_GATES = {nn.LSTM: (4, 5, 4), nn.GRU: (3, 3, 5), nn.RNN: (1, 1, 0)}


def _recurrent_ops(module: nn.Module, batch: int, steps: int, timespans: bool) -> OpCount:
    """``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN``: per step, layer and direction,
    ``gates·H·(I + H)`` MACs (input and hidden projections), with ``gates`` 4
    (LSTM), 3 (GRU), 1 (RNN); 5, 3, 1 nonlinearities per unit.

    PyTorch's ``FlopCounterMode`` counts the GRU and RNN (decomposed into
    matmuls on CPU) but not the LSTM (a fused kernel without a FLOP formula).
    """
    gates, nonlin, elementwise_per_unit = _GATES[type(module)]
    h, dirs = module.hidden_size, 2 if module.bidirectional else 1
    macs = elementwise = 0
    in_size = module.input_size
    for _ in range(module.num_layers):
        macs += dirs * gates * h * (in_size + h)
        elementwise += dirs * (2 * gates * h + elementwise_per_unit * h)  # biases, cell update
        in_size = h * dirs
    bt = batch * steps
    return OpCount(
        macs=bt * macs,
        effective_macs=bt * macs,
        elementwise=bt * elementwise,
        transcendental=bt * module.num_layers * dirs * nonlin * h,
    )


for _cls in _GATES:
    register_formula(_cls)(_recurrent_ops)
