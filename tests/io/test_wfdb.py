"""WFDB ECG loader on synthetic records written with wfdb.wrsamp / wrann."""

from __future__ import annotations

import numpy as np
import wfdb

from cardioliquid.io import load_ecg
from cardioliquid.io.wfdb import mitdb_patient, record_base


def test_load_ecg_units_shape_and_channels(wfdb_record):
    base, _ = wfdb_record
    rec = load_ecg(base)
    ref = wfdb.rdrecord(str(base))
    assert rec.signal.dtype == np.float32
    assert rec.signal.shape == (2, ref.sig_len)
    assert rec.channel_names == ["MLII", "V1"]
    assert rec.units == "mV" and rec.modality == "ecg" and rec.fs == 360.0
    np.testing.assert_allclose(rec.signal, ref.p_signal.T, atol=1e-5)


def test_beats_keep_symbol_and_aami_and_exclude_non_beats(wfdb_record):
    base, peaks = wfdb_record
    rec = load_ecg(base)
    np.testing.assert_array_equal(rec.beats.sample, peaks)
    assert "+" not in rec.beats.symbol and "~" not in rec.beats.symbol
    assert (rec.beats.symbol[3], rec.beats.aami[3]) == ("V", "V")
    assert (rec.beats.symbol[5], rec.beats.aami[5]) == ("A", "S")
    assert rec.beats.counts() == {"N": len(peaks) - 2, "S": 1, "V": 1, "F": 0, "Q": 0}
    assert rec.rhythms == [(1, "(N")]


def test_path_forms_are_equivalent(wfdb_record):
    base, _ = wfdb_record
    a, b = load_ecg(base), load_ecg(f"{base}.hea")
    np.testing.assert_array_equal(a.signal, b.signal)
    assert record_base(f"{base}.dat") == base


def test_missing_annotations_mean_no_beats(tmp_path, wfdb_writer):
    base, _ = wfdb_writer(tmp_path, annotate=False)
    rec = load_ecg(base)
    assert rec.beats is None and rec.rhythms == []


def test_mitdb_202_is_patient_201():
    assert mitdb_patient("202") == "201"
    assert mitdb_patient("100") == "100"
