"""Morphology features against the record's median beat (QRS and P-wave regions)."""

from __future__ import annotations

import numpy as np
import pytest

from cardioliquid.signal.config import BeatPreprocessing
from cardioliquid.signal.rr import RR_FEATURE_NAMES
from cardioliquid.signal.templates import (
    TEMPLATE_FEATURE_NAMES,
    TEMPLATE_P_WAVE_S,
    template_features,
)
from cardioliquid.signal.windows import beat_feature_names, beat_windows, n_beat_features

PREP = BeatPreprocessing()


def test_template_features_single_out_the_odd_beat():
    """Beats like the record's median beat score corr ~1, diff ~0, amp ~1; a wide one does not."""

    fs, pre, t = 180.0, 45, 126
    tt = np.arange(t)
    normal = np.exp(-0.5 * ((tt - pre) / 3.0) ** 2)  # narrow QRS
    wide = -1.5 * np.exp(-0.5 * ((tt - pre - 5) / 9.0) ** 2)  # wide, inverted, larger
    x = np.stack([normal] * 9 + [wide] + [2 * normal])[:, None, :].astype(np.float32)
    f = template_features(x, pre, fs)
    assert f.shape == (11, len(TEMPLATE_FEATURE_NAMES)) and f.dtype == np.float32
    np.testing.assert_allclose(f[:9], [[1.0, 0.0, 1.0]] * 9, atol=1e-5)
    assert f[9, 0] < 0 and f[9, 1] > 1 and f[9, 2] > 1.2  # the ventricular-like beat
    assert f[10, 0] == pytest.approx(1.0) and f[10, 2] == pytest.approx(2.0)  # gain only
    assert template_features(x[:0], pre, fs).shape == (0, 3)

    # Beats beside a signal gap (flat, bridged windows) do not build the template.
    gap = np.concatenate([x[:4], np.zeros((6, 1, t), np.float32)])
    keep = np.array([True] * 4 + [False] * 6)
    for lag in (0, 2):
        polluted = template_features(gap, pre, fs, max_lag=lag)
        clean = template_features(gap, pre, fs, max_lag=lag, from_beats=keep)
        np.testing.assert_allclose(clean[:4], [[1.0, 0.0, 1.0]] * 4, atol=1e-5)
        assert not np.allclose(polluted[:4, 2], 1.0)  # a flat median beat: amplitude off


def test_template_features_follow_the_rr_features(ecg):
    prep = BeatPreprocessing(template_features=True)
    w = beat_windows(ecg, prep)
    assert n_beat_features(prep) == len(RR_FEATURE_NAMES) + 3 == w.features.shape[1]
    np.testing.assert_array_equal(w.features[:, :7], beat_windows(ecg, PREP).features)
    assert np.all(np.isfinite(w.features))
    assert n_beat_features(BeatPreprocessing(rr_features=False, template_features=True)) == 3


def test_p_wave_template_features_see_an_ectopic_p_wave():
    fs, pre, n_times = 180.0, 45, 126
    t = (np.arange(n_times) - pre) / fs
    qrs = np.exp(-0.5 * (t / 0.012) ** 2)
    sinus_p = 0.2 * np.exp(-0.5 * ((t + 0.16) / 0.025) ** 2)
    windows = np.tile(qrs + sinus_p, (20, 1))[:, None, :].astype(np.float32)
    windows[7, 0] = qrs - sinus_p  # an inverted P wave: ectopic atrial focus, same QRS
    p = template_features(windows, pre, fs, TEMPLATE_P_WAVE_S)
    q = template_features(windows, pre, fs)
    assert p.shape == (20, 3)
    assert p[7, 0] < -0.9 and np.all(np.delete(p[:, 0], 7) > 0.99)  # P correlation flips
    assert p[7, 1] > 1.5 and np.all(np.delete(p[:, 1], 7) < 1e-3)
    assert abs(q[7, 0] - q[0, 0]) < 0.05  # the QRS features barely notice
    prep = BeatPreprocessing(rr_feature_set="robust", template_features=True,
                             template_p_wave=True)
    assert beat_feature_names(prep)[-6:] == ("template_corr", "template_diff", "template_amp",
                                             "p_corr", "p_diff", "p_amp")
    assert n_beat_features(prep) == 12
    with pytest.raises(ValueError, match="template region"):
        template_features(windows[:, :, :50], 2, fs, TEMPLATE_P_WAVE_S)


def test_aligned_template_features_ignore_a_sample_of_position_jitter(rng):
    fs, pre, n_times = 180.0, 45, 126
    t = np.arange(n_times) - pre
    sharp = np.exp(-0.5 * (t / 1.2) ** 2) - 0.3 * np.exp(-0.5 * ((t - 3) / 1.5) ** 2)
    jitter = rng.integers(-1, 2, size=60)  # positions off by up to a sample
    windows = np.stack([np.roll(sharp, j) for j in jitter])[:, None, :].astype(np.float32)
    wide = np.exp(-0.5 * (t / 6.0) ** 2)  # one ectopic (wide) beat
    windows[10, 0] = wide
    raw = template_features(windows, pre, fs)
    aligned = template_features(windows, pre, fs, max_lag=2)
    ordinary = np.delete(np.arange(60), 10)
    assert raw[ordinary, 0].min() < 0.8  # a one-sample shift of a sharp QRS
    assert aligned[ordinary, 0].min() > 0.999 and aligned[ordinary, 1].max() < 0.05
    assert aligned[10, 0] < 0.8 and aligned[10, 1] > 0.5  # the wide beat still stands out
    # max_lag 0 is the unaligned computation, bit for bit.
    np.testing.assert_array_equal(template_features(windows, pre, fs, max_lag=0), raw)
    prep = BeatPreprocessing(rr_feature_set="robust", template_features=True,
                             template_align_s=0.011)
    assert round(prep.template_align_s * prep.fs) == 2
