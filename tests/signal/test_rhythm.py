"""The RR-rhythm AF test: known answers for each criterion, causal and streamed forms."""

from __future__ import annotations

import numpy as np
import pytest

from cardioliquid.signal.rhythm import AF_WINDOW_BEATS, AFTracker, af_beats, af_windows

FS = 360.0


def _beats(rr: np.ndarray) -> np.ndarray:
    return np.round(np.concatenate([[0.5], 0.5 + np.cumsum(rr)]) * FS).astype(np.int64)


def _sinus(n: int, seed: int = 0) -> np.ndarray:
    """Regular rhythm: 0.8 s intervals with 2 % jitter."""
    return 0.8 * (1 + 0.02 * np.random.default_rng(seed).standard_normal(n))


def _af(n: int, seed: int = 0) -> np.ndarray:
    """Independent intervals of 0.4-1.2 s."""
    return np.random.default_rng(seed).uniform(0.4, 1.2, n)


def test_independent_irregular_intervals_are_af_and_sinus_is_not():
    assert af_windows(_af(400)).all()
    assert not af_windows(_sinus(400)).any()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_criterion_alone_rejects_a_window(seed):
    rng = np.random.default_rng(seed)
    w = AF_WINDOW_BEATS
    # Random order, many values, but little beat-to-beat change (RMSSD/mean 0.02).
    small = rng.uniform(0.78, 0.82, w)
    # Large changes over many values, but strictly alternating short/long:
    # nearly every point turns (about 0.9, not the 2/3 of independent intervals).
    alternating = np.empty(w)
    alternating[0::2] = rng.uniform(0.4, 0.8, w // 2)
    alternating[1::2] = rng.uniform(0.8, 1.2, w // 2)
    # Random and varied, but 60 % of the intervals sit at one value: low entropy.
    clustered = np.where(rng.random(w) < 0.6, 0.8 + 0.002 * rng.standard_normal(w),
                         rng.uniform(0.4, 1.2, w))
    for rr in (small, alternating, clustered):
        assert not af_windows(rr).any()
    # Independent intervals over the same spread pass all three tests.
    assert af_windows(rng.uniform(0.4, 1.2, w)).all()


def test_isolated_ectopic_beats_and_pauses_are_trimmed_away():
    rr = _sinus(300)
    # A premature beat and its compensatory pause every 40 beats: at most 4 of
    # each in a 128-interval window, fewer than the 8 trimmed on each side.
    for i in range(10, 290, 40):
        rr[i], rr[i + 1] = 0.5, 1.1
    assert not af_beats(_beats(rr), FS).any()


def test_too_few_beats_are_never_flagged():
    s = _beats(_af(AF_WINDOW_BEATS - 1))  # exactly ``window`` beats: window - 1 intervals
    assert not af_beats(s, FS).any()
    assert af_beats(s, FS).shape == s.shape
    assert af_beats(np.zeros(0, np.int64), FS).shape == (0,)


def test_a_record_that_turns_to_af_is_flagged_from_about_the_change():
    s = _beats(np.concatenate([_sinus(400), _af(400)]))
    flags = af_beats(s, FS)
    change = 400
    assert not flags[: change - AF_WINDOW_BEATS // 2].any()
    assert flags[change + AF_WINDOW_BEATS // 2:].all()
    causal = af_beats(s, FS, causal=True)
    assert not causal[:change].any()  # a stream cannot know before the change
    assert causal[change + AF_WINDOW_BEATS:].all()


def test_causal_flags_use_only_earlier_beats():
    s = _beats(np.concatenate([_af(300), _sinus(300)]))
    full = af_beats(s, FS, causal=True)
    for cut in (AF_WINDOW_BEATS + 5, 250, 420):
        np.testing.assert_array_equal(af_beats(s[:cut], FS, causal=True), full[:cut])
    assert not full[:AF_WINDOW_BEATS].any()


@pytest.mark.parametrize("block", [1, 7, 130, 1000])
def test_tracker_fed_in_blocks_equals_one_causal_call(block):
    s = _beats(np.concatenate([_sinus(200), _af(300), _sinus(200)]))
    tracker = AFTracker(FS)
    pushed = np.concatenate([tracker.push(s[i:i + block]) for i in range(0, len(s), block)])
    np.testing.assert_array_equal(pushed, af_beats(s, FS, causal=True))
    assert pushed.any() and not pushed.all()


def test_window_too_small_for_its_trim_is_refused():
    with pytest.raises(ValueError, match="fewer than 4"):
        af_windows(_af(50), window=18, trim=8)


def test_causal_statistics_separate_af_from_sinus_and_match_the_test():
    from cardioliquid.signal.rhythm import causal_rhythm_statistics, rhythm_statistics

    sinus = causal_rhythm_statistics(_beats(_sinus(300)), FS)
    af = causal_rhythm_statistics(_beats(_af(300)), FS)
    assert sinus.shape == af.shape == (301, 3) and sinus.dtype == np.float32
    # nRMSSD, turning points and entropy: irregular random intervals score high on all three
    assert np.median(af[40:, 0]) > 0.25 > 0.05 > np.median(sinus[40:, 0])
    assert 0.54 < np.median(af[40:, 1]) < 0.77
    assert np.median(af[40:, 2]) > 0.7
    # Row i is the published statistics of the 32 intervals ending at beat i.
    rr = np.diff(_beats(_af(300))) / FS
    np.testing.assert_allclose(af[100], rhythm_statistics(rr[68:100][None], 2)[0], rtol=1e-5)


def test_causal_statistics_use_only_earlier_beats_and_start_regular():
    from cardioliquid.signal.rhythm import causal_rhythm_statistics

    beats = _beats(np.r_[_sinus(100), _af(100)])
    full = causal_rhythm_statistics(beats, FS)
    np.testing.assert_array_equal(causal_rhythm_statistics(beats[:120], FS), full[:120])
    first = causal_rhythm_statistics(beats[:2], FS)
    np.testing.assert_array_equal(first, np.zeros((2, 3), np.float32))  # one interval: regular
    assert causal_rhythm_statistics(beats[:1], FS).shape == (1, 3)
    with pytest.raises(ValueError, match="fewer than 4"):
        causal_rhythm_statistics(beats, FS, window=6, trim=2)


def test_af_specific_keeps_af_and_clears_irregularity_made_by_ectopy():
    """AF: the intervals between normal beats are irregular too, so the flags stay.
    Frequent premature beats in a regular rhythm: the AF test may fire, but the normal-
    to-normal intervals are regular (or too few, in bigeminy), so the flags are cleared."""
    from cardioliquid.signal.rhythm import af_specific_beats

    rng = np.random.default_rng(3)
    af_rr = _af(400)
    beats = _beats(af_rr)
    everywhere = np.ones(beats.size, bool)
    kept = af_specific_beats(everywhere, beats, FS, np.ones(beats.size, bool))
    assert kept[70:-70].all()
    # Sinus at 0.8 s with a premature beat (0.5 s, then a 1.1 s pause) every third beat.
    rr = np.tile([0.8, 0.5, 1.1], 140) * (1 + 0.01 * rng.standard_normal(420))
    beats = _beats(rr)
    normal = np.ones(beats.size, bool)
    normal[2::3] = False  # the beat after each 0.5 s interval is the premature one
    assert not af_specific_beats(np.ones(beats.size, bool), beats, FS, normal).any()
    # Bigeminy: every other beat premature, no two normal beats in a row.
    beats = _beats(np.tile([0.5, 1.1], 200))
    normal = np.zeros(beats.size, bool)
    normal[::2] = True
    assert not af_specific_beats(np.ones(beats.size, bool), beats, FS, normal).any()


def test_af_specific_only_narrows_the_af_flags_and_causal_looks_back():
    from cardioliquid.signal.rhythm import af_specific_beats

    beats = _beats(np.r_[_sinus(200), _af(300)])
    af = af_beats(beats, FS, causal=True)
    normal = np.ones(beats.size, bool)
    causal = af_specific_beats(af, beats, FS, normal, causal=True)
    assert not (causal & ~af).any() and causal[-100:].all()
    cut = 350
    np.testing.assert_array_equal(
        af_specific_beats(af[:cut], beats[:cut], FS, normal[:cut], causal=True), causal[:cut])
    assert not af_specific_beats(np.zeros(3, bool), beats[:3], FS, normal[:3]).any()
