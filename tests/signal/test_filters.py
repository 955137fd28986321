"""Zero-phase band-pass and notch."""

from __future__ import annotations

import numpy as np
import pytest

from cardioliquid.errors import RecordingError
from cardioliquid.signal.filters import bandpass, check_band, notch


def _amp(x, fs, f):
    spec = np.abs(np.fft.rfft(x)) / len(x) * 2
    return spec[round(f * len(x) / fs)]


def test_bandpass_keeps_the_band_and_removes_the_rest():
    fs, t = 360.0, np.arange(3600) / 360.0
    x = np.sin(2 * np.pi * 10 * t) + np.sin(2 * np.pi * 0.05 * t) + np.sin(2 * np.pi * 100 * t)
    y = bandpass(x, fs, (0.5, 40.0), order=2)
    assert y.dtype == np.float32
    assert _amp(y, fs, 10) == pytest.approx(1.0, abs=0.05)
    assert _amp(y, fs, 100) < 0.05


def test_bandpass_is_zero_phase():
    fs, t = 256.0, np.arange(2560) / 256.0
    x = np.sin(2 * np.pi * 8 * t)
    y = bandpass(x, fs, (1.0, 30.0), order=4)
    mid = slice(500, 2000)
    assert np.argmax(np.correlate(y[mid], x[mid], "full")) == len(x[mid]) - 1


def test_notch_removes_mains():
    fs, t = 256.0, np.arange(2560) / 256.0
    y = notch(np.sin(2 * np.pi * 50 * t) + np.sin(2 * np.pi * 10 * t), fs, 50.0)
    assert _amp(y, fs, 50) < 0.05 and _amp(y, fs, 10) > 0.9


def test_band_above_nyquist_is_a_recording_error():
    with pytest.raises(RecordingError, match="sampling rate too low"):
        check_band(60.0, (0.5, 40.0), "x.hea")
