"""How big a model is: parameters, bytes, and multiply-accumulates per decision.

Two independent MAC counts are kept side by side and tested to agree:

- :func:`count_macs_flop_counter` runs PyTorch's own
  :class:`torch.utils.flop_counter.FlopCounterMode` (ATen dispatch level; its
  matmul/conv formulas count 2 FLOPs per MAC);
- :func:`count_ops_analytic` applies our own closed-form shape formulas to the
  torch functions a forward calls (``linear``, ``conv1d``, ``matmul``...), one
  level above ATen, and attributes them to the module that made the call. It
  also counts the *effective* MACs of a sparse wiring (weights that are exactly
  zero because a wiring mask removed the synapse are not multiplied on a
  sparse device), element-wise ops, and exp/tanh/sigmoid evaluations, which
  matter for energy on a microcontroller.

Parameters are counted twice too: the dense storage, and the synapses a sparse
wiring really has (a weight that a ``*mask*`` tensor zeroes does not count).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from math import prod
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from cardioliquid.device.formulas import OpCount, formula_for

# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class ParamCount:
    """Parameter counts.

    Attributes
    ----------
    dense : int
        Every stored parameter element (what the file holds).
    effective : int
        Elements a sparse wiring really uses: masked tensors count only where
        their mask is non-zero.
    masked : dict
        Parameter name -> (dense, effective) for each masked parameter.
    """

    dense: int
    effective: int
    masked: dict[str, tuple[int, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        masked = {k: {"dense": d, "effective": e} for k, (d, e) in self.masked.items()}
        return {"dense": self.dense, "effective": self.effective, "masked": masked}


def _is_mask_name(name: str) -> bool:
    return "mask" in name.rsplit(".", 1)[-1].lower()


def _module_masks(module: nn.Module) -> list[torch.Tensor]:
    """Tensors held directly by ``module`` whose attribute name contains 'mask'."""
    found: dict[int, torch.Tensor] = {}
    for name, t in list(module.named_buffers(recurse=False)) + list(
        module.named_parameters(recurse=False)
    ):
        if _is_mask_name(name) and t is not None:
            found[id(t)] = t
    for name, value in vars(module).items():
        if _is_mask_name(name) and isinstance(value, torch.Tensor):
            found[id(value)] = value
        elif name == "_params" and isinstance(value, dict):  # ncps-style parameter dicts
            for k, v in value.items():
                if _is_mask_name(k) and isinstance(v, torch.Tensor):
                    found[id(v)] = v
    return list(found.values())


def _mask_for(shape: torch.Size, masks: list[torch.Tensor]) -> torch.Tensor | None:
    """The mask that covers a parameter of ``shape`` (same shape, or transposed)."""
    for m in masks:
        if m.shape == shape:
            return m
    for m in masks:
        if m.ndim == 2 and len(shape) == 2 and m.shape == shape[::-1]:
            return m.T
    return None


def count_params(model: nn.Module) -> ParamCount:
    """Dense and effective (wiring-sparse) parameter counts of ``model``.

    A parameter is masked when a tensor named like ``*mask*`` of the same (or
    transposed) shape lives in its own module or an enclosing one (ncps keeps
    ``sparsity_mask`` in the cell and the weight in a child ``nn.Linear``).
    Mask tensors themselves are wiring, not parameters, and are not counted.
    """
    dense = effective = 0
    masked: dict[str, tuple[int, int]] = {}
    seen: set[int] = set()

    def visit(module: nn.Module, prefix: str, inherited: list[torch.Tensor]) -> None:
        nonlocal dense, effective
        masks = _module_masks(module) + inherited
        for name, p in module.named_parameters(recurse=False):
            if p is None or id(p) in seen or _is_mask_name(name):
                continue
            seen.add(id(p))
            n = p.numel()
            mask = _mask_for(p.shape, masks)
            eff = int(torch.count_nonzero(mask).item()) if mask is not None else n
            dense += n
            effective += eff
            if mask is not None:
                masked[prefix + name] = (n, eff)
        for child_name, child in module.named_children():
            visit(child, f"{prefix}{child_name}.", masks)

    visit(model, "", [])
    return ParamCount(dense, effective, masked)


def serialized_bytes(model: nn.Module) -> int:
    """Size of the model's state dict serialised as safetensors, in bytes."""
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    return len(save(state))


def state_dict_bytes_torch(model: nn.Module) -> int:
    """Size of ``torch.save(state_dict)`` in bytes (a cross-check)."""
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.getbuffer().nbytes


# --------------------------------------------------------------------------- MACs: kept tool


@dataclass(frozen=True)
class FlopCount:
    """What :class:`~torch.utils.flop_counter.FlopCounterMode` counted.

    Attributes
    ----------
    flops : int
        Total FLOPs (2 per MAC for matmul and convolution).
    macs : int
        ``flops // 2``.
    by_op : dict
        ATen op name -> FLOPs.
    """

    flops: int
    macs: int
    by_op: dict[str, int]


def count_macs_flop_counter(run: Callable[[], Any]) -> FlopCount:
    """MACs of ``run()`` as counted by PyTorch's ``FlopCounterMode``.

    Only operations with a registered FLOP formula are counted (mm, addmm,
    bmm, convolution, attention); element-wise work is not.
    """
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        run()
    total = int(counter.get_total_flops())
    # "Global" holds the totals; the other keys repeat them per module level.
    global_ops = counter.get_flop_counts().get("Global", {})
    by_op = {str(op): int(n) for op, n in global_ops.items()}
    return FlopCount(total, total // 2, by_op)


# --------------------------------------------------------------------------- MACs: analytic

_TRANSCENDENTAL = {
    "exp", "exp_", "sigmoid", "sigmoid_", "tanh", "tanh_", "log", "log1p", "softplus",
    "expm1", "softmax", "log_softmax", "silu", "gelu", "elu", "sqrt", "rsqrt", "erf", "pow",
}  # fmt: skip
_ELEMENTWISE = {
    "add", "add_", "__add__", "__radd__", "__iadd__", "sub", "sub_", "__sub__", "__rsub__",
    "__isub__", "mul", "mul_", "__mul__", "__rmul__", "__imul__", "div", "div_",
    "__truediv__", "__rtruediv__", "__itruediv__", "neg", "__neg__", "relu", "relu_",
    "clamp", "clamp_", "abs", "maximum", "minimum", "where", "addcmul", "addcdiv",
    "leaky_relu", "hardtanh", "lerp", "batch_norm", "layer_norm", "group_norm",
}  # fmt: skip
_REDUCTIONS = {"sum", "mean", "cumsum"}


def _numel(t: Any) -> int:
    return t.numel() if isinstance(t, torch.Tensor) else 1


def _linear_macs(x: torch.Tensor, w: torch.Tensor) -> tuple[int, int]:
    rows = x.numel() // x.shape[-1]
    return rows * w.numel(), rows * int(torch.count_nonzero(w).item())


def _matmul_macs(a: torch.Tensor, b: torch.Tensor) -> tuple[int, int]:
    if a.ndim == 1 and b.ndim == 1:
        return a.numel(), a.numel()
    a2 = a if a.ndim > 1 else a.unsqueeze(0)
    b2 = b if b.ndim > 1 else b.unsqueeze(-1)
    out_shape = torch.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    m, k, n = a2.shape[-2], a2.shape[-1], b2.shape[-1]
    dense = prod(out_shape) * m * k * n
    # A 2-D operand is a weight matrix: its exact zeros are removed synapses.
    if b2.ndim == 2:
        eff = prod(out_shape) * m * int(torch.count_nonzero(b2).item())
    elif a2.ndim == 2:
        eff = prod(out_shape) * n * int(torch.count_nonzero(a2).item())
    else:
        eff = dense
    return dense, eff


def _conv_macs(x: torch.Tensor, w: torch.Tensor, out: torch.Tensor) -> tuple[int, int]:
    # Each output element needs (in_channels / groups) x kernel MACs = w[0].numel().
    batch, out_ch = out.shape[0], out.shape[1]
    positions = prod(out.shape[2:])
    per_out = w[0].numel()
    nnz_per_out = int(torch.count_nonzero(w).item()) / out_ch
    return batch * out_ch * positions * per_out, int(batch * out_ch * positions * nnz_per_out)


class _AnalyticMode(TorchFunctionMode):
    """Counts operations at the torch-function level with our own formulas."""

    def __init__(self, counts: OpCount, stack: list[str]) -> None:
        super().__init__()
        self.counts = counts
        self.stack = stack

    def _add_macs(self, dense: int, eff: int) -> None:
        self.counts.macs += dense
        self.counts.effective_macs += eff
        where = self.stack[-1] if self.stack else ""
        self.counts.by_module[where] = self.counts.by_module.get(where, 0) + dense

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.stack and self.stack[-1].startswith("<formula>"):
            return out  # counted by the module's formula
        name = getattr(func, "__name__", "")
        if func is F.linear:
            w = kwargs.get("weight", args[1] if len(args) > 1 else None)
            self._add_macs(*_linear_macs(args[0], w))
        elif func in (F.conv1d, F.conv2d, F.conv3d):
            w = kwargs.get("weight", args[1] if len(args) > 1 else None)
            self._add_macs(*_conv_macs(args[0], w, out))
        elif name in {"matmul", "__matmul__", "__rmatmul__", "mm", "bmm"}:
            self._add_macs(*_matmul_macs(args[0], args[1]))
        elif name in {"addmm", "baddbmm"}:
            self._add_macs(*_matmul_macs(args[1], args[2]))
            self.counts.elementwise += _numel(out)
        elif name in _TRANSCENDENTAL:
            self.counts.transcendental += _numel(out)
        elif name in _ELEMENTWISE:
            self.counts.elementwise += _numel(out)
        elif name in _REDUCTIONS and args and isinstance(args[0], torch.Tensor):
            self.counts.elementwise += args[0].numel()
        return out


def _sequence_shape(module: nn.Module, args: tuple, kwargs: dict) -> tuple[int, int, bool]:
    """(batch, steps, time spans given) of an RNN-shaped call ``f(x, hx, timespans)``."""
    x = args[0] if args else kwargs.get("x", kwargs.get("input"))
    if x.ndim == 2:
        batch, steps = 1, x.shape[0]
    elif getattr(module, "batch_first", True):
        batch, steps = x.shape[0], x.shape[1]
    else:  # torch.nn RNNs default to (steps, batch, features)
        steps, batch = x.shape[0], x.shape[1]
    ts = kwargs.get("timespans", args[2] if len(args) > 2 else None)
    return batch, steps, isinstance(ts, torch.Tensor)


@contextmanager
def _module_stack(model: nn.Module, stack: list[str], counts: OpCount) -> Iterator[None]:
    """Track the module being run; apply module formulas and mute what runs inside them."""
    names = {m: n for n, m in model.named_modules()}

    def pre(mod: nn.Module, args: tuple, kwargs: dict) -> None:
        name = names.get(mod, type(mod).__name__)
        inside = bool(stack) and stack[-1].startswith("<formula>")
        formula = None if inside else formula_for(mod)
        if formula is not None:
            stack.append("<formula>" + name)  # mutes the function-level counter
            c = formula(mod, *_sequence_shape(mod, args, kwargs))
            counts.macs += c.macs
            counts.effective_macs += c.effective_macs
            counts.elementwise += c.elementwise
            counts.transcendental += c.transcendental
            counts.by_module[name] = counts.by_module.get(name, 0) + c.macs
        elif inside:
            stack.append(stack[-1])
        else:
            stack.append(name)

    def post(_mod: nn.Module, _inp: Any, _out: Any) -> None:
        stack.pop()

    handles = [m.register_forward_pre_hook(pre, with_kwargs=True) for m in names] + [
        m.register_forward_hook(post) for m in names
    ]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def count_ops_analytic(model: nn.Module, run: Callable[[], Any]) -> OpCount:
    """Analytic operation counts of ``run()`` (which calls ``model``).

    Modules with a registered formula (the liquid cells, whose loops run in
    TorchScript) are counted from their structure; everything else from our
    shape formulas at the torch-function level: ``linear``: rows x in x out;
    ``matmul``: batch x m x k x n; ``convNd``: batch x out_channels x output
    positions x (in_channels / groups) x kernel size. Effective MACs replace
    the weight size by its number of non-zero entries (or the wiring's
    synapse count in the formulas).
    """
    counts = OpCount()
    stack: list[str] = []
    with _module_stack(model, stack, counts), _AnalyticMode(counts, stack), torch.no_grad():
        run()
    return counts


def closed_form_macs(model: nn.Module, calls: dict[str, int]) -> int:
    """MACs from module shapes alone: sum of ``calls[name]`` x weight size.

    For a ``nn.Linear`` applied to ``calls[name]`` rows, or a ``nn.Conv1d``
    evaluated at ``calls[name]`` output positions (x batch), the MACs are the
    weight's element count per row/position. Used by tests as a third,
    pencil-and-paper reference.
    """
    modules = dict(model.named_modules())
    total = 0
    for name, n in calls.items():
        m = modules[name]
        if isinstance(m, nn.Linear):
            total += n * m.in_features * m.out_features
        elif isinstance(m, nn.Conv1d):
            total += n * m.out_channels * (m.in_channels // m.groups) * m.kernel_size[0]
        else:
            raise TypeError(f"closed form not defined for {type(m).__name__} ({name})")
    return total
