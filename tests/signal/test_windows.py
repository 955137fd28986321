"""Beat windows and EEG sliding windows (the cross-team API); the per-beat features
are tested with their modules (test_rr.py, test_templates.py)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from cardioliquid.errors import RecordingError
from cardioliquid.signal.config import BeatPreprocessing, WindowPreprocessing
from cardioliquid.signal.montage import CHBMIT_BIPOLAR
from cardioliquid.signal.resample import resample_recording
from cardioliquid.signal.rr import RR_FEATURE_NAMES
from cardioliquid.signal.windows import beat_windows, eeg_windows, n_beat_features, prepare_lead

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
