"""NaN, flat and clipped segment detection."""

from __future__ import annotations

import numpy as np
import pytest

from cardioliquid.errors import RecordingError
from cardioliquid.signal.quality import assess_quality, check_usable, find_bad_segments


def test_finds_each_kind():
    fs = 100.0
    x = np.sin(np.arange(3000) / 7.0)
    x[500:520] = np.nan
    x[1000:1300] = 0.25  # 3 s flat
    x[2000:2010] = 5.0  # clipped at the top rail
    segs = find_bad_segments(x, fs, "C3", min_flat_s=1.0)
    kinds = {(s.kind, round(s.start_s, 2)) for s in segs}
    assert ("nan", 5.0) in kinds and ("flat", 10.0) in kinds and ("clipped", 20.0) in kinds
    assert all(s.channel == "C3" for s in segs)


def test_clean_signal_is_ok(ecg):
    report = assess_quality(ecg)
    assert report.ok and report.bad_fraction == {"MLII": 0.0, "V1": 0.0}


def test_check_usable_refuses_flat(ecg):
    ecg.signal[1, 3600:7200] = 0.0
    check_usable(ecg, ["MLII"])  # the other lead is fine
    with pytest.raises(RecordingError, match=r"flat segment\(s\).*V1 from 10\.00 s to 20\.00 s"):
        check_usable(ecg)


def test_check_usable_refuses_nan(ecg):
    ecg.signal[0, 100] = np.nan
    with pytest.raises(RecordingError, match="NaN segment"):
        check_usable(ecg, ["MLII"])


def test_multichannel_eeg_tolerates_a_dead_electrode(eeg_maker):
    rec = eeg_maker(["FP2-F4", "F4-C4", "C4-P4", "P4-O2"], duration_s=20)
    rec.signal[0, 256 * 3: 256 * 9] = 0.2  # 6 s lead-off in one of four channels
    check_usable(rec, max_flat_fraction=0.5)
    rec.signal[1:3, 256 * 3: 256 * 9] = 0.2  # now three of four
    with pytest.raises(RecordingError, match=r"in 3 of 4 channel\(s\)"):
        check_usable(rec, max_flat_fraction=0.5)


def test_unusable_samples_are_nan_and_long_flat_runs() -> None:
    from cardioliquid.signal.quality import unusable_samples

    fs = 100.0
    x = np.sin(np.arange(2000) / 7.0)
    x[100:110] = np.nan
    x[500:800] = 0.25  # 3 s lead-off
    x[1200:1250] = 0.5  # 0.5 s flat: short, still readable
    bad = unusable_samples(x, fs, max_flat_s=2.0)
    assert bad[100:110].all() and bad[500:800].all()
    assert not bad[1200:1250].any()
    assert bad.sum() == 10 + 300
