"""EEG (MNE) and Bonn loaders, with every source of seizure truth."""

from __future__ import annotations

import numpy as np
import pytest
import wfdb

from cardioliquid.errors import RecordingError
from cardioliquid.io import list_bonn, load_bonn, load_eeg, load_recording
from cardioliquid.io.eeg import BONN_FS, eeg_patient_id

CH = ["FP1-F7", "F7-T7", "T8-P8", "T8-P8"]


@pytest.fixture
def eeg_edf(tmp_path, edf_writer):
    x = np.random.default_rng(1).standard_normal((4, 256 * 20)) * 30
    x[3] = x[2]
    path = edf_writer(tmp_path / "chb05_07.edf", x, 256, CH, [(4.0, 6.0, "seizure")])
    return path, x


def test_edf_plus_annotations_give_seizures_in_uv(eeg_edf):
    path, x = eeg_edf
    rec = load_eeg(path)
    assert rec.units == "uV" and rec.signal.dtype == np.float32 and rec.fs == 256
    assert rec.channel_names == ["FP1-F7", "F7-T7", "T8-P8-0", "T8-P8-1"]
    np.testing.assert_allclose(rec.signal, x, atol=0.01)
    assert rec.seizures == [(4.0, 10.0)] and rec.meta["seizure_source"] == "edf+"
    assert rec.patient_id == "chb05" and rec.record_id == "chb05_07"


def test_events_tsv_beside_the_file_wins(eeg_edf):
    path, _ = eeg_edf
    path.with_name("chb05_07_events.tsv").write_text(
        "onset\tduration\teventType\tconfidence\n1.5\t2\tsz_foc\tn/a\n12\t3\tbckg\tn/a\n")
    rec = load_eeg(path)
    assert rec.seizures == [(1.5, 3.5)] and rec.meta["seizure_source"] == "events.tsv"


def test_wfdb_seizures_file_beside_the_edf(eeg_edf):
    path, _ = eeg_edf
    # wrann refuses dots in record names: write chb05_07.seizures, rename as CHB-MIT names it.
    wfdb.wrann(path.stem, "seizures", np.array([512, 1024]), np.array(["[", "]"]), fs=256,
               write_dir=str(path.parent))
    path.with_name(f"{path.stem}.seizures").rename(path.with_name(f"{path.name}.seizures"))
    rec = load_eeg(path)
    assert rec.seizures == [(2.0, 4.0)] and rec.meta["seizure_source"] == "wfdb-seizures"


def test_chbmit_summary_beside_the_edf(eeg_edf):
    path, _ = eeg_edf
    path.with_name("chb05-summary.txt").write_text(
        "File Name: chb05_07.edf\nNumber of Seizures in File: 1\n"
        "Seizure 1 Start Time: 7 seconds\nSeizure 1 End Time: 9 seconds\n")
    rec = load_eeg(path)
    assert rec.seizures == [(7.0, 9.0)] and rec.meta["seizure_source"] == "chbmit-summary"


def test_seizures_argument_overrides(eeg_edf):
    rec = load_eeg(eeg_edf[0], seizures=[(1, 2)])
    assert rec.seizures == [(1.0, 2.0)]


def test_load_recording_dispatches_edf(eeg_edf):
    assert load_recording(eeg_edf[0]).modality == "eeg"


def test_patient_ids():
    assert eeg_patient_id("chb21_19.edf") == "chb01"  # same subject as chb01
    assert eeg_patient_id("sub-07_ses-01_task-szMonitoring_run-00_eeg.edf") == "sub-07"


@pytest.fixture
def bonn_root(tmp_path):
    rng = np.random.default_rng(2)
    for folder, prefix in (("A_Z", "Z"), ("E_S", "S")):
        (tmp_path / folder).mkdir()
        for i in (1, 2):
            np.savetxt(tmp_path / folder / f"{prefix}00{i}.txt",
                       (rng.standard_normal(4097) * 50).astype(int), fmt="%d")
    return tmp_path


def test_bonn_segments_are_labelled_by_set(bonn_root):
    segs = list_bonn(bonn_root)
    assert [s.set for s in segs] == ["A", "A", "E", "E"]
    ictal = load_bonn(segs[2].path)
    assert ictal.fs == BONN_FS and ictal.signal.shape == (1, 4097) and ictal.label == "E"
    assert ictal.seizures == [(0.0, pytest.approx(4097 / BONN_FS))]
    healthy = load_recording(segs[0].path)
    assert healthy.label == "A" and healthy.seizures == []


def test_bonn_root_without_sets_raises(tmp_path):
    with pytest.raises(RecordingError, match="expected folders like A_Z"):
        list_bonn(tmp_path)


def test_seizures_past_the_recordings_end_are_refused_naming_their_file(eeg_edf):
    """A 20 s file beside a summary of the full-length CHB-MIT file took its seizure at
    2996 s, outside the recording, and was graded as seizure-free."""
    path, _ = eeg_edf
    summary = path.with_name("chb05-summary.txt")
    summary.write_text("File Name: chb05_07.edf\nNumber of Seizures in File: 1\n"
                       "Seizure 1 Start Time: 2996 seconds\nSeizure 1 End Time: 3036 seconds\n")
    with pytest.raises(RecordingError, match=r"chb05-summary\.txt.*expected onsets within its "
                                             r"20 s, got \[\(2996\.0, 3036\.0\)\]"):
        load_eeg(path)
    rec = load_eeg(path, seizure_truth=False)  # the signal alone, as scoring reads it
    assert rec.seizures == [] and rec.meta["seizure_source"] is None


def test_the_seizure_truth_file_is_recorded(eeg_edf):
    path, _ = eeg_edf
    tsv = path.with_name("chb05_07_events.tsv")
    tsv.write_text("onset\tduration\teventType\n1.5\t2\tsz\n")
    assert load_eeg(path).meta["seizure_file"] == str(tsv)
    assert load_eeg(path, seizures=[]).meta["seizure_file"] is None  # given, not read
