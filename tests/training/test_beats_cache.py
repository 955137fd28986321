"""The beat cache: reused for the same preprocessing and code version, never across versions."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

import cardioliquid.io
from cardioliquid.signal.config import BeatPreprocessing
from cardioliquid.training import beats


def _synthetic_ecg():
    spec = importlib.util.spec_from_file_location("adapt_tests",
                                                  Path(__file__).with_name("test_adapt.py"))
    helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helpers)
    return helpers.synthetic_ecg(np.random.default_rng(0), minutes=1.0)


def test_cache_is_reused_and_keyed_by_the_code_version(tmp_path, monkeypatch):
    rec = _synthetic_ecg()
    loads = []
    monkeypatch.setattr(cardioliquid.io, "load_recording",
                        lambda path: loads.append(path) or rec)
    prep = BeatPreprocessing()
    first = beats.record_beats(tmp_path / "db" / "r1", prep, tmp_path / "cache")
    again = beats.record_beats(tmp_path / "db" / "r1", prep, tmp_path / "cache")
    assert len(loads) == 1  # the second call read the cache
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    key = beats.prep_key(prep.to_dict())
    assert (tmp_path / "cache" / "beats" / key / "db_r1.npz").is_file()
    # The AF gate acts after the model: the same windows, the same cache entry.
    assert beats.prep_key(BeatPreprocessing(af_gate=True).to_dict()) == key
    # New code that computes different features under the same preprocessing dict
    # bumps the version: the old cache entry is not reused.
    monkeypatch.setattr(beats, "BEAT_CACHE_VERSION", beats.BEAT_CACHE_VERSION + 1)
    assert beats.prep_key(prep.to_dict()) != key
    beats.record_beats(tmp_path / "db" / "r1", prep, tmp_path / "cache")
    assert len(loads) == 2
