"""Resampling keeps annotation times right (svdb 128 Hz vs mitdb 360 Hz)."""

from __future__ import annotations

import numpy as np
import pytest

from cardioliquid.signal.resample import (
    resample_ratio,
    resample_recording,
    resample_signal,
    rescale_samples,
)


@pytest.mark.parametrize(("fs_in", "fs_out", "ratio"), [(360, 180, (1, 2)), (360, 128, (16, 45)),
                                                       (173.61, 128, (12800, 17361))])
def test_exact_ratios(fs_in, fs_out, ratio):
    assert resample_ratio(fs_in, fs_out) == ratio


def test_sine_survives_resampling():
    t_in = np.arange(3600) / 360.0
    y = resample_signal(np.sin(2 * np.pi * 5 * t_in), 360, 128)
    t_out = np.arange(len(y)) / 128.0
    np.testing.assert_allclose(y[50:-50], np.sin(2 * np.pi * 5 * t_out)[50:-50], atol=0.02)


def test_recording_annotations_follow_the_r_peaks(ecg):
    for fs in (128.0, 180.0, 500.0):
        out = resample_recording(ecg, fs)
        assert out.fs == fs and out.n_samples == pytest.approx(ecg.duration_s * fs, abs=1)
        np.testing.assert_allclose(out.beats.sample / fs, ecg.beats.sample / ecg.fs,
                                   atol=0.5 / fs)
        lead = out.signal[0]
        for s in out.beats.sample[:10]:  # the R peak is still at the annotation (±1 sample)
            assert abs(int(np.argmax(lead[s - 5:s + 6])) - 5) <= 1
        assert out.rhythms[0][1] == "(N"
        np.testing.assert_array_equal(out.beats.symbol, ecg.beats.symbol)


def test_round_trip_of_sample_indices():
    s = np.array([0, 1, 359, 360, 649999])
    back = rescale_samples(rescale_samples(s, 360, 720), 720, 360)
    np.testing.assert_array_equal(back, s)
