"""Liquid time-constant (LTC) networks, exact to ``ncps.torch.LTC`` and fast.

Each step solves the LTC ODE with ``ode_unfolds`` semi-implicit (fused Euler)
updates (Hasani et al. 2021)::

    a_ij = w_ij · sigmoid(sigma_ij (v_i - mu_ij))                  # synapse i -> j
    v_j <- (cm_j/dt · v_j + gleak_j vleak_j + Σ_i a_ij erev_ij + sensory)
           / (cm_j/dt + gleak_j + Σ_i a_ij + sensory' + eps)      dt = ts / ode_unfolds

with ``w``, ``cm``, ``gleak`` (and the sensory ``w``) kept positive by a
softplus (``implicit_constraints=True``, the ``ncps.torch.LTC`` default) or by
clipping after each optimiser step (:meth:`LTC.apply_weight_constraints`).

How it is made fast without changing the function: only the synapses that
exist are computed (an NCP has ~10 % of the N² pairs): per unfold one matmul
gathers and scales the presynaptic voltages of every synapse, one sigmoid, and
one matmul scatters ``a·erev`` and ``a`` onto the postsynaptic neurons; the
sensory synapses and every loop-invariant term are computed for all steps
before the loop; the loop is TorchScript, and so is its hand-written
backward (autograd would record ~7 nodes per unfold). Training keeps each
unfold's voltages, activations and denominators: about
``steps · unfolds · batch · (2N + 2E) · 4`` bytes (~120 MB for 64 × 256 steps
of an AutoNCP(32, 5) with 6 unfolds).

References
----------
Hasani et al., "Liquid time-constant networks", AAAI 35(9), 7657–7666 (2021).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from cardioliquid.models.sequence import LiquidRNN, use_python_loop
from cardioliquid.models.wiring import Wiring, fully_connected

_INIT = {
    "gleak": (0.001, 1.0), "vleak": (-0.2, 0.2), "cm": (0.4, 0.6), "w": (0.001, 1.0),
    "sigma": (3.0, 8.0), "mu": (0.3, 0.8), "sensory_w": (0.001, 1.0),
    "sensory_sigma": (3.0, 8.0), "sensory_mu": (0.3, 0.8),
}


def _unfold(v: Tensor, consts: Tensor, cm: Tensor, src: Tensor, sigma: Tensor, shift: Tensor,
            scatter: Tensor, unfolds: int) -> Tensor:
    """``unfolds`` fused solver updates of one step (the one copy of the LTC update).

    ``consts`` (B, 2N) holds the step's numerator and denominator terms; per unfold,
    ``v' = (c_num + a S_num + cm v) / (c_den + a S_den)`` with ``a = sigmoid(shift +
    sigma v[src])``, numerator and denominator in one matmul.
    """
    n = v.shape[1]
    for _ in range(unfolds):
        act = torch.sigmoid(torch.addcmul(shift, v.index_select(1, src), sigma))
        nd = torch.addmm(consts, act, scatter)
        v = torch.addcmul(nd[:, :n], cm, v) / nd[:, n:]
    return v


def _ltc_scan(
    v0: Tensor,
    num_c: Tensor,
    den_c: Tensor,
    cm_t: Tensor,
    src: Tensor,
    sigma: Tensor,
    shift: Tensor,
    scatter_num: Tensor,
    scatter_den: Tensor,
    unfolds: int,
) -> Tensor:
    """Per step: ``unfolds`` fused updates; returns states (T, B, N).

    ``num_c``/``den_c`` (T, B, N) are the loop-invariant numerator and
    denominator terms; ``cm_t`` (T or 1, B or 1, N) is ``cm / dt``; synapse
    ``e`` goes from neuron ``src[e]`` with ``sigma[e]`` and ``shift[e] =
    -mu·sigma``; ``scatter_num``/``scatter_den`` (E, N) sum ``a·erev`` and ``a``
    onto the postsynaptic neurons.
    """
    v = v0
    out: list[Tensor] = []
    # numerator and denominator in one matmul: [c_num, c_den] + a [S_num, S_den]
    consts = torch.cat([num_c, den_c], dim=-1).unbind(0)
    scatter = torch.cat([scatter_num, scatter_den], dim=1)
    cms = cm_t.unbind(0)
    for t in range(len(consts)):
        v = _unfold(v, consts[t], cms[min(t, len(cms) - 1)], src, sigma, shift, scatter, unfolds)
        out.append(v)
    return torch.stack(out)


_ltc_scan_script = torch.jit.script(_ltc_scan)


def _ltc_step(
    x: Tensor,
    v: Tensor,
    input_w: Tensor,
    input_b: Tensor,
    s_src: Tensor,
    s_dst: Tensor,
    s_sigma: Tensor,
    s_shift: Tensor,
    s_num: Tensor,
    s_den: Tensor,
    base_num: Tensor,
    base_den: Tensor,
    cm: Tensor,
    src: Tensor,
    sigma: Tensor,
    shift: Tensor,
    scatter: Tensor,
    unfolds: int,
) -> Tensor:
    """One streaming step (elapsed time 1) in one call: same result as the scan."""
    xm = torch.addcmul(input_b, x, input_w)
    s_act = torch.sigmoid(torch.addcmul(s_shift, xm.index_select(1, s_src), s_sigma))
    c_num = torch.index_add(base_num.expand_as(v), 1, s_dst, s_act * s_num)
    c_den = torch.index_add(base_den.expand_as(v), 1, s_dst, s_act * s_den)
    consts = torch.cat([c_num, c_den], dim=1)
    return _unfold(v, consts, cm, src, sigma, shift, scatter, unfolds)


_ltc_step_script = torch.jit.script(_ltc_step)


def _ltc_scan_inline(
    xm: Tensor,
    v0: Tensor,
    s_src: Tensor,
    s_dst: Tensor,
    s_sigma: Tensor,
    s_shift: Tensor,
    s_num: Tensor,
    s_den: Tensor,
    base_num: Tensor,
    den_add: Tensor,
    cm_t: Tensor,
    src: Tensor,
    sigma: Tensor,
    shift: Tensor,
    scatter: Tensor,
    unfolds: int,
) -> Tensor:
    """Inference scan with the sensory synapses computed step by step (cache-friendly)."""
    v = v0
    out: list[Tensor] = []
    xs = xm.unbind(0)
    cms = cm_t.unbind(0)
    dens = den_add.unbind(0)
    base = base_num.expand_as(v0)
    for t in range(len(xs)):
        cm = cms[min(t, len(cms) - 1)]
        s_act = torch.sigmoid(torch.addcmul(s_shift, xs[t].index_select(1, s_src), s_sigma))
        c_num = torch.index_add(base, 1, s_dst, s_act * s_num)
        c_den = torch.index_add(dens[min(t, len(dens) - 1)].expand_as(v0), 1, s_dst,
                                s_act * s_den)
        consts = torch.cat([c_num, c_den], dim=1)
        v = _unfold(v, consts, cm, src, sigma, shift, scatter, unfolds)
        out.append(v)
    return torch.stack(out)


_ltc_scan_inline_script = torch.jit.script(_ltc_scan_inline)


def _ltc_scan_saving(
    v0: Tensor,
    num_c: Tensor,
    den_c: Tensor,
    cm_t: Tensor,
    src: Tensor,
    sigma: Tensor,
    shift: Tensor,
    scatter_num: Tensor,
    scatter_den: Tensor,
    unfolds: int,
) -> tuple[Tensor, list[Tensor], list[Tensor], list[Tensor], list[Tensor]]:
    """``_ltc_scan`` that also keeps what the backward needs, per unfold (no copies).

    The update is :func:`_unfold`'s, written out because every intermediate is kept
    (numerator and denominator as two matmuls, the denominator being saved).

    Returns states (T, B, N) and, per unfold k: output voltage, presynaptic
    voltages ``v[src]`` (B, E), activation (B, E) and denominator (B, N).
    """
    v = v0
    out: list[Tensor] = []
    vs: list[Tensor] = []
    vsrc: list[Tensor] = []
    acts: list[Tensor] = []
    dens_k: list[Tensor] = []
    nums = num_c.unbind(0)
    dens = den_c.unbind(0)
    cms = cm_t.unbind(0)
    for t in range(len(nums)):
        cm = cms[min(t, len(cms) - 1)]
        for _ in range(unfolds):
            pre = v.index_select(1, src)
            act = torch.sigmoid(torch.addcmul(shift, pre, sigma))
            den = torch.addmm(dens[t], act, scatter_den)
            v = torch.addcmul(torch.addmm(nums[t], act, scatter_num), cm, v) / den
            vs.append(v)
            vsrc.append(pre)
            acts.append(act)
            dens_k.append(den)
        out.append(v)
    return torch.stack(out), vs, vsrc, acts, dens_k


def _ltc_backward(
    g_states: Tensor,
    v0: Tensor,
    vs: list[Tensor],
    vsrc: list[Tensor],
    acts: list[Tensor],
    dens: list[Tensor],
    cm_t: Tensor,
    src: Tensor,
    sigma: Tensor,
    scatter_num: Tensor,
    scatter_den: Tensor,
    unfolds: int,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Hand-written backpropagation through time of ``_ltc_scan``.

    For ``v' = (c_num + a S_num + cm v) / (c_den + a S_den)`` with
    ``a = sigmoid(shift + sigma v[src])``: ``dv'/dc_num = 1/den``,
    ``dv'/dc_den = -v'/den``, and the chain rule through ``a``; parameter
    gradients are accumulated in the loop.
    """
    steps = g_states.shape[0]
    g = torch.zeros_like(g_states[0])
    zero_n = torch.zeros_like(g)
    g_nums: list[Tensor] = []
    g_dens: list[Tensor] = []
    g_cms: list[Tensor] = []
    g_sn = torch.zeros_like(scatter_num)
    g_sd = torch.zeros_like(scatter_den)
    g_shift = torch.zeros_like(sigma)
    g_sigma = torch.zeros_like(sigma)
    sn_t = scatter_num.t()
    sd_t = scatter_den.t()
    for t in range(steps - 1, -1, -1):
        cm = cm_t[min(t, cm_t.shape[0] - 1)]
        g = g + g_states[t]
        g_num_t = zero_n
        g_den_t = zero_n
        g_cm_t = zero_n
        for u in range(unfolds - 1, -1, -1):
            k = t * unfolds + u
            act = acts[k]
            v_in = vs[k - 1] if k > 0 else v0
            g_num = g / dens[k]
            g_den = -g_num * vs[k]
            g_num_t = g_num_t + g_num
            g_den_t = g_den_t + g_den
            g_cm_t = torch.addcmul(g_cm_t, g_num, v_in)
            act_t = act.t()
            g_sn = torch.addmm(g_sn, act_t, g_num)
            g_sd = torch.addmm(g_sd, act_t, g_den)
            d_pre = torch.addmm(g_num.mm(sn_t), g_den, sd_t) * (act * (1.0 - act))
            g_shift = g_shift + d_pre.sum(0)
            g_sigma = g_sigma + (d_pre * vsrc[k]).sum(0)
            g = torch.index_add(g_num * cm, 1, src, d_pre * sigma)
        g_nums.append(g_num_t)
        g_dens.append(g_den_t)
        g_cms.append(g_cm_t)
    g_nums.reverse()
    g_dens.reverse()
    g_cms.reverse()
    g_cm = torch.stack(g_cms)
    if cm_t.shape[0] == 1:
        g_cm = g_cm.sum(0, keepdim=True)
    if cm_t.shape[1] == 1:
        g_cm = g_cm.sum(1, keepdim=True)
    return (g, torch.stack(g_nums), torch.stack(g_dens), g_cm, g_sigma, g_shift, g_sn, g_sd)


_ltc_scan_saving_script = torch.jit.script(_ltc_scan_saving)
_ltc_backward_script = torch.jit.script(_ltc_backward)


class _LTCScan(torch.autograd.Function):
    """The LTC scan with a hand-written backward (one TorchScript loop each way).

    Autograd through the loop would record ~7 nodes per unfold; this keeps the
    voltages, activations and denominators and runs the backward loop itself.
    """

    @staticmethod
    def forward(ctx, v0, num_c, den_c, cm_t, sigma, shift, sn, sd, src, unfolds):
        states, vs, vsrc, acts, dens = _ltc_scan_saving_script(
            v0, num_c, den_c, cm_t, src, sigma, shift, sn, sd, unfolds)
        ctx.save_for_backward(v0, cm_t, src, sigma, sn, sd)
        ctx.trace = (vs, vsrc, acts, dens)  # intermediates, not inputs/outputs
        ctx.unfolds = unfolds
        return states

    @staticmethod
    def backward(ctx, g_states):
        v0, cm_t, src, sigma, sn, sd = ctx.saved_tensors
        vs, vsrc, acts, dens = ctx.trace
        grads = _ltc_backward_script(g_states.contiguous(), v0, vs, vsrc, acts, dens, cm_t,
                                     src, sigma, sn, sd, ctx.unfolds)
        del ctx.trace
        g_v0, g_num, g_den, g_cm, g_sigma, g_shift, g_sn, g_sd = grads
        return g_v0, g_num, g_den, g_cm, g_sigma, g_shift, g_sn, g_sd, None, None


class LTC(LiquidRNN):
    """A liquid time-constant network over a wiring (NCP, random, fully connected).

    Computes the same function as ``ncps.torch.LTC`` (same parameters give the
    same outputs and gradients); see the module docstring for how it is fast.
    Parameter names are those of ``ncps.torch.LTCCell``.

    Parameters
    ----------
    input_size : int
        Input features per step.
    units : int or Wiring
        A wiring, or a number of fully connected neurons.
    return_sequences : bool
        Return every step's output (else only the last).
    ode_unfolds : int
        Semi-implicit solver updates per step.
    epsilon : float
        Added to the denominator.
    implicit_constraints : bool
        Softplus on ``w``, ``sensory_w``, ``cm``, ``gleak`` (else identity, and
        call :meth:`apply_weight_constraints` after each optimiser step).

    Examples
    --------
    >>> from cardioliquid.models.wiring import auto_ncp
    >>> rnn = LTC(8, auto_ncp(16, 4), ode_unfolds=6)
    >>> y, hx = rnn(torch.randn(2, 50, 8), timespans=torch.full((2, 50), 0.5))
    >>> y.shape
    torch.Size([2, 50, 4])
    """

    def __init__(
        self,
        input_size: int,
        units: int | Wiring,
        return_sequences: bool = True,
        ode_unfolds: int = 6,
        epsilon: float = 1e-8,
        implicit_constraints: bool = True,
    ) -> None:
        wiring = units if isinstance(units, Wiring) else fully_connected(int(units))
        super().__init__(input_size, wiring, return_sequences)
        if int(ode_unfolds) < 1:
            raise ValueError(f"expected ode_unfolds >= 1, got {ode_unfolds}")
        self.ode_unfolds = int(ode_unfolds)
        self.epsilon = float(epsilon)
        self.implicit_constraints = bool(implicit_constraints)
        n, i_dim, m = self.state_size, self.input_size, self.output_size
        shapes = {"gleak": (n,), "vleak": (n,), "cm": (n,), "sigma": (n, n), "mu": (n, n),
                  "w": (n, n), "sensory_sigma": (i_dim, n), "sensory_mu": (i_dim, n),
                  "sensory_w": (i_dim, n)}
        for name, shape in shapes.items():
            lo, hi = _INIT[name]
            self.register_parameter(name, nn.Parameter(torch.rand(*shape) * (hi - lo) + lo))
        dtype = torch.get_default_dtype()
        adj = torch.from_numpy(wiring.adjacency).to(dtype)
        sadj = torch.from_numpy(wiring.sensory_adjacency).to(dtype)
        self.erev = nn.Parameter(adj.clone())
        self.sensory_erev = nn.Parameter(sadj.clone())
        self.input_w = nn.Parameter(torch.ones(i_dim))
        self.input_b = nn.Parameter(torch.zeros(i_dim))
        self.output_w = nn.Parameter(torch.ones(m))
        self.output_b = nn.Parameter(torch.zeros(m))
        self.register_buffer("sparsity_mask", adj.abs())
        self.register_buffer("sensory_sparsity_mask", sadj.abs())
        self._register_edges("", adj.abs(), n)
        self._register_edges("sensory_", sadj.abs(), n)
        self.register_buffer("state_neurons", torch.arange(n), persistent=False)
        self.register_buffer("output_positions", torch.arange(m), persistent=False)
        self._cache: tuple | None = None
        self._step_cache: tuple | None = None

    def _register_edges(self, prefix: str, mask: Tensor, n: int) -> None:
        src, dst = torch.nonzero(mask, as_tuple=True)
        self.register_buffer(f"_{prefix}flat", src * n + dst, persistent=False)
        self.register_buffer(f"_{prefix}src", src, persistent=False)
        self.register_buffer(f"_{prefix}dst", dst, persistent=False)
        self.register_buffer(f"_{prefix}dst_onehot", F.one_hot(dst, n).float(),
                             persistent=False)

    def _positive(self, p: Tensor) -> Tensor:
        return F.softplus(p) if self.implicit_constraints else p

    def apply_weight_constraints(self) -> None:
        """Clip ``w``, ``sensory_w``, ``cm``, ``gleak`` at 0 (explicit-constraint mode)."""
        if not self.implicit_constraints:
            with torch.no_grad():
                for p in (self.w, self.sensory_w, self.cm, self.gleak):
                    p.clamp_(min=0)

    def _edges(self, prefix: str, w: Tensor, sigma: Tensor, mu: Tensor, erev: Tensor):
        """Per-synapse sigma and -mu·sigma (E,), and scatter matrices (E, N) for a·erev, a."""
        flat = getattr(self, f"_{prefix}flat")
        w_e = w.reshape(-1)[flat]
        sigma_e = sigma.reshape(-1)[flat]
        shift = -(mu.reshape(-1)[flat] * sigma_e)
        dst = getattr(self, f"_{prefix}dst_onehot").to(w.dtype)
        w_erev = (w_e * erev.reshape(-1)[flat]).unsqueeze(1)
        return sigma_e, shift, dst * w_erev, dst * w_e.unsqueeze(1)

    def _fused(self) -> tuple[Tensor, ...]:
        """Positive parameters and synapse tables; cached while nothing can change them."""
        key = tuple((p.data_ptr(), p._version) for p in self.parameters())
        cacheable = not torch.is_grad_enabled() and not use_python_loop()
        if cacheable and self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        pos = self._positive
        fused = (pos(self.gleak), pos(self.cm))
        s_sigma, s_shift, s_num, s_den = self._edges(
            "sensory_", pos(self.sensory_w), self.sensory_sigma, self.sensory_mu,
            self.sensory_erev)
        fused += (s_sigma, s_shift, s_num.sum(1), s_den.sum(1))  # per-synapse weights
        fused += self._edges("", pos(self.w), self.sigma, self.mu, self.erev)
        if cacheable:
            self._cache = (key, fused)
        return fused

    def step(
        self, x_t: Tensor, hx: Tensor | None = None, timespan: float | Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Advance one time step (streaming); see :meth:`LiquidRNN.step`.

        Without a time span and without autograd, one TorchScript call on
        cached tables (the state-independent terms are cached with them).
        """
        if timespan is not None or torch.is_grad_enabled() or use_python_loop():
            return super().step(x_t, hx, timespan)
        if hx is None:
            hx = self.initial_state(x_t.shape[0], x_t)
        gleak, cm, s_sigma, s_shift, s_num, s_den, sigma, shift, r_num, r_den = self._fused()
        step_cache = self._step_cache
        if step_cache is None or step_cache[0] is not self._cache:
            cm_t = cm / (1.0 / self.ode_unfolds)
            step_cache = (self._cache, (
                gleak * self.vleak, cm_t + gleak + self.epsilon, cm_t,
                torch.cat([r_num, r_den], dim=1)))
            self._step_cache = step_cache
        base_num, base_den, cm_t, scatter = step_cache[1]
        v = _ltc_step_script(x_t, hx, self.input_w, self.input_b, self._sensory_src,
                             self._sensory_dst, s_sigma, s_shift, s_num, s_den, base_num,
                             base_den, cm_t, self._src, sigma, shift, scatter, self.ode_unfolds)
        return self._outputs(v), v

    def train(self, mode: bool = True) -> LTC:
        """Switch mode, dropping the tables cached for inference (training changes them)."""
        self._cache = None
        return super().train(mode)

    def _scan(
        self, x: Tensor, h0: Tensor, ts: Tensor | float | None
    ) -> tuple[Tensor, Tensor]:
        steps, batch = x.shape[0], x.shape[1]
        n = self.state_size
        gleak, cm, s_sigma, s_shift, s_num, s_den, sigma, shift, r_num, r_den = self._fused()
        if not torch.is_grad_enabled() and not use_python_loop():
            return self._scan_inference(x, h0, ts)
        # Sensory synapses for every step at once.
        xm = (x * self.input_w + self.input_b).reshape(steps * batch, -1)
        s_act = torch.sigmoid(torch.addcmul(s_shift, xm.index_select(1, self._sensory_src),
                                            s_sigma))
        # Loop invariants: cm/dt, numerator and denominator constants per step.
        elapsed = 1.0 if ts is None else ts
        cm_t = cm / (elapsed / self.ode_unfolds)
        if not isinstance(cm_t, Tensor) or cm_t.ndim == 1:
            cm_t = cm_t.reshape(1, 1, n)
        base = (gleak * self.vleak).expand(steps * batch, n)
        if use_python_loop():  # exporters: plain matmuls (ONNX lacks index_add)
            onehot = self._sensory_dst_onehot.to(x.dtype)
            num_c = torch.addmm(base, s_act * s_num, onehot)
            den_c = (s_act * s_den) @ onehot
        else:  # few sensory synapses: index_add beats a (mostly zero) scatter matmul
            dst = self._sensory_dst
            num_c = torch.index_add(base, 1, dst, s_act * s_num)
            den_c = torch.index_add(torch.zeros_like(base), 1, dst, s_act * s_den)
        num_c = num_c.reshape(steps, batch, n)
        den_c = den_c.reshape(steps, batch, n) + (cm_t + gleak + self.epsilon)
        if use_python_loop():
            states = _ltc_scan(h0, num_c, den_c, cm_t, self._src, sigma, shift, r_num, r_den,
                               self.ode_unfolds)
        elif torch.is_grad_enabled():
            cm_t = cm_t.expand_as(cm_t)  # a tensor the Function can hand a gradient to
            states = _LTCScan.apply(h0, num_c, den_c, cm_t, sigma, shift, r_num, r_den,
                                    self._src, self.ode_unfolds)
        else:
            states = _ltc_scan_script(h0, num_c, den_c, cm_t, self._src, sigma, shift, r_num,
                                      r_den, self.ode_unfolds)
        return states, states[-1]

    def _scan_inference(
        self, x: Tensor, h0: Tensor, ts: Tensor | float | None
    ) -> tuple[Tensor, Tensor]:
        gleak, cm, s_sigma, s_shift, s_num, s_den, sigma, shift, r_num, r_den = self._fused()
        n = self.state_size
        elapsed = 1.0 if ts is None else ts
        cm_t = cm / (elapsed / self.ode_unfolds)
        if not isinstance(cm_t, Tensor) or cm_t.ndim == 1:
            cm_t = cm_t.reshape(1, 1, n)
        xm = torch.addcmul(self.input_b, x, self.input_w)
        states = _ltc_scan_inline_script(
            xm, h0, self._sensory_src, self._sensory_dst, s_sigma, s_shift, s_num, s_den,
            gleak * self.vleak, cm_t + gleak + self.epsilon, cm_t, self._src, sigma, shift,
            torch.cat([r_num, r_den], dim=1), self.ode_unfolds)
        return states, states[-1]

    def _outputs(self, states: Tensor) -> Tensor:
        y = states.index_select(-1, self.output_positions)
        return y * self.output_w + self.output_b
