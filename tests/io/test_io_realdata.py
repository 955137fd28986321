"""Loaders on the real recordings in the shared mirror (marked realdata)."""

from __future__ import annotations

import numpy as np
import pytest
import wfdb

from cardioliquid.data.splits import DS1, DS2
from cardioliquid.io import list_bonn, load_bonn, load_ecg, load_eeg
from cardioliquid.io.labels import AAMI_CLASSES, aami_class, is_beat
from cardioliquid.io.seizures import parse_chbmit_summary, read_events_tsv
from cardioliquid.io.wfdb import MITDB_RECORDS

pytestmark = pytest.mark.realdata


def test_all_48_mitdb_records_read(mitdb_dir):
    listed = (mitdb_dir / "RECORDS").read_text().split()
    assert sorted(listed) == sorted(MITDB_RECORDS)
    for name in listed:
        rec = load_ecg(mitdb_dir / name)
        assert rec.signal.shape == (2, 650000) and rec.fs == 360 and rec.units == "mV"
        assert rec.beats is not None and len(rec.beats) > 1000
    assert load_ecg(mitdb_dir / "202").patient_id == "201"


def _counts(mitdb_dir, records):
    """AAMI counts from the annotation files alone (no signal read: fast)."""
    counts = dict.fromkeys(AAMI_CLASSES, 0)
    for name in records:
        symbols = [s for s in wfdb.rdann(str(mitdb_dir / name), "atr").symbol if is_beat(s)]
        for c in aami_class(symbols):
            counts[str(c)] += 1
    return counts


def test_de_chazal_counts(mitdb_dir):
    assert _counts(mitdb_dir, DS1) == {"N": 45866, "S": 944, "V": 3788, "F": 415, "Q": 8}
    assert _counts(mitdb_dir, DS2) == {"N": 44259, "S": 1837, "V": 3221, "F": 388, "Q": 7}


def test_loader_counts_agree_with_annotations(mitdb_dir):
    rec = load_ecg(mitdb_dir / "208")
    assert rec.beats.counts() == _counts(mitdb_dir, ["208"])
    ann = wfdb.rdann(str(mitdb_dir / "208"), "atr")
    notes = zip(ann.sample, ann.symbol, ann.aux_note, strict=True)
    expected = [(int(t), a.strip("\x00")) for t, sym, a in notes if sym == "+"]
    assert rec.rhythms == expected and len(expected) > 1  # rhythm changes kept


def test_leads_of_102_104_114(mitdb_dir):
    assert load_ecg(mitdb_dir / "102").channel_names == ["V5", "V2"]
    assert load_ecg(mitdb_dir / "114").channel_names == ["V5", "MLII"]


def test_198_seizures_in_the_24_chbmit_summaries(shared_data):
    files = sorted((shared_data / "eeg" / "chbmit_summaries").glob("chb*-summary.txt"))
    assert len(files) == 24
    summaries = [parse_chbmit_summary(f) for f in files]
    assert sum(s.n_seizures for s in summaries) == 198
    chb12 = parse_chbmit_summary(files[11])
    assert len({tuple(c) for c in chb12.channels.values()}) > 1  # "Channels changed" blocks
    assert summaries[0].seizures["chb01_03.edf"] == [(2996.0, 3036.0)]


def test_chbmit_edf_excerpts_agree_with_events_tsv(shared_data):
    folder = shared_data / "eeg" / "chbmit_edf"
    edfs = sorted(folder.glob("*.edf"))
    assert len(edfs) == 30
    for path in [*edfs[::max(1, len(edfs) // 8)], folder / "chb01_03_onset.edf"]:
        rec = load_eeg(path)
        tsv = read_events_tsv(path.with_name(f"{path.stem}_events.tsv"))
        edf_plus = rec.meta["annotations"]
        from_edf = [(on, on + dur) for on, dur, desc in edf_plus if desc == "seizure"]
        assert len(from_edf) == len(tsv) and rec.seizures == tsv
        if tsv:
            np.testing.assert_allclose(from_edf, tsv, atol=1 / rec.fs)
        assert rec.fs == 256 and "T8-P8-1" in rec.channel_names
    onset = load_eeg(folder / "chb01_03_onset.edf")
    assert onset.seizures == [(10.0, 50.0)] and onset.patient_id == "chb01"


def test_chbmit_wfdb_seizure_annotations(shared_data):
    from cardioliquid.io.seizures import read_seizures_annotation

    edf = shared_data / "eeg" / "chbmit_bsc_project" / "chb01" / "chb01_03.edf"
    assert read_seizures_annotation(edf) == [(2996.0, 3036.0)]


def test_bonn(shared_data):
    segs = list_bonn(shared_data / "bonn")
    assert len(segs) == 500 and {s.set for s in segs} == set("ABCDE")
    stds = {}
    for letter in "ABCDE":
        recs = [load_bonn(s.path) for s in segs if s.set == letter][:5]
        assert all(r.signal.shape == (1, 4097) and r.label == letter for r in recs)
        assert all(bool(r.seizures) == (letter == "E") for r in recs)
        stds[letter] = np.mean([r.signal.std() for r in recs])
    assert stds["E"] > 2 * max(stds[k] for k in "ABCD")  # ictal set is the largest
