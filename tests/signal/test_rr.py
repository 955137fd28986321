"""RR-interval features: each set's names and values, alone and as beat windows carry them."""

from __future__ import annotations

import numpy as np
import pytest

from cardioliquid.signal.config import BeatPreprocessing
from cardioliquid.signal.rhythm import causal_rhythm_statistics
from cardioliquid.signal.rr import (
    IRREGULARITY_FEATURE_NAMES,
    RHYTHM_RR_FEATURE_NAMES,
    ROBUST_ABSOLUTE_RR_FEATURE_NAMES,
    ROBUST_RR_FEATURE_NAMES,
    RR_FEATURE_NAMES,
    ahead_rr_features,
    episode_rr_features,
    onset_rr_features,
    record_reference_features,
    relative_rr_features,
    robust_rr_features,
    rr_feature_matrix,
    rr_feature_names,
    rr_features,
    rr_irregularity,
)
from cardioliquid.signal.windows import beat_windows, n_beat_features

PREP = BeatPreprocessing()


def test_rr_features_flag_premature_beats(ecg):
    w = beat_windows(ecg, PREP)
    f = dict(zip(RR_FEATURE_NAMES, w.features.T, strict=True))
    early = ecg.beats.aami == "S"
    assert np.all(f["pre_over_local"][early] < 0.75)
    assert np.all(f["post_over_pre"][early] > 1.8)
    assert np.median(f["pre_over_local"][~early][10:]) == pytest.approx(1.0, abs=0.1)
    assert f["pre_rr_s"][early][0] == pytest.approx(0.5, abs=1 / ecg.fs)


def test_rr_features_edge_cases():
    assert rr_features(np.array([], dtype=int), 360).shape == (0, 7)
    one = rr_features(np.array([100]), 360)
    assert one.shape == (1, 7) and np.all(np.isfinite(one))
    two = rr_features(np.array([0, 360]), 360)
    np.testing.assert_allclose(two[:, 0], [1.0, 1.0])


def test_relative_rr_features_are_scale_free():
    """The "relative" set is 5 ratios that do not change when the heart rate doubles."""

    beats = np.cumsum(np.r_[0, np.full(20, 300), 200, 400, np.full(10, 300)])
    slow = relative_rr_features(rr_features(beats, 360.0))
    fast = relative_rr_features(rr_features(beats // 2, 360.0))
    assert slow.shape == (beats.size, 5)
    np.testing.assert_allclose(slow, fast, rtol=1e-3)
    premature = 21  # 200-sample interval after 300-sample ones: pre/local = 2/3
    assert slow[premature, 0] == pytest.approx(200 / 300, rel=1e-4)
    rel = BeatPreprocessing(rr_feature_set="relative")
    assert rr_feature_names(rel)[0] == "pre_over_local"
    assert n_beat_features(rel) == 5
    with pytest.raises(ValueError, match="rr_feature_set"):
        n_beat_features(BeatPreprocessing(rr_feature_set="absolute"))


def test_rhythm_rr_features_tell_irregular_rhythm_from_a_premature_beat(ecg):
    fs = 360.0
    regular = np.cumsum(np.r_[0, np.full(20, 300), 200, 400, np.full(10, 300)])
    cv = rr_irregularity(regular, fs, 10)
    assert cv.shape == regular.shape and cv.dtype == np.float32
    np.testing.assert_allclose(cv[:22], 0, atol=1e-3)  # the premature beat (21) is not counted
    assert cv[22] > 0.1  # the beat after it sees the 200-sample interval
    rng = np.random.default_rng(0)
    af = np.cumsum(np.r_[0, rng.uniform(150, 450, 40)])
    assert np.median(rr_irregularity(af, fs, 10)[12:]) > 0.2
    assert rr_irregularity(regular[:2], fs).tolist() == [0.0, 0.0]
    prep = BeatPreprocessing(rr_feature_set="rhythm")
    w = beat_windows(ecg, prep)
    assert w.features.shape[1] == n_beat_features(prep) == len(RHYTHM_RR_FEATURE_NAMES) == 6
    rel = beat_windows(ecg, BeatPreprocessing(rr_feature_set="relative")).features
    np.testing.assert_array_equal(w.features[:, :5], rel)


def test_robust_rr_features_see_a_premature_beat_after_a_pause(ecg):
    fs = 360.0
    # Sinus at 300 samples with three long pauses, then a premature beat (200).
    rr = np.r_[np.full(8, 300), 900, 300, 900, 300, 900, 200, np.full(6, 300)]
    sample = np.cumsum(np.r_[0, rr])
    f = robust_rr_features(sample, fs, 10)
    assert f.shape == (sample.size, len(ROBUST_RR_FEATURE_NAMES)) and f.dtype == np.float32
    premature = 14  # the beat that ends the 200-sample interval
    # Against the median of the last 10 intervals (300) it is 2/3 premature.
    assert f[premature, 0] == pytest.approx(200 / 300, rel=1e-5)
    # The mean (dragged up by the pauses) makes an ordinary sinus beat look premature.
    sinus_after_pauses = 12
    assert f[sinus_after_pauses, 0] == pytest.approx(1.0)
    assert rr_features(sample, fs, 10)[sinus_after_pauses, 4] < 0.8
    assert f[premature, 3] == pytest.approx(200 / 300, rel=1e-5)  # record median is 300
    np.testing.assert_allclose(f[:9, [0, 1, 2, 3, 4, 5]][1:8], [[1, 1, 1, 1, 1, 0]] * 7)
    # Three pauses among ten intervals hardly move the MAD; an irregular rhythm does.
    assert f[premature, 5] < 0.05
    rng = np.random.default_rng(0)
    af = np.cumsum(np.r_[0, rng.uniform(150, 450, 40)])
    assert np.median(robust_rr_features(af, fs, 10)[12:, 5]) > 0.15
    assert robust_rr_features(sample[:1], fs).tolist() == [[1, 1, 1, 1, 1, 0]]
    prep = BeatPreprocessing(rr_feature_set="robust", template_features=True)
    w = beat_windows(ecg, prep)
    assert w.features.shape[1] == n_beat_features(prep) == 9
    np.testing.assert_array_equal(w.features[:, :6], robust_rr_features(ecg.beats.sample, ecg.fs))


def test_robust_absolute_rr_features_add_the_intervals_in_seconds(ecg):
    fs = 360.0
    rr = np.r_[np.full(12, 360), 252, 468, np.full(6, 360)]  # a premature beat at 0.7 s
    sample = np.cumsum(np.r_[0, rr])
    f = robust_rr_features(sample, fs, 10, absolute=True)
    assert f.shape == (sample.size, len(ROBUST_ABSOLUTE_RR_FEATURE_NAMES)) == (21, 9)
    np.testing.assert_array_equal(f[:, :6], robust_rr_features(sample, fs, 10))
    premature = 13
    np.testing.assert_allclose(f[premature, 6:], [0.7, 1.3, 1.0], rtol=1e-5)
    assert robust_rr_features(sample[:1], fs, absolute=True).shape == (1, 9)
    prep = BeatPreprocessing(rr_feature_set="robust_absolute", template_features=True)
    w = beat_windows(ecg, prep)
    assert w.features.shape[1] == n_beat_features(prep) == 12
    np.testing.assert_array_equal(
        w.features[:, :9], robust_rr_features(ecg.beats.sample, ecg.fs, absolute=True))


@pytest.mark.parametrize("base", ["robust", "robust_absolute"])
def test_irregularity_sets_append_the_causal_rhythm_statistics(ecg, base):
    plain = BeatPreprocessing(rr_feature_set=base, template_features=True)
    prep = BeatPreprocessing(rr_feature_set=f"{base}_irregularity", template_features=True)
    names = rr_feature_names(prep)
    assert names == (*rr_feature_names(plain), *IRREGULARITY_FEATURE_NAMES)
    w, w0 = beat_windows(ecg, prep), beat_windows(ecg, plain)
    k = len(rr_feature_names(plain))
    assert w.features.shape[1] == n_beat_features(prep) == n_beat_features(plain) + 3
    np.testing.assert_array_equal(w.features[:, :k], w0.features[:, :k])
    np.testing.assert_array_equal(w.features[:, k:k + 3],
                                  causal_rhythm_statistics(ecg.beats.sample, ecg.fs))
    np.testing.assert_array_equal(w.features[:, k + 3:], w0.features[:, k:])  # templates


def test_record_references_flag_ectopy_that_sets_the_median():
    """A record whose fast ectopic runs are the majority: against the median its ectopic
    beats look ordinary, against the record's mean or slow interval they are early."""

    fs = 128.0
    sinus, run = np.full(8, 0.8), np.full(14, 0.4)
    rr = np.concatenate([np.concatenate([sinus, run])] * 10)
    beats = np.round(np.cumsum(np.r_[0.0, rr]) * fs).astype(np.int64)
    ectopic = np.r_[False, np.tile(np.r_[np.zeros(8, bool), np.ones(14, bool)], 10)]
    refs = record_reference_features(beats, fs, 10, ("mean", "slow"))
    robust = robust_rr_features(beats, fs, 10)
    assert refs.shape == (beats.size, 4) and refs.dtype == np.float32
    assert np.median(robust[ectopic, 3]) == pytest.approx(1.0, abs=0.02)  # pre over median
    mean = rr.mean()
    assert np.median(refs[ectopic, 0]) == pytest.approx(0.4 / mean, rel=0.02)
    assert np.median(refs[ectopic, 2]) == pytest.approx(0.5, rel=0.02)  # 0.4 over the slow 0.8
    assert np.median(refs[~ectopic, 2]) == pytest.approx(1.0, rel=0.02)
    # Ratios: a change of heart rate leaves them as they are.
    fast = record_reference_features(beats, 2 * fs, 10, ("mean", "slow"))  # intervals halved
    np.testing.assert_allclose(fast, refs, rtol=1e-5)
    assert record_reference_features(beats[:1], fs).shape == (1, 2)
    with pytest.raises(ValueError, match="record reference"):
        record_reference_features(beats, fs, 10, ("mode",))


@pytest.mark.parametrize("name, kinds", [("robust_absolute_mean", ("mean",)),
                                         ("robust_absolute_slow", ("slow",)),
                                         ("robust_absolute_references", ("mean", "slow"))])
def test_reference_sets_append_to_robust_absolute(ecg, name, kinds):
    from cardioliquid.training.augment import interval_columns

    plain = BeatPreprocessing(rr_feature_set="robust_absolute", template_features=True)
    prep = BeatPreprocessing(rr_feature_set=name, template_features=True)
    names = rr_feature_names(prep)
    assert names[:9] == rr_feature_names(plain) and len(names) == 9 + 2 * len(kinds)
    # Only the seconds columns are rescaled by the heart-rate augmentation.
    assert interval_columns(names) == interval_columns(rr_feature_names(plain)) == [6, 7, 8]
    w, w0 = beat_windows(ecg, prep), beat_windows(ecg, plain)
    np.testing.assert_array_equal(w.features[:, :9], w0.features[:, :9])
    np.testing.assert_array_equal(w.features[:, 9:len(names)],
                                  record_reference_features(ecg.beats.sample, ecg.fs, 10, kinds))
    np.testing.assert_array_equal(w.features[:, len(names):], w0.features[:, 9:])  # templates


def test_ahead_features_tell_an_isolated_premature_beat_from_a_run():
    """After an isolated early beat the second interval is back to the local rhythm; inside a
    run of early beats it stays short."""

    fs = 100.0
    rr = np.r_[np.full(12, 1.0), 0.7, 1.2, np.full(12, 1.0), np.full(6, 0.6), np.full(12, 1.0)]
    beats = np.round(np.cumsum(np.r_[0.0, rr]) * fs).astype(np.int64)
    ahead = ahead_rr_features(beats, fs)
    assert ahead.shape == (beats.size, 2) and ahead.dtype == np.float32
    isolated, run_start = 13, 27  # beats whose pre-RR is the first short interval
    assert ahead[isolated, 0] == pytest.approx(1.0, rel=0.02)  # 0.7 then 1.2, then 1.0 again
    assert ahead[isolated, 1] == pytest.approx(1.0 / 1.2, rel=0.02)
    assert ahead[run_start, 0] == pytest.approx(0.6, rel=0.02)  # the run goes on
    np.testing.assert_allclose(ahead[-2:], ahead[-3:-2].repeat(2, 0))  # the last borrow
    assert ahead_rr_features(beats[:1], fs).shape == (1, 2)
    prep = BeatPreprocessing(rr_feature_set="robust_absolute_ahead")
    assert rr_feature_names(prep)[-2:] == ("post2_over_local_median", "post2_over_post")
    assert n_beat_features(prep) == 11


def test_local_set_drops_the_ratios_over_the_record(ecg):
    plain = BeatPreprocessing(rr_feature_set="robust_absolute")
    local = BeatPreprocessing(rr_feature_set="robust_absolute_local")
    names, full = rr_feature_names(local), rr_feature_names(plain)
    assert names == tuple(n for n in full if n not in ("pre_over_record_median",
                                                       "local_median_over_record_median"))
    assert names.index("pre_rr_s") == 4
    w, w0 = beat_windows(ecg, local), beat_windows(ecg, plain)
    np.testing.assert_array_equal(w.features, w0.features[:, [full.index(n) for n in names]])


def test_onset_features_keep_a_paroxysm_premature_and_gradual_speeding_not():
    fs = 100.0
    sinus, run = np.full(30, 0.8), np.full(60, 0.4)
    pac = np.r_[np.full(20, 0.8), 0.56, 1.0, np.full(20, 0.8)]
    gradual = np.linspace(0.8, 0.4, 60)
    rr = np.concatenate([sinus, run, sinus, pac, gradual, np.full(20, 0.4)])
    beats = np.round(np.cumsum(np.r_[0.0, rr]) * fs).astype(np.int64)
    onset = onset_rr_features(beats, fs)
    assert onset.shape == (beats.size, 2) and onset.dtype == np.float32
    in_run = np.arange(31, 91)  # beats whose pre-RR is one of the run's intervals
    np.testing.assert_allclose(onset[in_run, 0], 0.5, rtol=0.03)  # the whole run, not its start
    assert (np.diff(onset[in_run, 1]) > 0).all()  # its length grows
    after = 91 + 35  # back in sinus rhythm
    assert onset[after, 0] == pytest.approx(1.0, rel=0.03) and onset[after, 1] == 0
    pac_beat = 90 + 30 + 20 + 1  # pre-RR 0.56 s
    assert onset[pac_beat, 0] == pytest.approx(0.7, rel=0.03) and onset[pac_beat, 1] > 0
    assert onset[pac_beat + 1, 1] == 0  # a run of one beat
    speeding = np.arange(pac_beat + 22, pac_beat + 22 + 80)
    assert (onset[speeding, 1] == 0).all()  # gradual: never a run
    assert onset_rr_features(beats[:1], fs).tolist() == [[1.0, 0.0]]
    for name, n in (("robust_absolute_onset", 11), ("robust_absolute_local_onset", 9)):
        names = rr_feature_names(BeatPreprocessing(rr_feature_set=name))
        assert len(names) == n and names[-2:] == ("pre_over_onset_reference", "run_beats")


def test_episode_features_keep_an_irregular_tachycardia_one_run():
    """An atrial tachycardia with variable conduction: an interval near the old rate ends an
    onset run (and the tachycardia's own rate becomes its reference); an episode ends only
    when the rhythm is back."""
    fs = 100.0
    tachy = np.tile([0.4, 0.4, 0.4, 0.75], 12)  # 0.75 >= 0.9 of 0.8, the sinus rate
    pac = np.r_[np.full(20, 0.8), 0.56, 1.0, np.full(20, 0.8)]
    rr = np.concatenate([np.full(30, 0.8), tachy, np.full(30, 0.8), pac])
    beats = np.round(np.cumsum(np.r_[0.0, rr]) * fs).astype(np.int64)
    onset = onset_rr_features(beats, fs)
    episode = episode_rr_features(beats, fs)
    np.testing.assert_array_equal(episode, onset_rr_features(beats, fs, end="rhythm"))
    in_tachy = np.arange(31, 31 + tachy.size)
    short = in_tachy[rr[in_tachy - 1] < 0.5]
    # The episode keeps the sinus reference: every short interval is half of it...
    np.testing.assert_allclose(episode[short, 0], 0.5, rtol=0.03)
    # ...and once the local median has moved (the first long interval, with the median
    # still at the sinus rate, ends the first try), one run that grows to the end.
    assert (np.diff(episode[in_tachy[3:], 1]) > 0).all()
    # The onset run ended at the first long interval; the short ones then look ordinary.
    late = short[short > 31 + 16]
    assert (onset[late, 0] > 0.8).all()
    # Back in sinus rhythm the episode ends within the local median's 10 beats.
    after = 31 + tachy.size + 10
    assert episode[after, 1] == 0 and episode[after, 0] == pytest.approx(1.0, rel=0.03)
    # An isolated premature beat is a run of one beat either way.
    pac_beat = 31 + tachy.size + 29 + 21
    assert rr[pac_beat - 1] == pytest.approx(0.56)
    np.testing.assert_array_equal(episode[pac_beat - 2:pac_beat + 3],
                                  onset[pac_beat - 2:pac_beat + 3])
    assert episode[pac_beat + 1, 1] == 0
    names = rr_feature_names(BeatPreprocessing(rr_feature_set="robust_absolute_local_episode"))
    assert len(names) == 9 and names[-2:] == ("pre_over_episode_reference", "episode_beats")
    both = rr_feature_names(
        BeatPreprocessing(rr_feature_set="robust_absolute_local_onset_episode"))
    assert both == (*names[:7], "pre_over_onset_reference", "run_beats", *names[-2:])
    prep = BeatPreprocessing(rr_feature_set="robust_absolute_local_onset_episode")
    np.testing.assert_array_equal(rr_feature_matrix(beats, fs, prep)[:, -4:],
                                  np.concatenate([onset, episode], axis=1))
    with pytest.raises(ValueError, match="end"):
        onset_rr_features(beats, fs, end="run")
