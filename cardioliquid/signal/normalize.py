"""Amplitude normalisation that transfers across databases, leads and gains."""

from __future__ import annotations

import numpy as np

from cardioliquid._check import check_option

MAD_TO_STD = 1.4826
"""MAD of a Gaussian times this is its standard deviation."""


def robust_scale(x: np.ndarray, axis: int | tuple[int, ...] = -1) -> np.ndarray:
    """``(x - median) / (1.4826 * MAD)`` along ``axis``; a zero MAD leaves the scale at 1."""
    med = np.median(x, axis=axis, keepdims=True)
    mad = MAD_TO_STD * np.median(np.abs(x - med), axis=axis, keepdims=True)
    mad = np.where(mad > 0, mad, 1.0)
    return ((x - med) / mad).astype(np.float32)


def normalize_record(x: np.ndarray, method: str = "record-robust") -> np.ndarray:
    """Normalise a whole (filtered) lead ``x`` of shape (..., n_samples).

    ``"record-robust"`` subtracts the record median and divides by the
    record MAD; ``"none"`` returns ``x`` as float32.
    """
    check_option("normalization", method, ("record-robust", "none"))
    if method == "none":
        return np.asarray(x, dtype=np.float32)
    return robust_scale(x, axis=-1)


def normalize_windows(x: np.ndarray, method: str, scale_uv: float = 100.0) -> np.ndarray:
    """Normalise EEG windows ``x`` (n, channels, n_times) in µV.

    ``"window-robust"``: per window and channel median/MAD; ``"fixed"``:
    divide by ``scale_uv``; ``"none"``: unchanged.
    """
    check_option("normalization", method, ("window-robust", "fixed", "none"))
    if method == "window-robust":
        return robust_scale(x, axis=-1)
    if method == "fixed":
        return (x / float(scale_uv)).astype(np.float32)
    return np.asarray(x, dtype=np.float32)
