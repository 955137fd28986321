"""Resampling signals and recordings, annotation positions included.

Uses :func:`scipy.signal.resample_poly` (polyphase, anti-aliased) with the
exact rational ratio of the two rates, so MIT-BIH (360 Hz), the SVDB (128 Hz)
and Bonn (173.61 Hz) all land on one model rate.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import numpy as np
from scipy import signal as sps

from cardioliquid._check import check_positive
from cardioliquid.io.recording import BeatAnnotations, Recording


def resample_ratio(fs_in: float, fs_out: float) -> tuple[int, int]:
    """Integers ``(up, down)`` with ``fs_out / fs_in == up / down`` (rates to 0.01 Hz)."""
    check_positive("fs_in", fs_in)
    check_positive("fs_out", fs_out)
    ratio = Fraction(str(round(fs_out, 6))) / Fraction(str(round(fs_in, 6)))
    ratio = ratio.limit_denominator(100_000)
    return ratio.numerator, ratio.denominator


def resample_signal(x: np.ndarray, fs_in: float, fs_out: float, axis: int = -1) -> np.ndarray:
    """Resample ``x`` from ``fs_in`` to ``fs_out`` along ``axis`` (float32 out)."""
    up, down = resample_ratio(fs_in, fs_out)
    if up == down:
        return np.asarray(x, dtype=np.float32)
    return sps.resample_poly(x, up, down, axis=axis).astype(np.float32)


def rescale_samples(samples: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Sample indices at ``fs_in`` -> the nearest indices at ``fs_out`` (same times)."""
    up, down = resample_ratio(fs_in, fs_out)
    s = np.asarray(samples, dtype=np.int64)
    # Integer arithmetic: round(s * up / down) without float error on long records.
    return (s * up * 2 + down) // (2 * down)


def resample_recording(rec: Recording, fs: float) -> Recording:
    """Return ``rec`` resampled to ``fs`` Hz with beat and rhythm positions rescaled.

    Seizure intervals are in seconds and stay as they are.
    """
    if abs(rec.fs - fs) < 1e-9:
        return rec
    signal = resample_signal(rec.signal, rec.fs, fs, axis=1)
    beats = None
    if rec.beats is not None:
        beats = BeatAnnotations(rescale_samples(rec.beats.sample, rec.fs, fs),
                                rec.beats.symbol, rec.beats.aami)
    rhythms = [(int(rescale_samples(np.array([s]), rec.fs, fs)[0]), note)
               for s, note in rec.rhythms]
    meta = {**rec.meta, "resampled_from": rec.fs}
    return replace(rec, signal=signal, fs=float(fs), beats=beats, rhythms=rhythms, meta=meta)
