"""Kept R-peak detectors (wfdb XQRS / gqrs) on synthetic and real ECG."""

from __future__ import annotations

import numpy as np
import pytest

from cardioliquid.signal.rpeaks import detect_r_peaks


@pytest.mark.parametrize("method", ["xqrs", "gqrs"])
def test_detects_synthetic_beats(ecg, method):
    lead = ecg.signal[0]
    peaks = detect_r_peaks(lead, ecg.fs, method=method)
    truth = ecg.beats.sample
    dist = np.abs(peaks[:, None] - truth[None, :]).min(axis=1)
    assert np.mean(dist <= 0.05 * ecg.fs) > 0.95  # detections sit on R peaks
    assert abs(len(peaks) - len(truth)) <= 0.05 * len(truth)


def test_short_signal_gives_no_peaks():
    assert detect_r_peaks(np.zeros(100), 360.0).size == 0


def test_unknown_method():
    with pytest.raises(ValueError, match="'method'"):
        detect_r_peaks(np.zeros(1000), 360.0, method="pan-tompkins")


@pytest.mark.realdata
def test_xqrs_on_mitdb_100_five_minutes(mitdb_dir):
    import wfdb
    from wfdb.processing import compare_annotations

    rec = wfdb.rdrecord(str(mitdb_dir / "100"), channels=[0], sampto=108000)
    ann = wfdb.rdann(str(mitdb_dir / "100"), "atr", sampto=108000)
    peaks = detect_r_peaks(rec.p_signal[:, 0], 360.0)
    from cardioliquid.io.labels import is_beat

    truth = np.array([s for s, sym in zip(ann.sample, ann.symbol, strict=True) if is_beat(sym)])
    cmp = compare_annotations(truth, peaks, int(0.15 * 360))
    assert cmp.sensitivity > 0.99 and cmp.positive_predictivity > 0.99


def test_fast_local_peaks_equal_wfdb_on_random_signals():
    from wfdb.processing.peaks import find_local_peaks as wfdb_find_local_peaks

    from cardioliquid.signal.rpeaks import find_local_peaks

    rng = np.random.default_rng(0)
    for trial in range(200):
        radius = int(rng.integers(1, 25))
        n = int(rng.integers(radius + 2, 400))
        # integer-valued signals make plateaus and ties, the tricky case
        x = rng.integers(0, 5, n).astype(float) if trial % 2 else rng.standard_normal(n)
        np.testing.assert_array_equal(find_local_peaks(x, radius),
                                      wfdb_find_local_peaks(x, radius))


def test_xqrs_is_unchanged_by_the_fast_peak_search(ecg):
    from wfdb import processing

    sig = ecg.signal[0].astype(np.float64)
    plain = processing.XQRS(sig=sig, fs=ecg.fs)
    plain.detect(verbose=False)
    ours = detect_r_peaks(sig, ecg.fs, refine_s=0)
    np.testing.assert_array_equal(ours, np.unique(plain.qrs_inds))
