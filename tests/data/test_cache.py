"""The one window cache: keyed by record files, preprocessing and code version; hits are exact."""

from __future__ import annotations

import os

import numpy as np
import pytest

from cardioliquid.data import cache, records
from cardioliquid.data.records import beat_arrays, record_beats, recording_windows
from cardioliquid.signal.config import BeatPreprocessing, WindowPreprocessing


def _count_loads(monkeypatch) -> list:
    loads: list = []
    real = records.load_recording
    monkeypatch.setattr(records, "load_recording", lambda p: loads.append(p) or real(p))
    return loads


def test_a_hit_returns_the_computed_arrays_exactly(ecg_records, tmp_path, monkeypatch):
    loads = _count_loads(monkeypatch)
    prep = BeatPreprocessing(rr_feature_set="robust", template_features=True)
    first = record_beats(ecg_records[0], prep, tmp_path / "cache")
    again = record_beats(ecg_records[0], prep, tmp_path / "cache")
    assert len(loads) == 1  # the second call read the cache
    for a, b in zip(first, again, strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    uncached = record_beats(ecg_records[0], prep, None)
    for a, b in zip(first, uncached, strict=True):
        np.testing.assert_array_equal(a, b)
    # Labelled beats and every beat (for beat sequences) are views of one entry.
    record_beats(ecg_records[0], prep, tmp_path / "cache", keep_unlabelled=True)
    assert len(loads) == 2 and len(list((tmp_path / "cache").glob("*.npz"))) == 1
    arrays = beat_arrays(ecg_records[0], prep, tmp_path / "cache")
    assert str(arrays["record_id"]) == "rA" and str(arrays["patient_id"]) == "rA"


def test_the_key_follows_preprocessing_files_and_code_version(ecg_records, monkeypatch):
    path, prep = ecg_records[0], BeatPreprocessing().to_dict()
    key = cache.cache_key(path, prep)
    assert cache.cache_key(path, prep) == key
    assert cache.cache_key(path, {**prep, "pre_s": 0.3}) != key
    assert cache.cache_key(ecg_records[1], prep) != key
    assert cache.cache_key(path, prep, extra={"windows": "eeg"}) != key
    # The AF gate acts after the model: the same windows, the same entry.
    assert cache.cache_key(path, BeatPreprocessing(af_gate=True).to_dict()) == key
    # New code that computes different windows under the same dict bumps the version.
    monkeypatch.setattr(cache, "CACHE_VERSION", cache.CACHE_VERSION + 1)
    assert cache.cache_key(path, prep) != key
    monkeypatch.undo()
    dat = path.with_suffix(".dat")
    st = dat.stat()
    os.utime(dat, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # the record changed
    assert cache.cache_key(path, prep) != key


def test_entries_are_written_whole_or_not_at_all(tmp_path):
    def boom() -> dict:
        raise RuntimeError("windowing failed")

    with pytest.raises(RuntimeError, match="windowing failed"):
        cache.cached_arrays(tmp_path / "rec", {}, boom, tmp_path / "cache")
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())
    arrays = {"x": np.arange(6, dtype=np.float32).reshape(2, 3)}
    out = cache.cached_arrays(tmp_path / "rec", {}, lambda: arrays, tmp_path / "cache")
    assert out is arrays
    files = list((tmp_path / "cache").iterdir())
    assert [f.suffix for f in files] == [".npz"]  # no temporary file left behind
    np.testing.assert_array_equal(cache.read_arrays(files[0])["x"], arrays["x"])
    assert cache.cached_arrays(tmp_path / "rec", {}, boom, tmp_path / "cache").keys() == {"x"}


def test_eeg_windows_go_through_the_same_cache(bonn_files, tmp_path, monkeypatch):
    loads = _count_loads(monkeypatch)
    prep = WindowPreprocessing(window_s=2.0, hop_s=2.0)
    x, y = recording_windows(bonn_files[1], prep, tmp_path / "cache")
    x2, y2 = recording_windows(bonn_files[1], prep, tmp_path / "cache")
    assert len(loads) == 1 and len(x) == 11
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, [1] * 11)  # set E is ictal
    assert y2.dtype == np.int64 and x2.dtype == np.float32
