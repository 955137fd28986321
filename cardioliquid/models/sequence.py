"""The RNN-shaped interface shared by the liquid networks (CfC, LTC).

:class:`LiquidRNN` turns a cell's whole-sequence kernel into
``forward(x, hx=None, timespans=None) -> (y, hx)`` (batch first, as
``ncps.torch.CfC``), with per-step time spans, ``return_sequences``, every
neuron's state trajectory on request, and a streaming :meth:`LiquidRNN.step`.
Because the state is carried exactly, feeding a recording chunk by chunk (or
sample by sample) gives the same outputs as feeding it at once.

Subclasses (:class:`~cardioliquid.models.cfc.CfC`,
:class:`~cardioliquid.models.ltc.LTC`) implement ``_scan``, which runs the
whole sequence in one compiled loop with everything that does not depend on
the state computed before the loop.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch import Tensor

from cardioliquid.models.wiring import Wiring


def use_python_loop() -> bool:
    """Whether to run the plain-Python kernels (tracing, exporting, compiling).

    TorchScript kernels are faster in eager mode, but exporters (ONNX,
    ``torch.export``) need the Python loop they can unroll.
    """
    return bool(
        torch.jit.is_tracing()
        or torch.compiler.is_compiling()
        or torch.onnx.is_in_onnx_export()
    )


def _timespans(timespans: Tensor | float | None, batch: int, steps: int, like: Tensor):
    """Normalise time spans to ``None`` (all 1), a float, or a (T, B, 1) tensor."""
    if timespans is None or isinstance(timespans, (int, float)):
        return None if timespans is None else float(timespans)
    ts = timespans.to(like.dtype)
    if ts.ndim == 3 and ts.shape[-1] == 1:
        ts = ts[..., 0]
    if ts.ndim == 1 and ts.shape[0] == steps:
        ts = ts.unsqueeze(0).expand(batch, steps)
    if ts.shape != (batch, steps):
        raise ValueError(
            f"expected timespans of shape (batch={batch}, steps={steps}) or "
            f"({batch}, {steps}, 1), got {tuple(timespans.shape)}"
        )
    return ts.transpose(0, 1).unsqueeze(-1)


class LiquidRNN(nn.Module):
    """Base class: a liquid recurrent network over a :class:`Wiring`.

    Attributes
    ----------
    input_size : int
        Input features per step.
    wiring : Wiring
        The built wiring (roles, adjacency, polarity).
    state_size : int
        Number of neurons.
    output_size : int
        Number of motor neurons (the output per step).
    return_sequences : bool
        Whether ``forward`` returns every step's output or only the last one.
    """

    input_size: int
    state_size: int
    output_size: int

    def __init__(self, input_size: int, wiring: Wiring, return_sequences: bool = True) -> None:
        super().__init__()
        self.input_size = int(input_size)
        self.wiring = wiring.build(self.input_size)
        self.state_size = wiring.units
        self.hx_size = wiring.units  # what is carried; 2·units with a memory cell
        self.output_size = wiring.output_dim
        self.return_sequences = bool(return_sequences)

    # -- to implement -------------------------------------------------------------------
    def _scan(
        self, x: Tensor, hx: Tensor, ts: Tensor | float | None
    ) -> tuple[Tensor, Tensor]:
        """Run over ``x`` (T, B, I) from ``hx`` (B, hx_size); return states (T, B, N), last hx.

        ``ts`` is ``None`` (all 1), a float, or a (T, B, 1) tensor.
        """
        raise NotImplementedError

    def _scan_outputs(
        self, x: Tensor, hx: Tensor, ts: Tensor | float | None
    ) -> tuple[Tensor, Tensor] | None:
        """Optional fast path: outputs (T, B, output_size) and last hx only, or None.

        Used by :meth:`forward` when no states are asked for; a cell that can
        skip building every neuron's states (the wired CfC) overrides it.
        """
        return None

    # Buffers set by subclasses: which state position holds which neuron / the outputs.
    state_neurons: Tensor  # (N,) wiring neuron id at each state position
    output_positions: Tensor  # (output_size,) state positions of the motor neurons

    def _outputs(self, states: Tensor) -> Tensor:
        """Map states (..., N) to outputs (..., output_size); LTC adds an affine map."""
        return states.index_select(-1, self.output_positions)

    # -- public API -----------------------------------------------------------------------
    def initial_state(self, batch_size: int, like: Tensor | None = None) -> Tensor:
        """Zeros of shape (batch_size, hx_size) (the state before any input)."""
        dtype = like.dtype if like is not None else torch.get_default_dtype()
        device = like.device if like is not None else None
        return torch.zeros(batch_size, self.hx_size, dtype=dtype, device=device)

    def forward(
        self,
        x: Tensor,
        hx: Tensor | None = None,
        timespans: Tensor | float | None = None,
        return_states: bool = False,
    ) -> tuple[Tensor, Tensor] | tuple[Tensor, Tensor, Tensor]:
        """Run the network over a sequence.

        Parameters
        ----------
        x : Tensor, shape (batch, steps, input_size) or (steps, input_size)
            Input sequence, batch first.
        hx : Tensor, shape (batch, hx_size), optional
            State to start from (zeros if omitted), e.g. the ``hx`` returned by
            the previous chunk of a stream. ``hx_size`` is ``state_size``, or
            ``2 * state_size`` (``[h, c]``) for a CfC with ``mixed_memory``.
        timespans : Tensor of shape (batch, steps) or (batch, steps, 1), or float, optional
            Elapsed time of each step (1 if omitted), for irregular sampling.
        return_states : bool
            Also return every neuron's state at every step.

        Returns
        -------
        y : Tensor
            (batch, steps, output_size) if ``return_sequences`` else (batch, output_size).
        hx : Tensor, shape (batch, hx_size)
            Final state, in the cell's state layout (pass it back to continue).
        states : Tensor, shape (batch, steps, state_size)
            Only if ``return_states``: ``states[..., i]`` is neuron ``i`` of
            :attr:`wiring` (wiring neuron order, not the cell's layout).
        """
        unbatched = x.ndim == 2
        if unbatched:
            x = x.unsqueeze(0)
            hx = None if hx is None else hx.unsqueeze(0)
            if isinstance(timespans, Tensor) and timespans.ndim >= 1:
                timespans = timespans.unsqueeze(0)
        if x.ndim != 3 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"expected input of shape (batch, steps, {self.input_size}), got {tuple(x.shape)}"
            )
        batch, steps = x.shape[0], x.shape[1]
        if hx is None:
            hx = self.initial_state(batch, x)
        elif hx.shape != (batch, self.hx_size):
            raise ValueError(
                f"expected hx of shape ({batch}, {self.hx_size}), got {tuple(hx.shape)}"
            )
        ts = _timespans(timespans, batch, steps, x)
        if self.return_sequences and not return_states:
            fast = self._scan_outputs(x.transpose(0, 1), hx, ts)
            if fast is not None:
                y, hx_last = fast[0].transpose(0, 1), fast[1]
                return (y[0], hx_last[0]) if unbatched else (y, hx_last)
        states, hx_last = self._scan(x.transpose(0, 1), hx, ts)
        states = states.transpose(0, 1)  # (B, T, N)
        h_last = states[:, -1]
        y = self._outputs(states if self.return_sequences else h_last)
        if unbatched:
            y, hx_last, states = y[0], hx_last[0], states[0]
        if return_states:
            return y, hx_last, self.to_neuron_order(states)
        return y, hx_last

    def step(
        self, x_t: Tensor, hx: Tensor | None = None, timespan: float | Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Advance one time step (streaming).

        Parameters
        ----------
        x_t : Tensor, shape (batch, input_size)
            One input sample.
        hx : Tensor, shape (batch, hx_size), optional
            Current state.
        timespan : float or Tensor of shape (batch,), optional
            Elapsed time since the previous sample.

        Returns
        -------
        y_t : Tensor, shape (batch, output_size)
        hx : Tensor, shape (batch, hx_size)
        """
        if isinstance(timespan, Tensor):
            timespan = timespan.reshape(-1, 1)
        if hx is None:
            hx = self.initial_state(x_t.shape[0], x_t)
        ts = _timespans(timespan, x_t.shape[0], 1, x_t)
        hx = self._step(x_t, hx, ts)
        return self._outputs(hx[:, : self.state_size]), hx

    def _step(self, x: Tensor, hx: Tensor, ts: Tensor | float | None) -> Tensor:
        """One step from ``x`` (B, I) and ``hx``; ``ts`` as in ``_scan`` with T = 1."""
        return self._scan(x.unsqueeze(0), hx, ts)[1]

    def to_neuron_order(self, states: Tensor) -> Tensor:
        """Reorder the last axis from the cell's state layout to wiring neuron ids."""
        return states.index_select(-1, self.neuron_to_state)

    @property
    def neuron_to_state(self) -> Tensor:
        """(N,) state position of each wiring neuron id."""
        return torch.argsort(self.state_neurons)
