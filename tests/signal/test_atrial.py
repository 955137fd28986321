import numpy as np
import pytest

from cardioliquid.signal.atrial import (
    ATRIAL_FEATURE_NAMES,
    ATRIAL_MIN_BEATS,
    ATRIAL_WINDOW_BEATS,
    atrial_features,
)
from cardioliquid.signal.config import BeatPreprocessing
from cardioliquid.signal.windows import beat_feature_names, beat_windows, n_beat_features

FS, PRE, N_TIMES = 180.0, 45, 126


def _beats(n: int, rng: np.random.Generator, af: slice | None = None,
           ectopic: tuple[int, ...] = ()) -> np.ndarray:
    """Windows with one QRS and a sinus P wave; AF beats get random atrial waves instead,
    ectopic beats an inverted P wave."""
    t = (np.arange(N_TIMES) - PRE) / FS
    qrs = np.exp(-0.5 * (t / 0.012) ** 2)
    p = 0.2 * np.exp(-0.5 * ((t + 0.16) / 0.025) ** 2)
    w = np.tile(qrs + p, (n, 1)) + 0.005 * rng.standard_normal((n, N_TIMES))
    for i in ectopic:
        w[i] = qrs - p
    if af is not None:
        k = len(range(n)[af])
        fib = 0.05 * rng.standard_normal((k, N_TIMES))  # no P wave: fibrillatory waves
        w[af] = qrs + np.apply_along_axis(np.convolve, 1, fib, np.ones(5) / 5, "same")
    return w[:, None, :].astype(np.float32)


def test_sinus_rhythm_is_consistent_and_an_ectopic_p_wave_stands_out(rng):
    w = _beats(80, rng, ectopic=(50,))
    f = atrial_features(w, PRE, FS)
    assert f.shape == (80, len(ATRIAL_FEATURE_NAMES)) and f.dtype == np.float32
    assert np.all(np.delete(f[:, 0], 50) > 0.95)
    assert f[50, 0] < -0.9  # inverted P: the recent beats' template says otherwise
    assert np.all(f[:, 1] > 0.95)  # one ectopic beat leaves the median where it was


def test_atrial_fibrillation_has_no_consistent_p_wave(rng):
    w = _beats(160, rng, af=slice(60, 160))
    f = atrial_features(w, PRE, FS)
    assert np.median(f[20:60, 1]) > 0.95
    assert np.median(f[60 + ATRIAL_WINDOW_BEATS:, 1]) < 0.5
    assert np.median(f[60 + ATRIAL_WINDOW_BEATS:, 0]) < 0.5


def test_atrial_features_are_causal(rng):
    w = _beats(120, rng, af=slice(70, 120), ectopic=(30, 40))
    whole = atrial_features(w, PRE, FS)
    for stop in (ATRIAL_MIN_BEATS + 1, 45, 90):
        np.testing.assert_allclose(atrial_features(w[:stop], PRE, FS), whole[:stop], atol=1e-6)


def test_unusable_beats_never_join_a_template(rng):
    w = _beats(60, rng)
    flat = w.copy()
    flat[20:30] = 0.0  # bridged signal gap
    usable = np.ones(60, dtype=bool)
    usable[20:30] = False
    clean = atrial_features(flat, PRE, FS, usable)
    assert np.all(clean[30:, 0] > 0.95)
    assert np.all(clean[30:, 1] > 0.95)
    # Left in, the flat beats drag the consistency of the beats after them down.
    assert atrial_features(flat, PRE, FS)[30:40, 1].min() < clean[30:40, 1].min()


def test_few_beats_and_short_windows_do_not_fail(rng):
    assert atrial_features(_beats(0, rng), PRE, FS).shape == (0, 2)
    one = atrial_features(_beats(1, rng), PRE, FS)
    assert one.shape == (1, 2) and np.all(np.isfinite(one))
    # A window that ends before the P-wave region: zeros, not an error.
    assert not atrial_features(_beats(5, rng)[:, :, :10], 2, FS).any()


@pytest.mark.parametrize("p_wave", [False, True])
def test_beat_windows_append_the_atrial_features_last(ecg, p_wave):
    base = BeatPreprocessing(rr_feature_set="robust_absolute_local_onset",
                             template_features=True, template_p_wave=p_wave)
    prep = BeatPreprocessing(rr_feature_set="robust_absolute_local_onset",
                             template_features=True, template_p_wave=p_wave,
                             atrial_features=True)
    assert beat_feature_names(prep)[-2:] == ATRIAL_FEATURE_NAMES
    assert n_beat_features(prep) == n_beat_features(base) + 2
    with_atrial, without = beat_windows(ecg, prep), beat_windows(ecg, base)
    np.testing.assert_array_equal(with_atrial.features[:, :-2], without.features)
    pre = round(prep.pre_s * prep.fs)
    expected = atrial_features(with_atrial.x, pre, prep.fs, with_atrial.usable)
    np.testing.assert_array_equal(with_atrial.features[:, -2:], expected)


def test_from_beat_computes_the_same_features_from_the_beats_it_needs(rng):
    w = _beats(200, rng, af=slice(120, 200), ectopic=(90, 150))
    usable = np.ones(200, dtype=bool)
    usable[100:104] = False
    whole = atrial_features(w, PRE, FS, usable)
    for first in (1, 2 * ATRIAL_WINDOW_BEATS, 2 * ATRIAL_WINDOW_BEATS + 7, 160):
        tail = atrial_features(w, PRE, FS, usable, from_beat=first)
        np.testing.assert_allclose(tail[first:], whole[first:], atol=1e-6)
        assert not tail[:first].any()  # context beats: not computed
