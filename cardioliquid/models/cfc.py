"""Closed-form continuous-time (CfC) networks, exact to ``ncps.torch.CfC`` and fast.

The CfC update of a layer with input ``u`` (the previous layer's new state)
and own state ``h`` over an elapsed time ``ts`` is (Hasani et al. 2022)::

    ff1, ff2 = tanh(W1 [u, h] + b1), tanh(W2 [u, h] + b2)     # masked by the wiring
    t = sigmoid(Wa [u, h] + ba) * ts + (Wb [u, h] + bb))       # time gate
    default:  h' = ff1 * (1 - t) + t * ff2
    no_gate:  h' = ff1 + t * ff2
    pure:     h' = -A * exp(-ts * (|w_tau| + |ff1|)) * ff1 + A

How it is made fast without changing the function:

- the per-layer weights of a wired cell (inter, command, motor) are placed in
  one block-sparse (N, heads·N) matrix, masked once per forward, not per step;
- the layers are run on a skewed schedule: at loop iteration ``k`` layer ``l``
  computes step ``k - l``, so all layers advance in ONE matmul per iteration
  (layer ``l`` needs layer ``l-1`` of the same step, computed one iteration
  earlier); ``T + L - 1`` iterations instead of ``T · L``;
- the input projection of every step is one matmul before the loop; without
  time spans the two time-gate heads fold into one;
- the loop is TorchScript (no Python per step); exporters get the same loop in
  Python;
- when only the outputs are asked for, the scan keeps only the motor columns
  and needs no un-skewing;
- CPU inference in the default mode runs a fused C++ loop
  (:mod:`cardioliquid.models.kernels`, built on first use): per iteration one
  register-blocked GEMM of [state, input], then one vectorised pass over the
  neurons, instead of several tensor operations and a projection of every step
  before the loop. Results match the TorchScript loop to ~1e-6;
  autograd, tracing and FLOP counting always get the TorchScript or Python loop;
- a streaming step of a few streams runs in NumPy (:class:`SmallBatchStep`):
  at this size a step costs the per-call overhead of ~25 tensor operations, not
  arithmetic, and each layer reads only the state rows that feed it.

References
----------
Hasani et al., "Closed-form continuous-time neural networks", Nature Machine
Intelligence 4, 992–1003 (2022).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch
import torch.nn as nn
from scipy.special import expit
from torch import Tensor
from torch.utils._python_dispatch import is_in_torch_dispatch_mode

from cardioliquid._check import check_option
from cardioliquid.models.kernels import cfc_kernel
from cardioliquid.models.sequence import LiquidRNN, use_python_loop
from cardioliquid.models.wiring import Wiring, fully_connected

MODES = ("default", "no_gate", "pure")
ACTIVATIONS = ("lecun_tanh", "tanh", "relu", "silu", "gelu")


def _head(z: Tensor, ts: Tensor | None, n: int, mode: int, a: Tensor, w_tau_abs: Tensor) -> Tensor:
    """New state from the pre-activations ``z`` (B, heads·n) of one step.

    Mode 3 is "default" in the affine state ``u = (h + 1) / 2`` with the ff
    pre-activations doubled (see ``CfC._scan``): ``tanh(x) = 2 sigmoid(2x) - 1``
    turns the two tanh and the gate into ONE sigmoid, ~4x cheaper than tanh.
    """
    if mode == 3:
        if ts is None:
            s = torch.sigmoid(z)
            return torch.lerp(s[:, :n], s[:, n : 2 * n], s[:, 2 * n :])
        s = torch.sigmoid(z[:, : 2 * n])
        g = torch.sigmoid(torch.addcmul(z[:, 3 * n :], z[:, 2 * n : 3 * n], ts))
        return torch.lerp(s[:, :n], s[:, n:], g)
    if mode == 2:  # pure
        if ts is None:
            e = torch.exp(-(w_tau_abs + torch.abs(z)))
        else:
            e = torch.exp(-ts * (w_tau_abs + torch.abs(z)))
        return -a * e * z + a
    ff = torch.tanh(z[:, : 2 * n])
    if ts is None:  # gate heads already folded: z[:, 2n:] = ta * ts + tb
        gate = torch.sigmoid(z[:, 2 * n :])
    else:
        gate = torch.sigmoid(torch.addcmul(z[:, 3 * n :], z[:, 2 * n : 3 * n], ts))
    if mode == 0:
        return torch.lerp(ff[:, :n], ff[:, n:], gate)
    return torch.addcmul(ff[:, :n], gate, ff[:, n:])


def _wired_scan(
    xin: Tensor,
    h0: Tensor,
    w: Tensor,
    ts: Tensor | None,
    active: Tensor,
    n_layers: int,
    mode: int,
    a: Tensor,
    w_tau_abs: Tensor,
    keep_start: int,
    keep_stop: int,
) -> tuple[Tensor, Tensor]:
    """Skewed scan; returns the kept columns of every iteration's state
    (T + L - 1, B, keep_stop - keep_start) and the final state (B, N): each layer
    stops at its last step, so the final state is every layer's state at step T - 1."""
    steps = xin.shape[0]
    n = h0.shape[1]
    h = h0
    keep_all = keep_start == 0 and keep_stop == n
    out: list[Tensor] = []
    # unbind once: indexing per step would make autograd build a full-size
    # gradient for every step.
    xs = xin.unbind(0)
    tss: list[Tensor] = [] if ts is None else ts.unbind(0)
    for k in range(steps + n_layers - 1):
        z = torch.addmm(xs[min(k, steps - 1)], h, w)
        tk: Tensor | None = None
        if ts is not None:
            tk = tss[k]
        new = _head(z, tk, n, mode, a, w_tau_abs)
        if k < n_layers - 1 or k >= steps:  # some layers not started or already done
            new = torch.where(active[k], new, h)
        h = new
        out.append(h if keep_all else h[:, keep_start:keep_stop])
    return torch.stack(out), h


def _wired_step(
    x: Tensor,
    h: Tensor,
    w_in: Tensor,
    b: Tensor,
    w_rec: Tensor,
    masks: list[Tensor],
    ts: Tensor | None,
    mode: int,
    a: Tensor,
    w_tau_abs: Tensor,
) -> Tensor:
    """One step, layer after layer (streaming): same result as the scan."""
    return _layers_update(torch.addmm(b, x, w_in), h, w_rec, masks, ts, mode, a, w_tau_abs)


def _layers_update(
    xin: Tensor,
    h: Tensor,
    w_rec: Tensor,
    masks: list[Tensor],
    ts: Tensor | None,
    mode: int,
    a: Tensor,
    w_tau_abs: Tensor,
) -> Tensor:
    """Update the layers one after the other from the input term ``xin`` (B, heads·N)."""
    n = h.shape[1]
    if mode == 3:
        h = (h + 1.0) * 0.5
    for i in range(len(masks)):
        new = _head(torch.addmm(xin, h, w_rec), ts, n, mode, a, w_tau_abs)
        h = new if len(masks) == 1 else torch.where(masks[i], new, h)
    if mode == 3:
        h = h * 2.0 - 1.0
    return h


def _mixed_scan(
    xm: Tensor,
    xin: Tensor,
    h0: Tensor,
    c0: Tensor,
    w_mem: Tensor,
    w_rec: Tensor,
    masks: list[Tensor],
    ts: Tensor | None,
    mode: int,
    a: Tensor,
    w_tau_abs: Tensor,
) -> tuple[Tensor, Tensor]:
    """CfC with a memory (LSTM) cell before each step; returns states (T, B, N) and c."""
    h, c = h0, c0
    out: list[Tensor] = []
    xms, xs = xm.unbind(0), xin.unbind(0)
    tss: list[Tensor] = [] if ts is None else ts.unbind(0)
    for t in range(len(xs)):
        gates = torch.addmm(xms[t], h, w_mem).chunk(4, 1)
        c = c * torch.sigmoid(gates[2] + 1.0) + torch.tanh(gates[0]) * torch.sigmoid(gates[1])
        h = torch.tanh(c) * torch.sigmoid(gates[3])
        tk: Tensor | None = None
        if ts is not None:
            tk = tss[t]
        h = _layers_update(xs[t], h, w_rec, masks, tk, mode, a, w_tau_abs)
        out.append(h)
    return torch.stack(out), c


def _backbone_scan(
    xb: Tensor,
    h0: Tensor,
    wbh: Tensor,
    extra_w: list[Tensor],
    extra_b: list[Tensor],
    whead: Tensor,
    bhead: Tensor,
    ts: Tensor | None,
    act: int,
    mode: int,
    a: Tensor,
    w_tau_abs: Tensor,
) -> Tensor:
    """Scan of the unwired CfC with a backbone MLP; returns states (T, B, N)."""
    n = h0.shape[1]
    h = h0
    out: list[Tensor] = []
    xs = xb.unbind(0)
    tss: list[Tensor] = [] if ts is None else ts.unbind(0)
    for t in range(len(xs)):
        y = _activation(torch.addmm(xs[t], h, wbh), act)
        for i in range(len(extra_w)):
            y = _activation(torch.addmm(extra_b[i], y, extra_w[i]), act)
        z = torch.addmm(bhead, y, whead)
        tk: Tensor | None = None
        if ts is not None:
            tk = tss[t]
        h = _head(z, tk, n, mode, a, w_tau_abs)
        out.append(h)
    return torch.stack(out)


def _activation(x: Tensor, act: int) -> Tensor:
    if act == 0:
        return 1.7159 * torch.tanh(0.666 * x)
    if act == 1:
        return torch.tanh(x)
    if act == 2:
        return torch.relu(x)
    if act == 3:
        return torch.nn.functional.silu(x)
    return torch.nn.functional.gelu(x)


SMALL_BATCH = 8
"""Streams up to which :meth:`CfC.step` (default mode, CPU float32) runs :class:`SmallBatchStep`."""


class SmallBatchStep:
    """One streaming step of a wired default-mode CfC in NumPy, for a few streams.

    Built from the fused affine weights (``CfC._fused``; state ``u = (h + 1) / 2``,
    one sigmoid for both ff heads and the gate). Each layer multiplies only the
    rows of the state that feed it (its own and the previous layer's neurons) by
    only its own columns, then writes only its own neurons, so the layers update
    one after the other exactly as in ``_layers_update``.

    Parameters
    ----------
    w_in, w_rec, b : Tensor
        Fused input (I, 3N), recurrent (N, 3N) weights and bias (3N,) of mode 3.
    layer_sizes : list of int
        Neurons per layer, in state order.
    """

    def __init__(self, w_in: Tensor, w_rec: Tensor, b: Tensor, layer_sizes: list[int]) -> None:
        w_in_np, w_rec_np, b_np = (t.detach().cpu().numpy() for t in (w_in, w_rec, b))
        n = w_rec_np.shape[0]
        self.blocks: list[tuple[int, int, int, int, np.ndarray, np.ndarray | None, np.ndarray]] = []
        start = 0
        for size in layer_sizes:
            stop = start + size
            cols = np.r_[start:stop, n + start : n + stop, 2 * n + start : 2 * n + stop]
            rec = w_rec_np[:, cols]
            rows = np.flatnonzero(np.abs(rec).sum(1))  # the neurons that feed this layer
            r0, r1 = (int(rows[0]), int(rows[-1]) + 1) if rows.size else (0, 0)
            inp = w_in_np[:, cols]
            self.blocks.append((start, stop, r0, r1, np.ascontiguousarray(rec[r0:r1]),
                                np.ascontiguousarray(inp) if inp.any() else None,
                                np.ascontiguousarray(b_np[cols])))
            start = stop

    def __call__(self, x: np.ndarray, h: np.ndarray) -> np.ndarray:
        """New state (B, N) from the input ``x`` (B, I) and the state ``h`` (B, N)."""
        u = (h + 1.0) * 0.5
        for start, stop, r0, r1, rec, inp, b in self.blocks:
            z = u[:, r0:r1] @ rec + b
            if inp is not None:
                z += x @ inp
            s = expit(z)
            k = stop - start
            ff1 = s[:, :k]
            np.add(ff1, (s[:, k : 2 * k] - ff1) * s[:, 2 * k :], out=u[:, start:stop])
        return u * 2.0 - 1.0


_head_script = torch.jit.script(_head)
_activation_script = torch.jit.script(_activation)
_wired_scan_script = torch.jit.script(_wired_scan)
_backbone_scan_script = torch.jit.script(_backbone_scan)
_wired_step_script = torch.jit.script(_wired_step)
_mixed_scan_script = torch.jit.script(_mixed_scan)


class CfC(LiquidRNN):
    """A closed-form continuous-time network, wired (NCP...) or fully connected.

    Computes the same function as ``ncps.torch.CfC`` (same parameters give the
    same outputs and gradients) but runs the whole sequence in one compiled
    loop; see the module docstring.

    Parameters
    ----------
    input_size : int
        Input features per step.
    units : int or Wiring
        A :class:`~cardioliquid.models.wiring.Wiring` (the cell follows its
        layers and masks), or a number of fully connected units, which as in
        ncps uses a backbone MLP unless ``backbone_layers=0``.
    mode : {"default", "no_gate", "pure"}
        CfC variant.
    return_sequences : bool
        Return every step's output (else only the last).
    backbone_units, backbone_layers : int
        Backbone MLP of the unwired cell (ncps defaults 128 and 1).
    activation : str
        Backbone activation: "lecun_tanh", "tanh", "relu", "silu", "gelu".
    mixed_memory : bool
        Add ncps's LSTM memory cell before each step (Lechner & Hasani 2020,
        "Learning long-term dependencies in irregularly-sampled time series");
        the carried state is then ``[h, c]`` (``hx_size = 2 * state_size``).
        Runs layer by layer (no skewed schedule), so slower.

    Examples
    --------
    >>> from cardioliquid.models.wiring import auto_ncp
    >>> rnn = CfC(8, auto_ncp(16, 4))
    >>> y, hx = rnn(torch.randn(2, 50, 8))
    >>> y.shape, hx.shape
    (torch.Size([2, 50, 4]), torch.Size([2, 16]))
    >>> y2, hx2 = rnn(torch.randn(2, 10, 8), hx)  # continue the stream
    """

    def __init__(
        self,
        input_size: int,
        units: int | Wiring,
        mode: str = "default",
        return_sequences: bool = True,
        backbone_units: int = 128,
        backbone_layers: int = 1,
        activation: str = "lecun_tanh",
        mixed_memory: bool = False,
    ) -> None:
        check_option("mode", mode, MODES)
        check_option("activation", activation, ACTIVATIONS)
        wired = isinstance(units, Wiring)
        wiring = units if wired else fully_connected(int(units))
        super().__init__(input_size, wiring, return_sequences)
        self.mode = mode
        self.wired = wired
        self.mixed_memory = bool(mixed_memory)
        self._mode = MODES.index(mode)
        self._act = ACTIVATIONS.index(activation)
        self.n_heads = 1 if mode == "pure" else 4
        self.use_backbone = (not wired) and backbone_layers > 0
        n = self.state_size
        if mode == "pure":
            self.w_tau = nn.Parameter(torch.zeros(n))
            self.A = nn.Parameter(torch.ones(n))
        if self.use_backbone:
            self._init_backbone(backbone_units, backbone_layers)
            self.register_buffer("state_neurons", torch.arange(n), persistent=False)
            self.register_buffer("output_positions", torch.arange(n), persistent=False)
            self.register_buffer("layer_of", torch.zeros(n, dtype=torch.long), persistent=False)
            self.n_layers = 1
        else:
            self._init_wired(wired)
        if self.mixed_memory:
            if self.use_backbone:
                raise ValueError("mixed_memory needs a wiring or backbone_layers=0")
            self._init_memory()
        self._cache: tuple | None = None
        self._small_step: tuple[tuple, SmallBatchStep] | None = None
        self._params: list[nn.Parameter] | None = None

    # -- construction ----------------------------------------------------------------------
    def _init_memory(self) -> None:
        """LSTM memory cell of ncps's ``mixed_memory`` (forget-gate bias +1); hx = [h, c]."""
        n = self.state_size
        self.hx_size = 2 * n
        self.memory_input = nn.Linear(self.input_size, 4 * n)
        self.memory_recurrent = nn.Linear(n, 4 * n, bias=False)
        nn.init.xavier_uniform_(self.memory_input.weight)
        nn.init.uniform_(self.memory_input.bias, -0.1, 0.1)
        nn.init.orthogonal_(self.memory_recurrent.weight)

    def _init_backbone(self, units: int, layers: int) -> None:
        n, h = self.state_size, self.n_heads
        sizes = [self.input_size + n] + [units] * layers
        self.backbone = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
        for lin in self.backbone:
            nn.init.xavier_uniform_(lin.weight)
        bound = math.sqrt(6.0 / (units + n))
        self.weight = nn.Parameter(torch.empty(h, units, n).uniform_(-bound, bound))
        bound = 1 / math.sqrt(units)
        self.bias = nn.Parameter(torch.empty(h, n).uniform_(-bound, bound))

    def _init_wired(self, wired: bool) -> None:
        """Block-sparse parameters over state positions ordered layer by layer."""
        w = self.wiring
        layers = w.layers
        order = np.concatenate([np.asarray(ly, dtype=np.int64) for ly in layers])
        pos = np.empty_like(order)
        pos[order] = np.arange(len(order))  # neuron id -> state position
        n, i_dim, h = self.state_size, self.input_size, self.n_heads
        in_mask = np.zeros((i_dim, n), np.float32)  # synapse mask (ff heads)
        in_struct = np.zeros((i_dim, n), np.float32)  # layer structure (time heads)
        rec_mask = np.zeros((n, n), np.float32)
        rec_struct = np.zeros((n, n), np.float32)
        layer_of = np.zeros(n, np.int64)
        fan_in = np.zeros(n, np.float32)
        for li, ly in enumerate(layers):
            dest = pos[ly]
            layer_of[dest] = li
            if li == 0:
                sens = np.abs(w.sensory_adjacency[:, ly]) if wired else np.ones((i_dim, len(ly)))
                in_mask[:, dest] = sens
                in_struct[:, dest] = 1.0
                fan_in[dest] = i_dim + len(ly)
            else:
                prev = layers[li - 1]
                src = pos[prev]
                rec_mask[np.ix_(src, dest)] = np.abs(w.adjacency[np.ix_(prev, ly)])
                rec_struct[np.ix_(src, dest)] = 1.0
                fan_in[dest] = len(prev) + len(ly)
            rec_mask[np.ix_(dest, dest)] = 1.0  # own recurrence: dense in ncps
            rec_struct[np.ix_(dest, dest)] = 1.0
        heads_in = [in_mask, in_mask, in_struct, in_struct][:h]
        heads_rec = [rec_mask, rec_mask, rec_struct, rec_struct][:h]
        self.register_buffer("input_mask", torch.from_numpy(np.stack(heads_in)))
        self.register_buffer("recurrent_mask", torch.from_numpy(np.stack(heads_rec)))
        self.register_buffer("state_neurons", torch.from_numpy(order), persistent=False)
        motor = [p for p in range(n) if layer_of[p] == len(layers) - 1]
        motor = [p for p in motor if w.role_of(int(order[p])) == "motor"] or motor
        self.register_buffer("output_positions", torch.tensor(motor), persistent=False)
        # Motor positions are contiguous (last layer / first ids): the lean step slices.
        self._out_slice = motor == list(range(motor[0], motor[-1] + 1))
        self._out_start, self._out_stop = motor[0], motor[-1] + 1
        self.register_buffer("layer_of", torch.from_numpy(layer_of), persistent=False)
        self.n_layers = len(layers)
        self.layer_sizes = [len(ly) for ly in layers]
        # Xavier-uniform per ncps layer (fan_out = layer size), nn.Linear bias init.
        n_l = np.array([len(layers[li]) for li in layer_of], np.float32)
        bound_w = torch.from_numpy(np.sqrt(6.0 / (fan_in + n_l)))
        bound_b = torch.from_numpy(1.0 / np.sqrt(fan_in))
        self.input_weight = nn.Parameter(
            (torch.rand(h, i_dim, n) * 2 - 1) * bound_w * self.input_mask
        )
        self.recurrent_weight = nn.Parameter(
            (torch.rand(h, n, n) * 2 - 1) * bound_w * self.recurrent_mask
        )
        self.bias = nn.Parameter((torch.rand(h, n) * 2 - 1) * bound_b)

    # -- the kernel --------------------------------------------------------------------------
    def _pure_params(self, like: Tensor) -> tuple[Tensor, Tensor]:
        if self.mode == "pure":
            return self.A, torch.abs(self.w_tau)
        return like.new_zeros(0), like.new_zeros(0)

    def _fold(self, w: Tensor, ts_const: float | None) -> Tensor:
        """(heads, in, N) -> (in, heads'·N); folds the two time heads when ts is constant."""
        if self.n_heads == 4 and ts_const is not None:
            gate = w[2] * ts_const + w[3] if ts_const != 1.0 else w[2] + w[3]
            return torch.cat([w[0], w[1], gate], dim=-1)
        return torch.cat(list(w.unbind(0)), dim=-1)

    def _cache_key(self, ts_const: float | None) -> tuple:
        if self._params is None:  # .to()/load_state_dict keep the Parameter objects
            self._params = list(self.parameters())
        return (ts_const, tuple((p.data_ptr(), p._version) for p in self._params))

    def _cache_valid(self, key: tuple) -> bool:
        return key == self._cache_key(key[0])

    def _fused(self, ts_const: float | None) -> tuple[Tensor, ...]:
        """Masked, fused weights; cached while nothing can change them."""
        key = self._cache_key(ts_const)
        cacheable = not torch.is_grad_enabled() and not use_python_loop()
        if cacheable and self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        if self.use_backbone:
            first = self.backbone[0]
            wx = first.weight[:, : self.input_size].t()
            wh = first.weight[:, self.input_size :].t()
            extra_w = [lin.weight.t() for lin in self.backbone[1:]]
            extra_b = [lin.bias for lin in self.backbone[1:]]
            b_head = self._fold(self.bias.unsqueeze(1), ts_const)[0]
            fused = (wx, first.bias, wh, extra_w, extra_b, self._fold(self.weight, ts_const),
                     b_head)
        else:
            w_in = self._fold(self.input_weight * self.input_mask, ts_const)
            w_rec = self._fold(self.recurrent_weight * self.recurrent_mask, ts_const)
            b = self._fold(self.bias.unsqueeze(1), ts_const)[0]
            if self._mode == 0:
                w_in, w_rec, b = self._affine(w_in, w_rec, b)
            masks = [self.layer_of == li for li in range(self.n_layers)]
            a, w_tau_abs = self._pure_params(w_in)
            fused = (w_in, w_rec, b, masks, a, w_tau_abs)
        if cacheable:
            self._cache = (key, fused)
        return fused

    def _scan_outputs(
        self, x: Tensor, h0: Tensor, ts: Tensor | float | None
    ) -> tuple[Tensor, Tensor] | None:
        """Motor outputs (T, B, out) and last hx without building every neuron's states.

        The wired scan then keeps only the motor columns of each iteration, and
        the final state needs no un-skewing (see :func:`_wired_scan`).
        """
        if self.use_backbone or self.mixed_memory or not self._out_slice:
            return None
        return self._scan(x, h0, ts, outputs_only=True)

    def _scan(
        self, x: Tensor, h0: Tensor, ts: Tensor | float | None, outputs_only: bool = False
    ) -> tuple[Tensor, Tensor]:
        steps, batch = x.shape[0], x.shape[1]
        ts_const = 1.0 if ts is None else (ts if isinstance(ts, float) else None)
        ts_t = ts if isinstance(ts, Tensor) else None
        if self.mode == "pure" and ts_const is not None and ts_const != 1.0:
            ts_t = x.new_full((steps, batch, 1), ts_const)
        a, w_tau_abs = self._pure_params(x)
        python = use_python_loop()
        if self.use_backbone:
            wx, bx, wh, extra_w, extra_b, whead, bhead = self._fused(ts_const)
            xb = torch.addmm(bx, x.reshape(steps * batch, -1), wx).reshape(steps, batch, -1)
            scan = _backbone_scan if python else _backbone_scan_script
            out = scan(xb, h0, wh, extra_w, extra_b, whead, bhead, ts_t,
                       self._act, self._mode, a, w_tau_abs)
            return out, out[-1]
        fused = self._kernel_scan(x, h0, ts_t, ts_const, outputs_only)
        if fused is not None:
            return fused
        w_in, w_rec, b, masks, a, w_tau_abs = self._fused(ts_const)
        mode = 3 if self._mode == 0 else self._mode
        if self.mixed_memory:
            return self._scan_mixed(x, h0, ts_t, w_in, w_rec, b, masks, mode, a, w_tau_abs)
        if mode == 3:
            h0 = (h0 + 1.0) * 0.5
        xin = torch.addmm(b, x.reshape(steps * batch, -1), w_in).reshape(steps, batch, -1)
        n_layers = self.n_layers
        if n_layers > 1:
            k = torch.arange(steps + n_layers - 1, device=x.device).unsqueeze(1)
            lag = k - self.layer_of.unsqueeze(0)  # (K, N): step each layer works on
            active = ((lag >= 0) & (lag < steps)).unsqueeze(1)
            if ts_t is not None:  # skew the time spans like the layers
                idx = lag.clamp(0, steps - 1)
                ts_t = ts_t[:, :, 0].t()[:, idx].permute(1, 0, 2)  # (K, B, N)
        else:
            active = x.new_ones(steps, 1, 1, dtype=torch.bool)
        scan = _wired_scan if python else _wired_scan_script
        if outputs_only:  # the motor layer (the last) at iteration t + L - 1 is step t's
            out, last = scan(xin, h0, w_rec, ts_t, active, n_layers, mode, a, w_tau_abs,
                             self._out_start, self._out_stop)
            out = out[n_layers - 1 : n_layers - 1 + steps]
            if mode == 3:
                out, last = out.mul(2.0).sub_(1.0), last * 2.0 - 1.0
            return out, last
        out, _ = scan(xin, h0, w_rec, ts_t, active, n_layers, mode, a, w_tau_abs,
                      0, h0.shape[1])
        if n_layers > 1:
            # Un-skew: the state of layer l at step t was computed at iteration t + l.
            parts, start = [], 0
            for li, size in enumerate(self.layer_sizes):
                parts.append(out[li : li + steps, :, start : start + size])
                start += size
            out = torch.cat(parts, dim=-1)
        if mode == 3:
            out = out.mul(2.0).sub_(1.0)
        return out, out[-1]

    def _kernel_scan(
        self, x: Tensor, h0: Tensor, ts_t: Tensor | None, ts_const: float | None,
        outputs_only: bool,
    ) -> tuple[Tensor, Tensor] | None:
        """The scan by the fused CPU kernel, or ``None`` where it does not apply.

        It applies to default-mode wired cells in float32 CPU inference, where
        the kernel could be built; autograd, tracing (exporters) and dispatch
        modes (the profile's FLOP counter) get the TorchScript or Python loop.
        """
        if (self._mode != 0 or self.mixed_memory or self.use_backbone
                or torch.is_grad_enabled() or x.device.type != "cpu"
                or x.dtype != torch.float32 or h0.dtype != torch.float32
                or use_python_loop() or is_in_torch_dispatch_mode()
                or (outputs_only and not self._out_slice) or x.numel() == 0):
            return None
        kernel = cfc_kernel()
        if kernel is None:
            return None
        w_in, w_rec, b, *_ = self._fused(ts_const)
        x_bt = x.transpose(0, 1)  # batch first, as forward received it (no copy then)
        ts_bt = None if ts_t is None else ts_t[:, :, 0].t()
        start, stop = ((self._out_start, self._out_stop) if outputs_only
                       else (0, self.state_size))
        out, last = kernel.wired_scan_default(
            x_bt, w_in, b, (h0 + 1.0) * 0.5, w_rec, ts_bt, self.layer_of, start, stop)
        out = out.transpose(0, 1)  # (T, B, kept), as the scans return
        last = last * 2.0 - 1.0
        return (out, last) if outputs_only else (out, out[-1])

    def _scan_mixed(self, x, hx, ts_t, w_in, w_rec, b, masks, mode, a, w_tau_abs):
        steps, batch = x.shape[0], x.shape[1]
        flat = x.reshape(steps * batch, -1)
        xin = torch.addmm(b, flat, w_in).reshape(steps, batch, -1)
        mem = self.memory_input
        xm = torch.addmm(mem.bias, flat, mem.weight.t()).reshape(steps, batch, -1)
        h0, c0 = hx[:, : self.state_size], hx[:, self.state_size :]
        scan = _mixed_scan if use_python_loop() else _mixed_scan_script
        out, c = scan(xm, xin, h0, c0, self.memory_recurrent.weight.t(), w_rec, masks, ts_t,
                      mode, a, w_tau_abs)
        return out, torch.cat([out[-1], c], dim=-1)

    def _affine(self, w_in: Tensor, w_rec: Tensor, b: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Weights of the default mode in ``u = (h + 1) / 2`` with doubled ff heads.

        With ``s = scale * z`` (scale 2 on the ff columns, exact) and
        ``h = 2u - 1``: ``s = x (scale W_in) + scale b - colsum(scale W_rec) + u (2 scale W_rec)``.
        """
        scale = torch.ones(w_rec.shape[1], dtype=w_rec.dtype, device=w_rec.device)
        scale[: 2 * self.state_size] = 2.0
        w_rec = w_rec * scale
        return w_in * scale, w_rec * 2.0, b * scale - w_rec.sum(0)

    def _step(self, x: Tensor, h: Tensor, ts: Tensor | float | None) -> Tensor:
        if self.use_backbone or self.mixed_memory:
            return self._scan(x.unsqueeze(0), h, ts)[1]
        ts_const = 1.0 if ts is None else (ts if isinstance(ts, float) else None)
        ts_t = ts[0] if isinstance(ts, Tensor) else None
        if self.mode == "pure" and ts_const is not None and ts_const != 1.0:
            ts_t = x.new_full((x.shape[0], 1), ts_const)
        w_in, w_rec, b, masks, a, w_tau_abs = self._fused(ts_const)
        mode = 3 if self._mode == 0 else self._mode
        step = _wired_step if use_python_loop() else _wired_step_script
        return step(x, h, w_in, b, w_rec, masks, ts_t, mode, a, w_tau_abs)

    def step(
        self, x_t: Tensor, hx: Tensor | None = None, timespan: float | Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Advance one time step (streaming); see :meth:`LiquidRNN.step`.

        The common case (wired, no time span, no autograd) takes a lean path:
        cached fused weights and one TorchScript call.
        """
        if (timespan is not None or self.use_backbone or self.mixed_memory
                or torch.is_grad_enabled()):
            return super().step(x_t, hx, timespan)
        if hx is None:
            hx = self.initial_state(x_t.shape[0], x_t)
        cache = self._cache
        if cache is None or cache[0][0] != 1.0 or not self._cache_valid(cache[0]):
            fused = self._fused(1.0)  # not cached while tracing (use_python_loop)
            cache = self._cache if self._cache is not None and self._cache[1] is fused else None
        else:
            fused = cache[1]
        w_in, w_rec, b, masks, a, w_tau_abs = fused
        mode = 3 if self._mode == 0 else self._mode
        # NumPy is invisible to tracers (export) and to dispatch modes (the profile's
        # FLOP counter): those see the torch step.
        if (cache is not None and mode == 3 and x_t.shape[0] <= SMALL_BATCH
                and x_t.device.type == "cpu"
                and x_t.dtype == torch.float32 and hx.dtype == torch.float32
                and not torch.jit.is_tracing() and not is_in_torch_dispatch_mode()):
            if self._small_step is None or self._small_step[0] is not cache[0]:
                self._small_step = (cache[0], SmallBatchStep(w_in, w_rec, b, self.layer_sizes))
            h = torch.from_numpy(self._small_step[1](x_t.detach().numpy(), hx.detach().numpy()))
        else:
            h = _wired_step_script(x_t, hx, w_in, b, w_rec, masks, None, mode, a, w_tau_abs)
        if self._out_slice:
            return h[:, self._out_start : self._out_stop], h
        return h.index_select(1, self.output_positions), h

    def train(self, mode: bool = True) -> CfC:
        """Switch mode, dropping the weights cached for inference (training changes them)."""
        self._cache, self._params, self._small_step = None, None, None
        return super().train(mode)
