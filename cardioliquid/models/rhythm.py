"""A liquid network over the *sequence of heartbeats* (one step per beat).

Heartbeats are an irregularly sampled sequence: liquid cells take the
elapsed time of each step (``timespans``), so here one CfC (or LTC) step is
one beat and its elapsed time is the beat's own RR interval. The state then
carries the patient's rhythm from beat to beat, instead of hand-normalised
RR ratios alone::

    beat i: window (1, n_times) ─ conv front end ─ mean & max over time ─► e_i (2·C)
            features f_i (RR in s and ratios, template) ─ fixed standardisation ─► s_i
    [e_i, s_i] ─► CfC step over an NCP wiring, elapsed time = pre-RR_i ─► motor neurons m_i
    [m_i, s_i] ─► Linear ─► logits of beat i

A recording is one sequence: batch scoring runs the beats of a segment in
one scan and hands the state to the next segment, a stream advances it beat
by beat, and both give the same outputs (the state is carried exactly).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn as nn
from torch import Tensor

from cardioliquid._check import check_option
from cardioliquid.models.cfc import CfC
from cardioliquid.models.classifier import (
    FeatureStandardizer,
    _front_end,
    _json_lists,
    gated_step_macs,
    run_gated,
)
from cardioliquid.models.contract import SignalContract
from cardioliquid.models.ltc import LTC
from cardioliquid.models.registry import register_model
from cardioliquid.models.wiring import auto_ncp, fully_connected

MIN_TIMESPAN_S = 0.2
"""Shortest elapsed time of a step (s): a double detection must not stall the state."""

MAX_TIMESPAN_S = 3.0
"""Longest elapsed time of a step (s): a signal gap must not erase the rhythm."""

EMBED_CHUNK_BEATS = 8192
"""Beats embedded at a time (training batches are smaller, so only long recordings are cut)."""


class GatedSequence(nn.Module):
    """``nn.LSTM`` or ``nn.GRU`` behind the liquid cells' call: the peers of the rhythm model.

    ``rnn(x, hx, timespans=None, return_states=True) -> (y, hx, states)`` as
    :class:`~cardioliquid.models.cfc.CfC`: ``x`` (B, L, F) batch first, ``hx``
    one tensor (B, hx_size), ``[h, c]`` for the LSTM. The elapsed time of a step
    is not an input of a gated cell: ``timespans`` is accepted and ignored, so
    a peer sees the RR intervals only as features.
    """

    wiring = None

    def __init__(self, kind: str, input_size: int, hidden: int) -> None:
        super().__init__()
        check_option("cell", kind, ("lstm", "gru"))
        self.kind = kind
        self.rnn = (nn.LSTM if kind == "lstm" else nn.GRU)(input_size, hidden, batch_first=True)
        self.output_size = self.state_size = int(hidden)
        self.hx_size = (2 if kind == "lstm" else 1) * int(hidden)

    def forward(self, x: Tensor, hx: Tensor | None = None, timespans: Tensor | None = None,
                return_states: bool = True) -> tuple[Tensor, Tensor, Tensor]:
        """Outputs, last state and states, as the liquid cells return them (``timespans``
        unused: a gated cell steps without elapsed time)."""
        y, hx = run_gated(self.rnn, x, hx)
        return y, hx, y

    def step_macs(self) -> int:
        """Multiply-accumulates of one step: every gate's input and recurrent weights."""
        return gated_step_macs(self.rnn)


class CausalConvSequence(nn.Module):
    """A causal 1-D CNN over the beat sequence: the convolutional peer of the rhythm model.

    ``len(dilations)`` convolutions over beats (kernel ``kernel_size``, dilation
    ``d``, ReLU), each seeing only the current and earlier beats, so a beat's
    output depends on its last ``1 + (kernel_size - 1) · sum(dilations)`` beats
    (the receptive field) and on nothing else. It has the liquid cells' call,
    ``(x, hx, timespans=None, return_states=True) -> (y, hx, states)``: the
    carried state ``hx`` is each layer's last ``(kernel_size - 1) · d`` inputs,
    flattened, so a stream advanced beat by beat, or segment by segment, gives
    the outputs of one pass over the whole sequence (zeros before the first
    beat, as causal zero padding). ``timespans`` is ignored: a CNN sees the RR
    intervals only as features.

    Parameters
    ----------
    input_size : int
        Features per step.
    channels : int
        Channels of every layer (the output size).
    kernel_size : int
        Taps of every convolution (>= 2).
    dilations : list of int
        One dilation per layer.
    """

    wiring = None

    def __init__(self, input_size: int, channels: int, kernel_size: int = 3,
                 dilations: list[int] = (1, 2, 4)) -> None:
        super().__init__()
        if kernel_size < 2:
            raise ValueError(f"kernel_size must be >= 2 (a causal CNN must see the past), "
                             f"got {kernel_size}")
        if not dilations or min(dilations) < 1:
            raise ValueError(f"dilations must be positive integers, got {list(dilations)}")
        sizes = [int(input_size)] + [int(channels)] * len(dilations)
        self.convs = nn.ModuleList(
            nn.Conv1d(c_in, c_out, int(kernel_size), dilation=int(d))
            for c_in, c_out, d in zip(sizes[:-1], sizes[1:], dilations, strict=True)
        )
        self.pasts = [(int(kernel_size) - 1) * int(d) for d in dilations]
        self.in_sizes = sizes[:-1]
        self.output_size = self.state_size = int(channels)
        self.past_sizes = [c * p for c, p in zip(self.in_sizes, self.pasts, strict=True)]
        self.hx_size = sum(self.past_sizes)
        self.receptive_field = 1 + sum(self.pasts)

    def forward(self, x: Tensor, hx: Tensor | None = None, timespans: Tensor | None = None,
                return_states: bool = True) -> tuple[Tensor, Tensor, Tensor]:
        """``x`` (B, L, F) -> outputs (B, L, C), the buffer after the last step, outputs."""
        b = x.shape[0]
        if hx is None:
            hx = x.new_zeros(b, self.hx_size)
        pasts = hx.split(self.past_sizes, dim=1)
        h = x.transpose(1, 2)  # (B, F, L)
        kept: list[Tensor] = []
        for conv, past, c, p in zip(self.convs, pasts, self.in_sizes, self.pasts, strict=True):
            full = torch.cat([past.reshape(b, c, p), h], dim=-1)
            kept.append(full[..., full.shape[-1] - p:].reshape(b, c * p))
            h = torch.relu(conv(full))
        y = h.transpose(1, 2)
        return y, torch.cat(kept, dim=1), y

    def step_macs(self) -> int:
        """Multiply-accumulates of one beat: every tap of every layer, once."""
        return sum(conv.weight.numel() for conv in self.convs)


def causal_reference(e: Tensor, mean: Tensor, count: Tensor, horizon: int
                     ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """Each beat's embedding minus the mean of the beats before it, and the updated mean.

    Parameters
    ----------
    e : Tensor, shape (B, L, D)
        Embeddings of consecutive beats.
    mean, count : Tensor, shape (B, D) and (B, 1)
        The reference before the first of them and how many beats it holds
        (capped at ``horizon``; 0: none yet, and the first beat departs by zero).
    horizon : int
        The plain mean of up to this many beats, then an exponential average
        with weight ``1 / horizon`` on each new beat.

    Returns
    -------
    relative : Tensor, shape (B, L, D)
    (mean, count) : the reference after the last beat.
    """
    out = []
    length = e.shape[1]
    # Training steps every beat, so a config retrains to the same weights bit for bit; scoring
    # (no gradient) solves the exponential average in closed form, equal within 1e-5.
    stepwise = torch.is_grad_enabled() and e.requires_grad
    # Until every row holds ``horizon`` beats, step by step (at most ``horizon`` steps) ...
    t = 0
    while t < length and (stepwise or bool((count < horizon).any())):
        et = e[:, t]
        ref = torch.where(count > 0, mean, et)
        out.append((et - ref)[:, None])
        count = (count + 1).clamp(max=float(horizon))
        mean = ref + (et - ref) / count
        t += 1
    # ... then the exponential average, a linear recurrence solved a chunk at a time:
    # m[k] = a^k m[0] + (1 - a) sum_{j<k} a^(k-1-j) e[j], with a = 1 - 1/horizon.
    if t < length:
        a = 1.0 - 1.0 / float(horizon)
        k = torch.arange(_EMA_CHUNK, dtype=e.dtype, device=e.device)
        lag = k[:, None] - k[None, :] - 1
        weights = torch.where(lag >= 0, (1.0 - a) * a ** lag.clamp(min=0), 0.0)
        decay = a ** k
        while t < length:
            chunk = e[:, t:t + _EMA_CHUNK]
            n = chunk.shape[1]
            means = decay[:n, None] * mean[:, None] + weights[:n, :n] @ chunk
            out.append(chunk - means)
            mean = a * means[:, -1] + (1.0 - a) * chunk[:, -1]
            t += n
    return torch.cat(out, 1) if out else e, (mean, count)


_EMA_CHUNK = 64
"""Beats per closed-form step of :func:`causal_reference`'s exponential average (its weights
``a ** k`` stay above 0.36 for a horizon of 64, far from underflow)."""


class BeatRhythmClassifier(nn.Module):
    """Classify every beat of a sequence with a liquid cell stepped once per beat.

    Parameters
    ----------
    n_chans, n_outputs, n_times : int
        Channels and samples of one beat window; classes.
    sfreq : float
        Rate of the windows (Hz), part of the contract.
    n_features : int
        Per-beat features (RR intervals, template features); required (> 0).
    timespan_feature : int or None
        Column of the features holding the beat's pre-RR interval in seconds
        (``pre_rr_s`` of the ``"robust_absolute"`` RR set, column 6): the
        elapsed time of the beat's step, clamped to
        [:data:`MIN_TIMESPAN_S`, :data:`MAX_TIMESPAN_S`]. None: every step
        lasts one unit (the ablation of the elapsed time; the RR intervals
        still reach the cell as features).
    cell : {"cfc", "ltc", "lstm", "gru", "cnn"}
        The sequence model. ``"lstm"``, ``"gru"`` (:class:`GatedSequence`) and
        ``"cnn"`` (:class:`CausalConvSequence`) are the peers a liquid cell is
        compared with: no wiring, no elapsed time.
    units, motor_neurons : int
        Neurons of the AutoNCP wiring and its motor neurons (read by the head);
        for a gated peer, ``units`` is its hidden size, for the CNN its channels;
        ``motor_neurons`` is then unused.
    sparsity : float
        AutoNCP sparsity.
    seed : int
        Wiring seed.
    conv_channels, kernel_sizes, strides : list of int
        The beat encoder's conv layers (as in ``LiquidClassifier``).
    mode : str
        CfC mode.
    ode_unfolds : int
        LTC solver unfolds per step.
    morphology_dropout : float
        Training only: the share of beats whose morphology embedding is zeroed,
        so rhythm and template features must classify on their own too.
    rhythm_masking : float
        Training only: the share of beats whose rhythm features (``rhythm_columns``)
        are set to the training median (0 once standardised), drawn among the beats
        whose morphology is kept, so the beat's own shape must carry the class too.
        The step's elapsed time still carries the interval into the cell.
    rhythm_columns : list of int, optional
        The features ``rhythm_masking`` hides (the RR set's columns); required with it.
    dropout : float
        Dropout before the head.
    cnn_kernel_size : int
        CNN only: taps of each causal convolution over beats.
    cnn_dilations : list of int
        CNN only: one dilation per layer (receptive field
        ``1 + (cnn_kernel_size - 1) · sum(cnn_dilations)`` beats).
    wiring : {"ncp", "full", "backbone"}
        The liquid cell's neurons: an AutoNCP (sparse, inter/command/motor),
        fully connected with ``motor_neurons`` outputs, or ``"backbone"``: ncps's
        default CfC, an unwired cell of ``units`` neurons (all read by the head)
        whose heads read a backbone MLP of the input and the state (CfC only).
    backbone_units, backbone_layers : int
        The backbone MLP of ``wiring="backbone"`` (ncps's defaults are 128 and 1).
    mixed_memory : bool
        CfC only: add an LSTM-style memory cell beside the liquid state.
    embedding_reference : int
        0: off. Otherwise each beat's morphology embedding is also read relative
        to the patient's own beats: minus the mean embedding of the beats before
        it (their plain mean up to this many beats, then an exponential average
        with this horizon; :func:`causal_reference`). The reference is carried in
        the state beside the cell's, so a stream equals batch scoring.
    reference_input : {"both", "relative"}
        With ``embedding_reference``: the cell reads the embedding and its
        departure from the reference (``"both"``), or the departure alone.

    Attributes
    ----------
    carry_state : bool
        True: scoring carries the state from one segment to the next.
    beat_sequence : bool
        True: the windows handed to :meth:`forward_stateful` are consecutive
        beats of one recording (scoring runs them in one call).

    Examples
    --------
    >>> m = create_model("liquid-rhythm-cfc", n_chans=1, n_outputs=5, n_times=126,
    ...                  sfreq=180.0, n_features=12)
    >>> x, f = torch.randn(300, 1, 126), torch.rand(300, 12) + 0.5
    >>> logits, hx, states = m.forward_stateful(x, f)      # 300 beats of one record
    >>> logits.shape, hx.shape, states.shape
    (torch.Size([300, 5]), torch.Size([1, 24]), torch.Size([300, 1, 24]))
    """

    carry_state = True
    beat_sequence = True

    def __init__(
        self,
        n_chans: int,
        n_outputs: int,
        n_times: int,
        sfreq: float,
        n_features: int = 0,
        timespan_feature: int | None = 6,
        cell: str = "cfc",
        units: int = 24,
        motor_neurons: int = 8,
        sparsity: float = 0.5,
        seed: int = 22222,
        conv_channels: list[int] = (8, 8),
        kernel_sizes: list[int] = (7, 5),
        strides: list[int] = (2, 2),
        mode: str = "default",
        ode_unfolds: int = 6,
        morphology_dropout: float = 0.0,
        rhythm_masking: float = 0.0,
        rhythm_columns: list[int] | None = None,
        dropout: float = 0.0,
        wiring: str = "ncp",
        mixed_memory: bool = False,
        cnn_kernel_size: int = 3,
        cnn_dilations: list[int] = (1, 2, 4),
        backbone_units: int = 128,
        backbone_layers: int = 1,
        embedding_reference: int = 0,
        reference_input: str = "both",
    ) -> None:
        super().__init__()
        check_option("cell", cell, ("cfc", "ltc", "lstm", "gru", "cnn"))
        check_option("reference_input", reference_input, ("both", "relative"))
        if isinstance(embedding_reference, bool) or int(embedding_reference) < 0:
            raise ValueError(f"embedding_reference must be an integer >= 0 (beats), got "
                             f"{embedding_reference!r}")
        check_option("wiring", wiring, ("ncp", "full", "backbone"))
        if wiring == "backbone" and (cell != "cfc" or mixed_memory):
            raise ValueError("wiring='backbone' is ncps's default CfC: cell 'cfc' without "
                             f"mixed_memory, got cell {cell!r}, mixed_memory {mixed_memory}")
        if n_features <= 0:
            raise ValueError("a beat-rhythm model needs per-beat features (n_features > 0), "
                             f"got {n_features}")
        if timespan_feature is not None and not 0 <= timespan_feature < n_features:
            raise ValueError(f"timespan_feature must index the {n_features} features or be "
                             f"None, got {timespan_feature}")
        if not 0.0 <= morphology_dropout < 1.0:
            raise ValueError(f"morphology_dropout must be in [0, 1), got {morphology_dropout!r}")
        if not 0.0 <= rhythm_masking < 1.0 - morphology_dropout:
            raise ValueError("rhythm_masking must be >= 0 and leave some beats whole "
                             f"(below 1 - morphology_dropout), got {rhythm_masking!r}")
        columns = sorted({int(c) for c in rhythm_columns or ()})
        if rhythm_masking > 0 and not columns:
            raise ValueError("rhythm_masking needs rhythm_columns: the features it hides")
        if columns and not (columns[0] >= 0 and columns[-1] < n_features):
            raise ValueError(f"rhythm_columns must index the {n_features} features, got "
                             f"{rhythm_columns}")
        self.contract = SignalContract(int(n_chans), float(sfreq), int(n_times),
                                       int(n_outputs), int(n_features))
        self.timespan_feature = None if timespan_feature is None else int(timespan_feature)
        self.morphology_dropout = float(morphology_dropout)
        self.rhythm_masking = float(rhythm_masking)
        rhythm = torch.zeros(int(n_features), dtype=torch.bool)
        rhythm[columns] = True
        # Not persistent: a file holds weights, and the columns are in its kwargs.
        self.register_buffer("_rhythm_columns", rhythm, persistent=False)
        self.front = _front_end(int(n_chans), list(conv_channels), list(kernel_sizes),
                                list(strides))
        with torch.no_grad():
            self.n_steps = int(self.front(torch.zeros(1, n_chans, n_times)).shape[-1])
        c = list(conv_channels)[-1]
        self.feature_norm = FeatureStandardizer(int(n_features))
        self.embedding_reference = int(embedding_reference)
        self.reference_input = reference_input
        self.n_embedding = 2 * c
        # What the cell reads of a beat's shape (the embedding, its departure, or both).
        self.n_morphology = 2 * c * (2 if embedding_reference and reference_input == "both"
                                     else 1)
        n_in = self.n_morphology + int(n_features)
        if cell in ("lstm", "gru"):  # a gated peer: no wiring
            self.rnn = GatedSequence(cell, n_in, units)
        elif cell == "cnn":
            self.rnn = CausalConvSequence(n_in, units, cnn_kernel_size, list(cnn_dilations))
        elif wiring == "backbone":
            self.rnn = CfC(n_in, int(units), mode=mode, return_sequences=True,
                           backbone_units=int(backbone_units),
                           backbone_layers=int(backbone_layers))
        else:
            graph = (fully_connected(units, motor_neurons) if wiring == "full"
                     else auto_ncp(units, motor_neurons, sparsity, seed))  # fmt: skip
            if cell == "cfc":
                self.rnn = CfC(n_in, graph, mode=mode, return_sequences=True,
                               mixed_memory=mixed_memory)
            else:
                self.rnn = LTC(n_in, graph, ode_unfolds=ode_unfolds, return_sequences=True)
        self.wiring = self.rnn.wiring
        # What a stream carries: the cell's state, then the reference and its beat count.
        self.hx_size = self.rnn.hx_size + (self.n_embedding + 1 if embedding_reference else 0)
        # The reference a run without a carried state starts from (None: none yet); set on a
        # copy by starting_from, for an explanation of a run cut from a longer stream.
        self.start_reference: tuple[Tensor, Tensor] | None = None
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.rnn.output_size + int(n_features), int(n_outputs))

    # ---------------------------------------------------------------- pieces
    def embed(self, x: Tensor) -> Tensor:
        """Morphology embedding of beat windows ``(n, C, T)`` -> ``(n, 2·C')``.

        Each beat is embedded on its own, so a long recording is embedded
        :data:`EMBED_CHUNK_BEATS` beats at a time: the convolutions' activations for
        all 108,000 beats of a 24-hour record at once took 0.8 GB.
        """
        if len(x) > EMBED_CHUNK_BEATS:
            return torch.cat([self.embed(chunk) for chunk in x.split(EMBED_CHUNK_BEATS)])
        z = self.front(x)
        return torch.cat([z.mean(-1), z.amax(-1)], dim=-1)

    def timespans(self, features: Tensor) -> Tensor | None:
        """Elapsed time of each beat's step (s): its clamped pre-RR interval (None: unit steps)."""
        if self.timespan_feature is None:
            return None
        return features[..., self.timespan_feature].clamp(MIN_TIMESPAN_S, MAX_TIMESPAN_S)

    def _run(self, x: Tensor, features: Tensor, hx: Tensor | None
             ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """x (B, L, C, T), features (B, L, F) -> logits (B, L, K), hx, states (B, L, N) and
        the morphology the cell reads (B, L, :attr:`n_morphology`), before dropout."""
        b, length = x.shape[0], x.shape[1]
        e = self.embed(x.reshape(b * length, *x.shape[2:])).reshape(b, length, -1)
        reference = None
        if self.embedding_reference:
            hx, reference = self._split_state(hx, b, e)
            relative, reference = causal_reference(e, *reference, self.embedding_reference)
            e = relative if self.reference_input == "relative" else torch.cat([e, relative], -1)
        morphology = e
        s = self.feature_norm(features.to(e.dtype))
        if self.training and (self.morphology_dropout > 0 or self.rhythm_masking > 0):
            # One draw per beat decides both, so a beat never loses its shape and its rhythm.
            u = torch.rand(b, length, 1, device=e.device)
            if self.morphology_dropout > 0:
                keep = u >= self.morphology_dropout
                e = e * keep.to(e.dtype) / (1.0 - self.morphology_dropout)
            if self.rhythm_masking > 0:
                hide = (u >= self.morphology_dropout) & (
                    u < self.morphology_dropout + self.rhythm_masking)
                s = s.masked_fill(hide & self._rhythm_columns, 0.0)
        y, hx, states = self.rnn(torch.cat([e, s], -1), hx, timespans=self.timespans(features),
                                 return_states=True)
        logits = self.head(torch.cat([self.dropout(y), s], -1))
        if reference is not None:
            hx = torch.cat([hx, *reference], -1)
        return logits, hx, states, morphology

    def _split_state(self, hx: Tensor | None, b: int, e: Tensor
                     ) -> tuple[Tensor | None, tuple[Tensor, Tensor]]:
        """The cell's state and the embedding reference (mean, beat count) of a carried ``hx``."""
        if hx is None:
            if self.start_reference is not None:
                mean, count = self.start_reference
                if mean.shape[0] > 1:  # one per row; a slice x[:b] of that batch takes its rows
                    mean, count = mean[:b], count[:b]
                return None, (mean.to(e).expand(b, -1), count.to(e).expand(b, -1))
            return None, (e.new_zeros(b, self.n_embedding), e.new_zeros(b, 1))
        cell, mean, count = hx.split([self.rnn.hx_size, self.n_embedding, 1], dim=-1)
        return cell, (mean, count)

    def reference_after(self, x: Tensor, start: tuple[Tensor, Tensor] | None = None,
                        chunk: int = 1024) -> tuple[Tensor, Tensor]:
        """The embedding reference (mean, beat count) after the beats ``x`` (L, C, T).

        What a stream has carried into the beat after them, from ``start`` (the reference
        before them, (1, D) and (1, 1); None: none yet); computed in chunks, without the
        cell (the reference depends on the embeddings alone).
        """
        if not self.embedding_reference:
            raise ValueError("this model reads no embedding reference")
        mean, count = start if start is not None else (x.new_zeros(1, self.n_embedding),
                                                       x.new_zeros(1, 1))
        with torch.no_grad():
            for i in range(0, x.shape[0], chunk):
                e = self.embed(x[i:i + chunk])[None]
                _, (mean, count) = causal_reference(e, mean, count, self.embedding_reference)
        return mean, count

    def reference_in(self, hx: Tensor | None) -> tuple[Tensor, Tensor] | None:
        """The embedding reference (mean, beat count) a carried state ``hx`` (1, hx_size) holds.

        None for ``hx`` None (a stream's start) unless the model starts from a reference
        (:meth:`starting_from`). With :meth:`reference_after` from it, an explanation
        rebuilds the reference at any later beat from the state a stream kept before
        that beat's segment, without re-reading the stream's past.
        """
        if not self.embedding_reference:
            raise ValueError("this model reads no embedding reference")
        if hx is None:
            return self.start_reference
        return self._split_state(hx, hx.shape[0], hx)[1]

    def starting_from(self, mean: Tensor, count: Tensor) -> BeatRhythmClassifier:
        """A view of this model (the same parameters) whose runs start from this reference.

        A run of beats cut from a longer stream (the app explains a decision over its last
        32 beats) then reads each beat against the reference the stream had, not one
        rebuilt from the run's own first beats. ``mean`` (1 or B, D), ``count`` (1 or B, 1):
        see :meth:`reference_after`. A carried ``hx`` still takes precedence.
        """
        if not self.embedding_reference:
            raise ValueError("this model reads no embedding reference")
        view = copy.copy(self)  # shares the parameters and submodules
        view.start_reference = (mean.detach(), count.detach())
        return view

    # ---------------------------------------------------------------- API
    def forward(self, x: Tensor, features: Tensor | None = None) -> Tensor:
        """Logits of every beat.

        Parameters
        ----------
        x : Tensor, shape (batch, beats, n_chans, n_times) or (beats, n_chans, n_times)
            Sequences of consecutive beat windows (3-D: one sequence).
        features : Tensor, shape (batch, beats, n_features) or (beats, n_features)

        Returns
        -------
        Tensor, shape (batch, beats, n_outputs) or (beats, n_outputs)
        """
        return self.forward_stateful(x, features)[0]

    def forward_stateful(
        self, x: Tensor, features: Tensor | None = None, hx: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Logits, the state after the last beat and every neuron's state after each beat.

        A 3-D ``x`` (beats, C, T) is one sequence (a recording or a stream's
        segment, in order); ``hx`` (1, hx_size) is the state after the
        previous beats (zeros if omitted). ``states`` is then (beats, 1, N):
        one step per beat, as a window model's (batch, T', N).

        Raises
        ------
        ContractError
            ``x`` or ``features`` do not fit :attr:`contract`.
        """
        single = x.ndim == 3
        if single:
            x = x.unsqueeze(0)
            features = None if features is None else features.unsqueeze(0)
        if x.ndim != 4:
            self.contract.check(x, features)  # raises with the expected shape
        b, length = x.shape[0], x.shape[1]
        flat_f = None if features is None else features.reshape(b * length, -1)
        self.contract.check(x.reshape(b * length, *x.shape[2:]), flat_f)
        logits, hx, states, _ = self._run(x, features, hx)
        if single:
            return logits[0], hx, states[0].unsqueeze(1)
        return logits, hx, states

    def forward_training(self, x: Tensor, features: Tensor
                         ) -> tuple[Tensor, Tensor, Tensor]:
        """What training losses read of a batch of runs ``(batch, beats, C, T)``.

        Returns
        -------
        logits : Tensor, shape (batch, beats, n_outputs)
        states : Tensor, shape (batch, beats, neurons)
            Every neuron's state after each beat.
        morphology : Tensor, shape (batch, beats, n_morphology)
            What the cell reads of each beat's shape, before morphology dropout.
        """
        b, length = x.shape[0], x.shape[1]
        self.contract.check(x.reshape(b * length, *x.shape[2:]),
                            features.reshape(b * length, -1))
        logits, _, states, morphology = self._run(x, features, None)
        return logits, states, morphology

    def complexity(self) -> dict[str, int]:
        """Parameters and multiply-accumulates per beat decision.

        MACs: the encoder's conv layers over one window, one step of the
        liquid cell (the synapses that exist) and the head.
        """
        macs, t = 0, self.contract.n_times
        for m in self.front:
            if isinstance(m, nn.Conv1d):
                t = (t + 2 * m.padding[0] - m.kernel_size[0]) // m.stride[0] + 1
                macs += t * m.out_channels * m.in_channels * m.kernel_size[0]
        rnn = self.rnn
        if isinstance(rnn, GatedSequence | CausalConvSequence):
            macs += rnn.step_macs()
        elif isinstance(rnn, CfC) and rnn.use_backbone:  # every backbone weight, every head
            macs += sum(lin.weight.numel() for lin in rnn.backbone) + rnn.weight.numel()
        elif isinstance(rnn, CfC):
            macs += int((rnn.input_mask != 0).sum() + (rnn.recurrent_mask != 0).sum())
        else:
            n_syn, n_sens = int(rnn.sparsity_mask.sum()), int(rnn.sensory_sparsity_mask.sum())
            macs += rnn.ode_unfolds * (3 * n_syn + 2 * rnn.state_size) + 3 * n_sens
        macs += self.head.weight.numel()
        params = sum(p.numel() for p in self.parameters())
        nonzero = sum(int(torch.count_nonzero(p)) for p in self.parameters())
        return {"params": params, "nonzero_params": nonzero, "macs": int(macs)}


@register_model("liquid-rhythm-cfc")
def liquid_rhythm_cfc(n_chans: int, n_outputs: int, n_times: int, sfreq: float,
                      n_features: int = 0, **kwargs: Any) -> BeatRhythmClassifier:
    """CfC stepped once per beat; keyword arguments as :class:`BeatRhythmClassifier`."""
    return BeatRhythmClassifier(n_chans, n_outputs, n_times, sfreq, n_features, cell="cfc",
                                **_json_lists(kwargs))


@register_model("liquid-rhythm-ltc")
def liquid_rhythm_ltc(n_chans: int, n_outputs: int, n_times: int, sfreq: float,
                      n_features: int = 0, **kwargs: Any) -> BeatRhythmClassifier:
    """LTC stepped once per beat; keyword arguments as :class:`BeatRhythmClassifier`."""
    return BeatRhythmClassifier(n_chans, n_outputs, n_times, sfreq, n_features, cell="ltc",
                                **_json_lists(kwargs))


@register_model("rhythm-lstm")
def rhythm_lstm(n_chans: int, n_outputs: int, n_times: int, sfreq: float,
                n_features: int = 0, **kwargs: Any) -> BeatRhythmClassifier:
    """The rhythm model's LSTM peer (one step per beat); keyword arguments as
    :class:`BeatRhythmClassifier`, ``units`` the hidden size."""
    return BeatRhythmClassifier(n_chans, n_outputs, n_times, sfreq, n_features, cell="lstm",
                                **_json_lists(kwargs))


@register_model("rhythm-gru")
def rhythm_gru(n_chans: int, n_outputs: int, n_times: int, sfreq: float,
               n_features: int = 0, **kwargs: Any) -> BeatRhythmClassifier:
    """The rhythm model's GRU peer (one step per beat); keyword arguments as
    :class:`BeatRhythmClassifier`, ``units`` the hidden size."""
    return BeatRhythmClassifier(n_chans, n_outputs, n_times, sfreq, n_features, cell="gru",
                                **_json_lists(kwargs))


@register_model("rhythm-cnn")
def rhythm_cnn(n_chans: int, n_outputs: int, n_times: int, sfreq: float,
               n_features: int = 0, **kwargs: Any) -> BeatRhythmClassifier:
    """The rhythm model's CNN peer (a causal CNN over beats); keyword arguments as
    :class:`BeatRhythmClassifier`, ``units`` its channels."""
    return BeatRhythmClassifier(n_chans, n_outputs, n_times, sfreq, n_features, cell="cnn",
                                **_json_lists(kwargs))
