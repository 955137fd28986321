"""The signal contract every model declares and checks (after braindecode)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from cardioliquid.errors import ContractError


@dataclass(frozen=True)
class SignalContract:
    """What a model reads.

    Attributes
    ----------
    n_chans : int
        Number of input channels.
    sfreq : float
        Sampling rate (Hz) the model was built for.
    n_times : int
        Samples per input window.
    n_features : int
        Number of extra per-window features (RR intervals for beats), 0 if none.
    n_outputs : int
        Number of classes.
    """

    n_chans: int
    sfreq: float
    n_times: int
    n_outputs: int
    n_features: int = 0

    @property
    def input_window_seconds(self) -> float:
        """Window length in seconds."""
        return self.n_times / self.sfreq

    def check(self, x: torch.Tensor, features: torch.Tensor | None = None) -> None:
        """Raise :class:`ContractError` unless ``x`` is (batch, n_chans, n_times).

        Parameters
        ----------
        x : Tensor, shape (batch, n_chans, n_times)
        features : Tensor, shape (batch, n_features), optional
        """
        if x.ndim != 3 or x.shape[1] != self.n_chans or x.shape[2] != self.n_times:
            raise ContractError(
                f"expected input of shape (batch, {self.n_chans} channels, {self.n_times} "
                f"samples = {self.input_window_seconds:g} s at {self.sfreq:g} Hz), "
                f"got {tuple(x.shape)}"
            )
        if self.n_features and (features is None or features.shape[-1] != self.n_features):
            got = None if features is None else tuple(features.shape)
            raise ContractError(f"expected {self.n_features} extra features per window, got {got}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return asdict(self)
