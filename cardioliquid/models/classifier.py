"""Window classifiers: a strided conv front end, a liquid (or LSTM/GRU) layer, a head.

::

    x (B, n_chans, n_times) ─ [Conv1d(stride) + BatchNorm + ReLU] × k ─► (B, T', C)
        ─► CfC / LTC over an NCP wiring (T' steps) ─► motor neurons at the last step
        ─► concat [BatchNorm(features)] ─► Linear ─► logits (B, n_outputs)

The front end shortens the sequence (126 samples → 32 steps for a beat at
180 Hz) so the liquid layer runs few steps. Extra per-window features (RR
intervals of a beat) join at the head rather than entering every step: they
are one number per window, not a time series, so feeding them to each step
would spend sensory synapses and MACs at every step and mix rhythm into the
morphology states the app displays; at the head they cost
``n_features × n_outputs`` weights.

Registered builders (see :func:`~cardioliquid.models.registry.create_model`):
``liquid-cfc``, ``liquid-ltc``, and the baselines ``lstm`` and ``gru``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from cardioliquid._check import check_option
from cardioliquid.models.cfc import CfC
from cardioliquid.models.contract import SignalContract
from cardioliquid.models.ltc import LTC
from cardioliquid.models.registry import register_model
from cardioliquid.models.wiring import Wiring, auto_ncp


def _front_end(n_chans: int, channels: list[int], kernels: list[int], strides: list[int]):
    if not len(channels) == len(kernels) == len(strides) >= 1:
        raise ValueError(
            "expected conv_channels, kernel_sizes and strides of the same length >= 1, got "
            f"{len(channels)}, {len(kernels)}, {len(strides)}"
        )
    layers: list[nn.Module] = []
    c_in = n_chans
    for c, k, s in zip(channels, kernels, strides, strict=True):
        layers += [nn.Conv1d(c_in, c, k, stride=s, padding=k // 2, bias=False),
                   nn.BatchNorm1d(c), nn.ReLU()]
        c_in = c
    return nn.Sequential(*layers)


class FeatureStandardizer(nn.Module):
    """Fixed robust standardisation of per-window features: ``clamp((f - median) / scale)``.

    ``scale`` is the interquartile range over 1.349 (the standard deviation for
    Gaussian data), so a few extreme values (a beat after a long pause) do not
    set the scale of the typical ones; the output is clamped to ``±clip``.
    :meth:`fit` sets the buffers from the training set; they are saved with
    the model.

    Parameters
    ----------
    n_features : int
    clip : float
        Bound on the standardised values.
    """

    def __init__(self, n_features: int, clip: float = 8.0) -> None:
        super().__init__()
        self.clip = float(clip)
        self.register_buffer("center", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def fit(self, features: Tensor) -> FeatureStandardizer:
        """Set the median and robust scale from ``features`` (n, n_features)."""
        f = torch.as_tensor(features, dtype=torch.float32)
        if f.ndim != 2 or f.shape[1] != self.center.numel() or f.shape[0] == 0:
            raise ValueError(f"expected features of shape (n > 0, {self.center.numel()}), "
                             f"got {tuple(f.shape)}")
        q = torch.quantile(f, torch.tensor([0.25, 0.5, 0.75]), dim=0)
        iqr_sd = (q[2] - q[0]) / 1.349
        # A feature that is constant over most windows falls back to its standard deviation.
        scale = torch.where(iqr_sd > 1e-6, iqr_sd, f.std(dim=0))
        self.center.copy_(q[1])
        self.scale.copy_(torch.where(scale > 1e-6, scale, torch.ones_like(scale)))
        self.fitted.fill_(True)
        return self

    def forward(self, features: Tensor) -> Tensor:
        """Standardised features, clipped to ``±clip``."""
        return ((features - self.center) / self.scale).clamp(-self.clip, self.clip)


class TiedHead(nn.Linear):
    """A linear head whose tied outputs share their weights on the first ``n_tied_inputs``.

    The weights actually used give every output in ``tied`` the mean of their
    rows over the first ``n_tied_inputs`` inputs (the motor neurons); their
    weights on the remaining inputs (the features) and their biases stay their
    own. The parameters are those of an ``nn.Linear`` (same checkpoint keys).

    Parameters
    ----------
    in_features, out_features : int
    n_tied_inputs : int
        Leading inputs on which the tied outputs share weights.
    tied : list of int
        Output indices that share them.
    """

    def __init__(self, in_features: int, out_features: int, n_tied_inputs: int,
                 tied: list[int]) -> None:
        super().__init__(in_features, out_features)
        self.n_tied_inputs = int(n_tied_inputs)
        self.tied: list[int] = [int(i) for i in tied]
        mask = torch.zeros(out_features, 1, dtype=torch.bool)
        mask[self.tied] = True
        self.register_buffer("tied_mask", mask, persistent=False)

    def tied_weight(self) -> Tensor:
        """The weight matrix the head applies, ``(out_features, in_features)``."""
        n = self.n_tied_inputs
        motor = self.weight[:, :n]
        shared = motor[self.tied_mask[:, 0]].mean(0, keepdim=True)
        return torch.cat([torch.where(self.tied_mask, shared, motor), self.weight[:, n:]], 1)

    def forward(self, input: Tensor) -> Tensor:
        """Logits with the tied weights (:meth:`tied_weight`)."""
        return F.linear(input, self.tied_weight(), self.bias)


def untie_heads(model: nn.Module) -> int:
    """Replace every :class:`TiedHead` in ``model`` with a plain ``nn.Linear``, in place.

    The new layer holds the weights the tied head applied, so the outputs do not
    change, but the tied classes may then drift apart (patient adaptation can
    learn a patient's own N/S morphology).

    Returns
    -------
    int
        How many heads were untied.
    """
    tied = [(parent, name, child) for parent in model.modules()
            for name, child in parent.named_children() if isinstance(child, TiedHead)]
    for parent, name, head in tied:
        linear = nn.Linear(head.in_features, head.out_features).to(head.weight)
        with torch.no_grad():
            linear.weight.copy_(head.tied_weight())
            linear.bias.copy_(head.bias)
        setattr(parent, name, linear)
    return len(tied)


class _WindowClassifier(nn.Module):
    """Front end + sequence layer + head; subclasses provide ``_sequence``."""

    wiring: Wiring | None = None

    def __init__(
        self,
        n_chans: int,
        n_outputs: int,
        n_times: int,
        sfreq: float,
        n_features: int,
        conv_channels: list[int],
        kernel_sizes: list[int],
        strides: list[int],
        dropout: float,
        morphology_dropout: float = 0.0,
        feature_hidden: int = 0,
        morphology_tied_outputs: list[int] | None = None,
        feature_stats: str = "ema",
    ) -> None:
        super().__init__()
        check_option("feature_stats", feature_stats, ("ema", "cumulative", "fixed"))
        if not 0.0 <= morphology_dropout < 1.0:
            raise ValueError(f"morphology_dropout must be in [0, 1), got {morphology_dropout!r}")
        self.morphology_dropout = float(morphology_dropout)
        self.contract = SignalContract(int(n_chans), float(sfreq), int(n_times),
                                       int(n_outputs), int(n_features))
        self.front = _front_end(int(n_chans), list(conv_channels), list(kernel_sizes),
                                list(strides))
        with torch.no_grad():
            self.n_steps = int(self.front(torch.zeros(1, n_chans, n_times)).shape[-1])
        self.feature_norm: nn.Module | None = None
        if n_features and feature_stats == "fixed":
            self.feature_norm = FeatureStandardizer(n_features)
        elif n_features:
            # The features are fixed inputs, so a cumulative average over all training
            # batches is the training set's own statistics; an exponential average
            # follows the last few batches, which one outlier (a long pause) can swing.
            momentum = None if feature_stats == "cumulative" else 0.1
            self.feature_norm = nn.BatchNorm1d(n_features, momentum=momentum)
        # Registered before the head, so the head stays the model's last Linear
        # (what patient adaptation in "head" mode fine-tunes).
        self.feature_mlp = (
            nn.Sequential(nn.Linear(n_features, feature_hidden), nn.Tanh(),
                          nn.Linear(feature_hidden, n_outputs))
            if n_features and feature_hidden > 0 else None
        )
        self.dropout = nn.Dropout(dropout)
        self.morphology_tied_outputs = sorted({int(i) for i in morphology_tied_outputs or []})
        if any(not 0 <= i < n_outputs for i in self.morphology_tied_outputs):
            raise ValueError(f"morphology_tied_outputs must index the {n_outputs} outputs, "
                             f"got {morphology_tied_outputs!r}")

    def _make_head(self, n_in: int) -> None:
        n_all = n_in + self.contract.n_features
        if len(self.morphology_tied_outputs) > 1:
            self.head = TiedHead(n_all, self.contract.n_outputs, n_in,
                                 self.morphology_tied_outputs)
        else:
            self.head = nn.Linear(n_all, self.contract.n_outputs)

    def _sequence(self, z: Tensor, hx: Any) -> tuple[Tensor, Any, Tensor]:
        """(B, T', C) -> (last output (B, O), final hx, states (B, T', N))."""
        raise NotImplementedError

    def _logits(self, last: Tensor, features: Tensor | None) -> Tensor:
        last = self.dropout(last)
        if self.training and self.morphology_dropout > 0:
            # Whole windows lose their morphology path, so the features must classify alone.
            keep = torch.rand(last.shape[0], 1, device=last.device) >= self.morphology_dropout
            last = last * keep.to(last.dtype) / (1.0 - self.morphology_dropout)
        if self.feature_norm is None:
            return self.head(last)
        feats = self.feature_norm(features.to(last.dtype))
        logits = self.head(torch.cat([last, feats], dim=-1))
        if self.feature_mlp is not None:
            # Interactions of the features (premature *and* normal-looking).
            logits = logits + self.feature_mlp(feats)
        return logits

    def forward(self, x: Tensor, features: Tensor | None = None) -> Tensor:
        """Class logits.

        Parameters
        ----------
        x : Tensor, shape (batch, n_chans, n_times)
            Windows, as described by :attr:`contract`.
        features : Tensor, shape (batch, n_features), optional
            Extra per-window features (required when ``n_features > 0``).

        Returns
        -------
        Tensor, shape (batch, n_outputs)

        Raises
        ------
        ContractError
            ``x`` or ``features`` do not fit :attr:`contract`.
        """
        return self.forward_stateful(x, features)[0]

    def forward_stateful(
        self, x: Tensor, features: Tensor | None = None, hx: Any = None
    ) -> tuple[Tensor, Any, Tensor]:
        """Logits, the final recurrent state and every neuron's state trajectory.

        Parameters
        ----------
        x : Tensor, shape (batch, n_chans, n_times)
        features : Tensor, shape (batch, n_features), optional
        hx : Tensor, optional
            State carried from the previous window (zeros if omitted).

        Returns
        -------
        logits : Tensor, shape (batch, n_outputs)
        hx : Tensor
            Final state; pass it back to carry it to the next window.
        states : Tensor, shape (batch, T', n_neurons)
            State of every neuron after every front-end step; for liquid
            models ``states[..., i]`` is neuron ``i`` of :attr:`wiring`.
        """
        self.contract.check(x, features)
        z = self.front(x).transpose(1, 2)  # (B, T', C)
        last, hx, states = self._sequence(z, hx)
        return self._logits(last, features), hx, states

    def complexity(self) -> dict[str, int]:
        """Parameters and multiply-accumulates per window (one decision).

        MACs count the conv layers, every step of the recurrent layer (only
        the synapses that exist for wired cells) and the head.

        Returns
        -------
        dict
            ``{"params", "nonzero_params", "macs"}``.
        """
        macs, t = 0, self.contract.n_times
        for m in self.front:
            if isinstance(m, nn.Conv1d):
                t = (t + 2 * m.padding[0] - m.kernel_size[0]) // m.stride[0] + 1
                macs += t * m.out_channels * m.in_channels * m.kernel_size[0]
        macs += self.n_steps * self._step_macs() + self.head.weight.numel()
        if self.feature_mlp is not None:
            macs += sum(m.weight.numel() for m in self.feature_mlp if isinstance(m, nn.Linear))
        params = sum(p.numel() for p in self.parameters())
        nonzero = sum(int(torch.count_nonzero(p)) for p in self.parameters())
        return {"params": params, "nonzero_params": nonzero, "macs": int(macs)}

    def _step_macs(self) -> int:
        raise NotImplementedError


class LiquidClassifier(_WindowClassifier):
    """Conv front end → CfC or LTC over an NCP wiring → linear head.

    Parameters
    ----------
    n_chans, n_outputs, n_times : int
        Input channels, classes, samples per window.
    sfreq : float
        Sampling rate the model is built for (part of the contract).
    n_features : int
        Extra per-window features joined at the head (0 for none).
    cell : {"cfc", "ltc"}
        The liquid cell.
    units : int
        Neurons of the AutoNCP wiring.
    motor_neurons : int
        Motor (output) neurons read by the head; ``< units - 2``.
    sparsity : float
        AutoNCP sparsity in [0.1, 1].
    seed : int
        Wiring seed.
    conv_channels, kernel_sizes, strides : list of int
        Front-end conv layers.
    mode : str
        CfC mode ("default", "no_gate", "pure").
    ode_unfolds : int
        LTC solver unfolds per step.
    dropout : float
        Dropout before the head.
    morphology_dropout : float
        Training only: the probability that a window's whole motor-neuron
        vector is zeroed, leaving the head only the per-window features (RR,
        template). Stops patient-specific morphology from crowding out the
        features that transfer across patients.
    feature_hidden : int
        When > 0, a small tanh layer of this width over the (normalised)
        features adds its logits to the head's, so the features can combine
        non-linearly (a premature beat *with* a normal QRS is an SVEB);
        0 keeps the head linear in the features.
    morphology_tied_outputs : list of int, optional
        Outputs that the motor neurons cannot tell apart: their head weights
        on the motor neurons are averaged, so only the per-window features
        separate them. ``[0, 1]`` ties N and S, which differ in rhythm, not in
        QRS shape; the morphology path still tells them from V, F and Q.
    feature_stats : {"ema", "cumulative", "fixed"}
        How the features are normalised. ``"ema"`` and ``"cumulative"`` are
        BatchNorm (batch statistics in training; at inference an exponential
        average dominated by the last batches, or the average of all of them).
        ``"fixed"``: a :class:`FeatureStandardizer` fitted once on the whole
        training set before training (median and IQR), the same in training
        and inference, so heavy-tailed features (RR ratios after a pause) are
        scaled by their typical spread, whatever the batches held.

    Attributes
    ----------
    contract : SignalContract
    wiring : Wiring
        Roles, adjacency and polarity of the liquid layer's neurons.
    rnn : CfC or LTC
        The liquid layer (streaming: ``rnn.step``).

    Examples
    --------
    >>> from cardioliquid.models import create_model
    >>> m = create_model("liquid-cfc", n_chans=1, n_outputs=5, n_times=126, sfreq=180.0,
    ...                  n_features=4)
    >>> logits, hx, states = m.forward_stateful(torch.randn(2, 1, 126), torch.randn(2, 4))
    >>> logits.shape, states.shape
    (torch.Size([2, 5]), torch.Size([2, 32, 20]))
    """

    def __init__(
        self,
        n_chans: int,
        n_outputs: int,
        n_times: int,
        sfreq: float,
        n_features: int = 0,
        cell: str = "cfc",
        units: int = 20,
        motor_neurons: int = 6,
        sparsity: float = 0.5,
        seed: int = 22222,
        conv_channels: list[int] = (8, 8),
        kernel_sizes: list[int] = (7, 5),
        strides: list[int] = (2, 2),
        mode: str = "default",
        ode_unfolds: int = 6,
        dropout: float = 0.0,
        morphology_dropout: float = 0.0,
        feature_hidden: int = 0,
        morphology_tied_outputs: list[int] | None = None,
        feature_stats: str = "ema",
    ) -> None:
        check_option("cell", cell, ("cfc", "ltc"))
        super().__init__(n_chans, n_outputs, n_times, sfreq, n_features, conv_channels,
                         kernel_sizes, strides, dropout, morphology_dropout, feature_hidden,
                         morphology_tied_outputs, feature_stats)
        wiring = auto_ncp(units, motor_neurons, sparsity, seed)
        c = list(conv_channels)[-1]
        if cell == "cfc":
            self.rnn = CfC(c, wiring, mode=mode, return_sequences=False)
        else:
            self.rnn = LTC(c, wiring, ode_unfolds=ode_unfolds, return_sequences=False)
        self.wiring = self.rnn.wiring
        self._make_head(self.rnn.output_size)

    def _sequence(self, z: Tensor, hx: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        return self.rnn(z, hx, return_states=True)

    def _step_macs(self) -> int:
        rnn = self.rnn
        if isinstance(rnn, CfC):
            return int((rnn.input_mask != 0).sum() + (rnn.recurrent_mask != 0).sum())
        # LTC: per unfold ~2 MACs per synapse (sigma·v, a·erev/a), sensory once per step.
        n_syn, n_sens = int(rnn.sparsity_mask.sum()), int(rnn.sensory_sparsity_mask.sum())
        return rnn.ode_unfolds * (3 * n_syn + 2 * rnn.state_size) + 3 * n_sens


class RecurrentClassifier(_WindowClassifier):
    """Baseline: the same front end and head around ``nn.LSTM`` or ``nn.GRU``.

    ``hx`` is one tensor (B, hidden) for the GRU and (B, 2·hidden), ``[h, c]``,
    for the LSTM; ``states`` is the hidden trajectory (B, T', hidden).
    """

    def __init__(
        self,
        n_chans: int,
        n_outputs: int,
        n_times: int,
        sfreq: float,
        n_features: int = 0,
        cell: str = "lstm",
        units: int = 20,
        conv_channels: list[int] = (8, 8),
        kernel_sizes: list[int] = (7, 5),
        strides: list[int] = (2, 2),
        dropout: float = 0.0,
    ) -> None:
        check_option("cell", cell, ("lstm", "gru"))
        super().__init__(n_chans, n_outputs, n_times, sfreq, n_features, conv_channels,
                         kernel_sizes, strides, dropout)
        rnn_cls = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn_cls(list(conv_channels)[-1], units, batch_first=True)
        self.units = int(units)
        self._make_head(self.units)

    def _sequence(self, z: Tensor, hx: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        states, hx = run_gated(self.rnn, z, hx)
        return states[:, -1], hx, states

    def _step_macs(self) -> int:
        return gated_step_macs(self.rnn)


def run_gated(rnn: nn.LSTM | nn.GRU, x: Tensor, hx: Tensor | None) -> tuple[Tensor, Tensor]:
    """Run a batch-first ``nn.LSTM``/``nn.GRU`` with its state as one tensor.

    ``hx`` is (B, hidden) for the GRU and (B, 2·hidden), ``[h, c]``, for the
    LSTM (None: zeros). Returns the hidden trajectory (B, L, hidden) and the
    state after the last step in the same one-tensor form.
    """
    lstm = isinstance(rnn, nn.LSTM)
    state = None
    if hx is not None:
        state = (tuple(t.unsqueeze(0).contiguous() for t in hx.chunk(2, -1)) if lstm
                 else hx.unsqueeze(0))  # fmt: skip
    states, new = rnn(x, state)
    return states, torch.cat([new[0][0], new[1][0]], -1) if lstm else new[0]


def gated_step_macs(rnn: nn.LSTM | nn.GRU) -> int:
    """Multiply-accumulates of one step: every gate's input and recurrent weights."""
    return sum(p.numel() for n, p in rnn.named_parameters() if "weight" in n)


def _json_lists(kwargs: dict[str, Any]) -> dict[str, Any]:
    for key in ("conv_channels", "kernel_sizes", "strides"):
        if key in kwargs:
            kwargs[key] = [int(v) for v in kwargs[key]]
    return kwargs


@register_model("liquid-cfc")
def liquid_cfc(n_chans: int, n_outputs: int, n_times: int, sfreq: float, n_features: int = 0,
               **kwargs: Any) -> LiquidClassifier:
    """CfC classifier; keyword arguments as :class:`LiquidClassifier`."""
    return LiquidClassifier(n_chans, n_outputs, n_times, sfreq, n_features, cell="cfc",
                            **_json_lists(kwargs))


@register_model("liquid-ltc")
def liquid_ltc(n_chans: int, n_outputs: int, n_times: int, sfreq: float, n_features: int = 0,
               **kwargs: Any) -> LiquidClassifier:
    """LTC classifier; keyword arguments as :class:`LiquidClassifier`."""
    return LiquidClassifier(n_chans, n_outputs, n_times, sfreq, n_features, cell="ltc",
                            **_json_lists(kwargs))


@register_model("lstm")
def lstm(n_chans: int, n_outputs: int, n_times: int, sfreq: float, n_features: int = 0,
         **kwargs: Any) -> RecurrentClassifier:
    """LSTM baseline; keyword arguments as :class:`RecurrentClassifier`."""
    return RecurrentClassifier(n_chans, n_outputs, n_times, sfreq, n_features, cell="lstm",
                               **_json_lists(kwargs))


@register_model("gru")
def gru(n_chans: int, n_outputs: int, n_times: int, sfreq: float, n_features: int = 0,
        **kwargs: Any) -> RecurrentClassifier:
    """GRU baseline; keyword arguments as :class:`RecurrentClassifier`."""
    return RecurrentClassifier(n_chans, n_outputs, n_times, sfreq, n_features, cell="gru",
                               **_json_lists(kwargs))
