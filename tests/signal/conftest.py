"""In-memory synthetic recordings for the signal layer."""

from __future__ import annotations

import numpy as np
import pytest

from cardioliquid.io.labels import aami_class
from cardioliquid.io.recording import BeatAnnotations, Recording


def make_ecg(fs: float = 360.0, duration_s: float = 60.0, leads=("MLII", "V1"), seed: int = 0,
             premature_every: int = 7) -> Recording:
    """ECG-like record: R waves every 0.8 s, every ``premature_every``-th beat early (S)."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * fs)
    t = np.arange(n) / fs
    times, symbols, now, i = [], [], 0.6, 0
    while now < duration_s - 0.6:
        early = bool(premature_every) and i % premature_every == premature_every - 1
        times.append(now)
        symbols.append("A" if early else "N")
        i += 1
        # The beat after this one comes 0.3 s early (premature), then a compensatory pause.
        nxt_early = bool(premature_every) and i % premature_every == premature_every - 1
        now += 0.5 if nxt_early else (1.1 if early else 0.8)
    x = 0.02 * rng.standard_normal(n) + 0.1 * np.sin(2 * np.pi * 0.25 * t)
    for p in times:
        x += 1.0 * np.exp(-0.5 * ((t - p) / 0.012) ** 2)
    sig = np.stack([x * (1 + 0.3 * k) for k in range(len(leads))]).astype(np.float32)
    samples = np.round(np.array(times) * fs).astype(np.int64)
    beats = BeatAnnotations(samples, np.array(symbols), aami_class(symbols))
    return Recording(sig, fs, list(leads), "mV", "syn", "syn", "ecg", beats=beats,
                     rhythms=[(int(samples[2]), "(N")])


def make_eeg(names, fs: float = 256.0, duration_s: float = 30.0, seed: int = 0,
             seizures=((10.0, 20.0),)) -> Recording:
    """Random EEG in µV with named channels and seizure intervals."""
    rng = np.random.default_rng(seed)
    sig = (rng.standard_normal((len(names), int(fs * duration_s))) * 30).astype(np.float32)
    return Recording(sig, fs, list(names), "uV", "eegsyn", "p1", "eeg",
                     seizures=list(seizures))


@pytest.fixture
def ecg() -> Recording:
    """One minute of two-lead synthetic ECG at 360 Hz, annotated (N and S beats)."""
    return make_ecg()


@pytest.fixture
def ecg_maker():
    """The synthetic ECG builder."""
    return make_ecg


@pytest.fixture
def eeg_maker():
    """The synthetic EEG builder."""
    return make_eeg
