"""Zero-phase filters (scipy.signal Butterworth / notch, run forwards and backwards)."""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

from cardioliquid.errors import RecordingError


def check_band(fs: float, band: tuple[float, float], where: str | None = None) -> None:
    """Raise :class:`RecordingError` if a band-pass ``band`` cannot be run at rate ``fs``.

    The upper corner must lie below the Nyquist frequency ``fs / 2``.
    """
    low, high = float(band[0]), float(band[1])
    if not 0 <= low < high:
        raise ValueError(f"band-pass corners must satisfy 0 <= low < high, got {band}")
    if high >= fs / 2:
        raise RecordingError(
            where,
            f"sampling rate too low: the {low:g}-{high:g} Hz band-pass needs a rate above "
            f"{2 * high:g} Hz, got {fs:g} Hz",
        )


def bandpass(
    x: np.ndarray, fs: float, band: tuple[float, float], order: int = 2, axis: int = -1
) -> np.ndarray:
    """Zero-phase Butterworth band-pass (high-pass only when ``band[0] == 0`` is excluded).

    Parameters
    ----------
    x : ndarray
        Signal; filtered along ``axis``.
    fs : float
        Sampling rate (Hz).
    band : (float, float)
        Corner frequencies (Hz); ``low == 0`` gives a low-pass.
    order : int
        Butterworth order (doubled by the forward-backward pass).

    Returns
    -------
    ndarray of float32, same shape as ``x``.
    """
    check_band(fs, band)
    low, high = float(band[0]), float(band[1])
    if low > 0:
        sos = sps.butter(order, [low, high], btype="bandpass", fs=fs, output="sos")
    else:
        sos = sps.butter(order, high, btype="lowpass", fs=fs, output="sos")
    if x.shape[axis] <= 3 * (2 * sos.shape[0] + 1):  # too short for sosfiltfilt's padding
        return np.asarray(x, dtype=np.float32)
    return sps.sosfiltfilt(sos, x, axis=axis).astype(np.float32)


def notch(x: np.ndarray, fs: float, freq: float, quality: float = 30.0, axis: int = -1
          ) -> np.ndarray:
    """Zero-phase IIR notch at ``freq`` Hz (mains interference); no-op above Nyquist."""
    if freq >= fs / 2:
        return np.asarray(x, dtype=np.float32)
    b, a = sps.iirnotch(freq, quality, fs=fs)
    if x.shape[axis] <= 3 * max(len(a), len(b)):
        return np.asarray(x, dtype=np.float32)
    return sps.filtfilt(b, a, x, axis=axis).astype(np.float32)
