"""Torch datasets over the window cache: beat and EEG windows with record and patient ids."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from cardioliquid.data import records
from cardioliquid.data.datasets import BeatDataset, EEGWindowDataset
from cardioliquid.errors import RecordingError
from cardioliquid.signal.config import BeatPreprocessing, WindowPreprocessing


def test_beat_dataset_items_and_ids(ecg_records, tmp_path):
    prep = BeatPreprocessing()
    ds = BeatDataset(ecg_records, prep, cache_dir=tmp_path / "cache")
    n_a = int((ds.record_ids == "rA").sum())
    assert len(ds) == n_a + int((ds.record_ids == "rB").sum()) and n_a == 26
    x, feats, label = ds[0]
    assert x.shape == (1, prep.n_times) and x.dtype == torch.float32
    assert feats.shape == (7,) and label.dtype == torch.long
    assert int(label) == 2  # the first beat is a V
    assert set(ds.patient_ids) == {"rA", "rB"}
    np.testing.assert_array_equal(ds.indices_of_patients(["rB"]), np.arange(n_a, len(ds)))


def test_cache_is_used_and_invalidated(ecg_records, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    prep = BeatPreprocessing()
    first = BeatDataset(ecg_records, prep, cache_dir=cache)
    assert len(list(cache.glob("*.npz"))) == 2

    def boom(*a, **k):
        raise AssertionError("windows recomputed despite a valid cache")

    monkeypatch.setattr(records, "beat_windows", boom)
    again = BeatDataset(ecg_records, prep, cache_dir=cache)
    np.testing.assert_array_equal(again.arrays["x"], first.arrays["x"])
    assert list(again.record_ids) == list(first.record_ids)

    dat = ecg_records[0].with_suffix(".dat")
    st = dat.stat()
    os.utime(dat, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # the record changed
    with pytest.raises(AssertionError, match="recomputed"):
        BeatDataset(ecg_records, prep, cache_dir=cache)
    with pytest.raises(AssertionError, match="recomputed"):
        BeatDataset(ecg_records[1:], BeatPreprocessing(pre_s=0.3), cache_dir=cache)


def test_bad_records_raise_or_are_skipped(ecg_records, tmp_path):
    missing = tmp_path / "db" / "nothere"
    with pytest.raises(RecordingError, match="not found"):
        BeatDataset([*ecg_records, missing], BeatPreprocessing(), cache_dir=None)
    ds = BeatDataset([*ecg_records, missing], BeatPreprocessing(), cache_dir=None,
                     on_error="skip")
    assert list(ds.skipped) == [str(missing)] and set(ds.record_ids) == {"rA", "rB"}


def test_eeg_dataset_from_bonn_files(bonn_files, tmp_path):
    prep = WindowPreprocessing(window_s=2.0, hop_s=2.0)
    ds = EEGWindowDataset(bonn_files, prep, cache_dir=tmp_path / "cache")
    assert len(ds) == 22 and len(list((tmp_path / "cache").glob("*.npz"))) == 2
    x, label = ds[0]
    assert x.shape == (1, 256) and label.dtype == torch.long
    np.testing.assert_array_equal(ds.labels, [0] * 11 + [1] * 11)  # set E is ictal
    assert list(ds.patient_ids[[0, -1]]) == ["bonn_Z001", "bonn_S001"]
    cached = EEGWindowDataset(bonn_files, prep, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(cached.arrays["start_s"], ds.arrays["start_s"])


@pytest.mark.realdata
def test_mitdb_201_and_202_are_one_patient(mitdb_dir, tmp_path):
    ds = BeatDataset([mitdb_dir / "201", mitdb_dir / "202"], BeatPreprocessing(),
                     cache_dir=None)
    assert set(ds.patient_ids) == {"201"} and set(ds.record_ids) == {"201", "202"}
