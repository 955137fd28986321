"""Beat windows + RR features, and EEG sliding windows (the cross-team API)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from cardioliquid.errors import RecordingError
from cardioliquid.signal.config import BeatPreprocessing, WindowPreprocessing
from cardioliquid.signal.montage import CHBMIT_BIPOLAR
from cardioliquid.signal.resample import resample_recording
from cardioliquid.signal.windows import (
    RR_FEATURE_NAMES,
    beat_windows,
    eeg_windows,
    n_beat_features,
    prepare_lead,
    rr_features,
)

PREP = BeatPreprocessing()


def test_beat_windows_shapes_and_labels(ecg):
    w = beat_windows(ecg, PREP)
    n = len(ecg.beats)
    assert w.x.shape == (n, 1, PREP.n_times) and w.x.dtype == np.float32
    assert w.features.shape == (n, n_beat_features(PREP)) == (n, len(RR_FEATURE_NAMES))
    np.testing.assert_array_equal(w.sample, ecg.beats.sample)
    assert w.sample.dtype == np.int64 and w.labels.dtype == np.int64
    np.testing.assert_array_equal(w.labels, np.where(ecg.beats.aami == "S", 1, 0))
    pre = round(PREP.pre_s * PREP.fs)
    assert np.all(np.abs(np.argmax(w.x[:, 0], axis=1) - pre) <= 1)  # R peak at the centre mark
    assert w.lead == "MLII" and not w.detected


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


def test_gain_and_rate_do_not_change_the_inputs(ecg):
    ref = beat_windows(ecg, PREP)
    louder = beat_windows(replace(ecg, signal=ecg.signal * 7.5), PREP)
    np.testing.assert_allclose(louder.x, ref.x, atol=1e-3)
    svdb_like = resample_recording(ecg, 128.0)
    other = beat_windows(svdb_like, PREP)
    assert other.x.shape == ref.x.shape
    corr = np.corrcoef(other.x[:, 0].ravel(), ref.x[:, 0].ravel())[0, 1]
    assert corr > 0.95
    np.testing.assert_allclose(other.features[:, :4], ref.features[:, :4], atol=2 / 128)
    np.testing.assert_allclose(other.sample / 128, ref.sample / ecg.fs, atol=1 / 128)


def test_given_beats_and_detected_beats(ecg):
    given = beat_windows(ecg, PREP, beat_samples=ecg.beats.sample[::2])
    assert np.all(given.labels == -1) and len(given) == len(ecg.beats.sample[::2])
    detected = beat_windows(replace(ecg, beats=None), PREP)
    assert detected.detected and np.all(detected.labels == -1)
    dist = np.abs(detected.sample[:, None] - ecg.beats.sample[None, :]).min(axis=1)
    assert np.mean(dist <= 0.05 * ecg.fs) > 0.95
    assert abs(len(detected) - len(ecg.beats)) <= 2


def test_edge_beats_get_padded_windows(ecg):
    beats = np.array([3, ecg.n_samples - 2])
    w = beat_windows(ecg, PREP, beat_samples=beats)
    assert w.x.shape == (2, 1, PREP.n_times) and np.all(np.isfinite(w.x))
    _, x, _ = prepare_lead(ecg, PREP)
    pre, post = round(PREP.pre_s * PREP.fs), round(PREP.post_s * PREP.fs)
    for k, s in enumerate(beats):
        c = int(np.floor(s * PREP.fs / ecg.fs + 0.5))  # the R peak at the model's rate
        idx = np.arange(c - pre, c + post)  # [R - pre_s, R + post_s)
        inside = (idx >= 0) & (idx < x.size)
        assert (~inside).any()  # the window runs past the record's edge...
        np.testing.assert_array_equal(w.x[k, 0, ~inside], 0.0)  # ...there it is zeros
        np.testing.assert_array_equal(w.x[k, 0, inside], x[idx[inside]])  # else the lead


def test_without_rr_features(ecg):
    prep = BeatPreprocessing(rr_features=False)
    assert n_beat_features(prep) == 0 and beat_windows(ecg, prep).features.shape[1] == 0


def test_eeg_windows_shapes_and_seizure_labels(eeg_maker):
    rec = eeg_maker(CHBMIT_BIPOLAR, duration_s=30, seizures=[(10.0, 20.0)])
    prep = WindowPreprocessing(channels=list(CHBMIT_BIPOLAR), window_s=2.0, hop_s=1.0)
    w = eeg_windows(rec, prep)
    assert w.x.shape == (29, 18, 256) and w.x.dtype == np.float32
    np.testing.assert_allclose(w.start_s, np.arange(29.0))
    # window [s, s+2) overlaps [10, 20) by >= 50% for s in 9..19
    np.testing.assert_array_equal(np.flatnonzero(w.labels), np.arange(9, 20))
    assert w.channel_names == list(CHBMIT_BIPOLAR)


def test_eeg_windows_from_a_referential_recording(eeg_maker):
    electrodes = ["FP1", "F7", "T7", "P7", "O1", "F3", "C3", "P3", "FP2", "F4", "C4", "P4", "O2",
                  "F8", "T8", "P8", "FZ", "CZ", "PZ"]
    rec = eeg_maker([f"{e}-REF" for e in electrodes], fs=500.0, duration_s=10, seizures=[])
    prep = WindowPreprocessing(channels=list(CHBMIT_BIPOLAR))
    w = eeg_windows(rec, prep)
    assert w.x.shape == (9, 18, 256) and not w.labels.any()
    # The same windows as from the bipolar pairs built by hand (A-REF minus B-REF).
    row = {e: i for i, e in enumerate(electrodes)}
    pairs = [pair.split("-") for pair in CHBMIT_BIPOLAR]
    bipolar = replace(rec, signal=np.stack([rec.signal[row[a]] - rec.signal[row[b]]
                                            for a, b in pairs]),
                      channel_names=list(CHBMIT_BIPOLAR))
    by_hand = eeg_windows(bipolar, prep)
    np.testing.assert_array_equal(w.start_s, by_hand.start_s)
    np.testing.assert_allclose(w.x, by_hand.x, rtol=0, atol=1e-6)


def test_eeg_normalisations(eeg_maker):
    rec = eeg_maker(["EEG"], duration_s=10)
    fixed = eeg_windows(rec, WindowPreprocessing(normalization="fixed", scale_uv=100.0))
    robust = eeg_windows(rec, WindowPreprocessing(normalization="window-robust"))
    assert 0.1 < fixed.x.std() < 0.5  # 30 µV noise, band-limited, over 100 µV
    np.testing.assert_allclose(np.median(robust.x, axis=-1), 0, atol=1e-5)
    assert robust.x.shape == fixed.x.shape == (9, 1, 256)


def test_eeg_too_short(eeg_maker):
    with pytest.raises(RecordingError, match="recording too short"):
        eeg_windows(eeg_maker(["EEG"], duration_s=1.0), WindowPreprocessing())


@pytest.mark.realdata
def test_mitdb_windows_for_swapped_and_v5_records(mitdb_dir):
    from cardioliquid.io import load_ecg

    for name, lead in (("114", "MLII"), ("104", "V5"), ("208", "MLII")):
        rec = load_ecg(mitdb_dir / name)
        w = beat_windows(rec, PREP)
        assert w.lead == lead and len(w) == len(rec.beats)
        counts = np.bincount(w.labels, minlength=5)
        assert dict(zip(PREP.classes, counts.tolist(), strict=True)) == rec.beats.counts()
        assert np.isfinite(w.x).all() and np.isfinite(w.features).all()


@pytest.mark.realdata
def test_chbmit_excerpts_window_into_the_18_channel_montage(shared_data):
    from cardioliquid.io import load_eeg

    prep = WindowPreprocessing(channels=list(CHBMIT_BIPOLAR))
    for path in sorted((shared_data / "eeg" / "chbmit_edf").glob("*.edf")):
        w = eeg_windows(load_eeg(path), prep)  # chb03_35 has a dead FP2 for 6 s: tolerated
        assert w.x.shape[1:] == (18, prep.n_times) and np.isfinite(w.x).all()
        if path.stem.endswith("_ictal"):
            assert w.labels.all()
        elif path.stem.endswith(("_preictal", "_postictal")):
            assert not w.labels.any()
        else:  # onset files: 10 s background, then seizure to the end
            assert not w.labels[w.start_s + 2 <= 9].any() and w.labels[w.start_s >= 10].all()


def test_relative_rr_features_are_scale_free():
    """The "relative" set is 5 ratios that do not change when the heart rate doubles."""
    from cardioliquid.signal.windows import relative_rr_features, rr_feature_names

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


def test_template_features_single_out_the_odd_beat():
    """Beats like the record's median beat score corr ~1, diff ~0, amp ~1; a wide one does not."""
    from cardioliquid.signal.windows import TEMPLATE_FEATURE_NAMES, template_features

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


def test_rhythm_rr_features_tell_irregular_rhythm_from_a_premature_beat(ecg):
    from cardioliquid.signal.windows import RHYTHM_RR_FEATURE_NAMES, rr_irregularity

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


def test_template_subtract_leaves_the_departure_from_the_median_beat(ecg):
    raw = beat_windows(ecg, PREP)
    rel = beat_windows(ecg, BeatPreprocessing(template_subtract=True))
    np.testing.assert_allclose(rel.x, raw.x - np.median(raw.x, axis=0, keepdims=True),
                               atol=1e-6)
    np.testing.assert_array_equal(rel.features, raw.features)
    assert rel.x.shape == raw.x.shape and rel.x.dtype == np.float32
    # Typical beats almost vanish; the odd ones (the synthetic record's S beats) stand out.
    energy = np.abs(rel.x[:, 0]).mean(axis=1)
    assert np.median(energy) < 0.5 * np.abs(raw.x[:, 0]).mean()


def test_robust_rr_features_see_a_premature_beat_after_a_pause(ecg):
    from cardioliquid.signal.windows import (
        ROBUST_RR_FEATURE_NAMES,
        robust_rr_features,
        rr_features,
    )

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
    from cardioliquid.signal.windows import (
        ROBUST_ABSOLUTE_RR_FEATURE_NAMES,
        robust_rr_features,
    )

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


def test_p_wave_template_features_see_an_ectopic_p_wave():
    from cardioliquid.signal.windows import (
        TEMPLATE_P_WAVE_S,
        beat_feature_names,
        template_features,
    )

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
    from cardioliquid.signal.windows import template_features

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


def test_usable_beats_leave_out_the_gap_and_the_intervals_across_it() -> None:
    from cardioliquid.signal.windows import usable_beats

    fs = 100.0
    prep = BeatPreprocessing(pre_s=0.2, post_s=0.3)
    samples = np.arange(50, 1000, 100)  # beats at 0.5, 1.5, ... 9.5 s
    bad = np.zeros(1000, dtype=bool)
    bad[400:420] = True  # between the beats at 350 and 450, outside both windows
    ok = usable_beats(samples, bad, fs, prep)
    # 350 and 450 are joined by an interval that crosses the gap: rhythm unknown.
    assert ok.tolist() == [True, True, True, False, False, True, True, True, True, True]
    bad[:] = False
    bad[630:640] = True  # inside the window of the beat at 650 (pre 20 samples)
    assert usable_beats(samples, bad, fs, prep).tolist() == [
        True, True, True, True, True, False, False, True, True, True]
    assert usable_beats(samples, np.zeros(1000, bool), fs, prep).all()


def test_eeg_gap_windows_are_unusable_and_dead_electrodes_are_not_a_gap(eeg_maker):
    prep = WindowPreprocessing(channels=list(CHBMIT_BIPOLAR), window_s=2.0, hop_s=1.0)
    rec = eeg_maker(CHBMIT_BIPOLAR, duration_s=30, seizures=[(10.0, 20.0)])
    fs = int(rec.fs)
    rec.signal[:, 12 * fs: 15 * fs] = 0.0  # every channel flat for 3 s: a recorder pause
    rec.signal[:3, 20 * fs: 21 * fs] = np.nan  # three channels lose a second: not a gap
    rec.signal[5, :] = 7.0  # one dead electrode for the whole record: not a gap
    w = eeg_windows(rec, prep)
    assert np.isfinite(w.x).all()
    # Windows [s, s + 2) touching [12, 15) s: s = 11 .. 14.
    np.testing.assert_array_equal(np.flatnonzero(~w.usable), np.arange(11, 15))
    assert (w.labels[~w.usable] == -1).all()
    np.testing.assert_array_equal(np.flatnonzero(w.labels == 1), [9, 10, 15, 16, 17, 18, 19])
    # A single channel has a gap wherever it has one.
    one = eeg_maker(["EEG"], duration_s=10)
    one.signal[0, 4 * fs: 4 * fs + 10] = np.nan
    assert np.flatnonzero(~eeg_windows(one, WindowPreprocessing()).usable).size > 0


def test_eeg_without_any_usable_window(eeg_maker):
    rec = eeg_maker(["EEG"], duration_s=10)
    rec.signal[:] = np.nan
    with pytest.raises(RecordingError, match="no usable window"):
        eeg_windows(rec, WindowPreprocessing())
    empty = eeg_windows(rec, WindowPreprocessing(), require_signal=False)
    assert len(empty) and not empty.usable.any()


@pytest.mark.parametrize("base", ["robust", "robust_absolute"])
def test_irregularity_sets_append_the_causal_rhythm_statistics(ecg, base):
    from cardioliquid.signal.rhythm import causal_rhythm_statistics
    from cardioliquid.signal.windows import IRREGULARITY_FEATURE_NAMES, rr_feature_names

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
    from cardioliquid.signal.windows import record_reference_features, robust_rr_features

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
    from cardioliquid.signal.windows import record_reference_features, rr_feature_names
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
    from cardioliquid.signal.windows import ahead_rr_features, rr_feature_names

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
    from cardioliquid.signal.windows import rr_feature_names

    plain = BeatPreprocessing(rr_feature_set="robust_absolute")
    local = BeatPreprocessing(rr_feature_set="robust_absolute_local")
    names, full = rr_feature_names(local), rr_feature_names(plain)
    assert names == tuple(n for n in full if n not in ("pre_over_record_median",
                                                       "local_median_over_record_median"))
    assert names.index("pre_rr_s") == 4
    w, w0 = beat_windows(ecg, local), beat_windows(ecg, plain)
    np.testing.assert_array_equal(w.features, w0.features[:, [full.index(n) for n in names]])


def test_onset_features_keep_a_paroxysm_premature_and_gradual_speeding_not():
    from cardioliquid.signal.windows import onset_rr_features, rr_feature_names

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
