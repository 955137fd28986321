"""Bad input never passes silently: annotations, headers, EDF sizes, record names, pulls."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from cardioliquid.errors import RecordingError
from cardioliquid.io import load_ecg, load_recording
from cardioliquid.io.channels import channel_kind
from cardioliquid.io.eeg import check_edf_size
from cardioliquid.io.pull import pull


def raw_atr(path: Path, samples, codes) -> Path:
    """A WFDB annotation file written word by word (wrann refuses what these tests need).

    Each annotation is a little-endian word (code << 10 | interval); an interval
    outside 0..1023 goes in a SKIP word and a 32-bit PDP-11 long before it.
    """
    out, prev = bytearray(), 0
    for s, c in zip(samples, codes, strict=True):
        d, prev = int(s) - prev, int(s)
        if 0 <= d < 1024:
            out += struct.pack("<H", (c << 10) | d)
        else:
            v = d & 0xFFFFFFFF
            out += struct.pack("<HHHH", 59 << 10, v >> 16, v & 0xFFFF, c << 10)
    path.write_bytes(bytes(out + b"\x00\x00"))
    return path


# --------------------------------------------------------------------------- annotations
def test_randomised_annotation_bytes_are_an_error_naming_the_file(wfdb_record):
    base, _ = wfdb_record
    atr = base.with_suffix(".atr")
    data = bytearray(atr.read_bytes())
    rng = np.random.default_rng(1)
    data[20:] = rng.integers(0, 256, len(data) - 20, dtype=np.uint8).tobytes()
    atr.write_bytes(bytes(data))
    with pytest.raises(RecordingError, match=r"rec\.atr: corrupt annotation file"):
        load_ecg(base)


def test_beats_outside_the_signal(wfdb_record):
    base, peaks = wfdb_record
    raw_atr(base.with_suffix(".atr"), [*peaks[:5], 20 * 360 + 5000], [1] * 6)
    with pytest.raises(RecordingError, match=r"rec\.atr: .*within the signal.*1 outside"):
        load_ecg(base)


def test_non_increasing_samples(wfdb_record):
    base, peaks = wfdb_record
    samples = list(peaks[:10])
    samples[6] = samples[2]  # jumps back
    raw_atr(base.with_suffix(".atr"), samples, [1] * 10)
    with pytest.raises(RecordingError, match=r"rec\.atr: .*expected increasing annotation"):
        load_ecg(base)


def test_unknown_codes_beyond_a_small_fraction(wfdb_record):
    base, peaks = wfdb_record
    codes = [1] * len(peaks)
    codes[::5] = [17] * len(codes[::5])  # 17: no WFDB code
    raw_atr(base.with_suffix(".atr"), peaks, codes)
    with pytest.raises(RecordingError, match=r"rec\.atr: .*unknown \(more than 1%\)"):
        load_ecg(base)


def test_missing_and_empty_annotation_files_are_said_in_meta(wfdb_record):
    base, _ = wfdb_record
    atr = base.with_suffix(".atr")
    atr.write_bytes(b"")
    rec = load_ecg(base)
    assert rec.beats is None
    assert rec.meta["reference_annotations"] == {"file": "rec.atr", "state": "empty"}
    atr.unlink()
    assert load_ecg(base).meta["reference_annotations"]["state"] == "missing"


# --------------------------------------------------------------------------- headers
def test_header_claiming_more_channels_than_signal_lines(wfdb_record, header_field):
    base, _ = wfdb_record
    header_field(base, 0, 1, "5")
    with pytest.raises(RecordingError, match=r"rec\.hea: .*expected 5 signal lines.*got 2"):
        load_ecg(base)


def test_non_ascii_record_name_is_refused_under_its_own_name(tmp_path, wfdb_writer):
    wfdb_writer(tmp_path, name="rec")
    for f in tmp_path.glob("rec.*"):
        f.rename(tmp_path / f.name.replace("rec", "réc"))
    with pytest.raises(RecordingError, match=r"réc\.hea: WFDB record name: expected ASCII"):
        load_recording(tmp_path / "réc.hea")


# --------------------------------------------------------------------------- EDF
def _edf(tmp_path: Path, edf_writer, seconds: int = 10) -> Path:
    rng = np.random.default_rng(0)
    x = 30 * rng.standard_normal((2, 256 * seconds))
    return edf_writer(tmp_path / "eeg.edf", x, 256, ["FP1-F7", "F7-T7"])


def test_truncated_edf_is_refused_not_scored_short(tmp_path, edf_writer):
    path = _edf(tmp_path, edf_writer)
    path.write_bytes(path.read_bytes()[: int(path.stat().st_size * 0.8)])
    with pytest.raises(RecordingError, match=r"eeg\.edf: truncated EDF file: expected \d+ "
                                             r"bytes \(1024 header \+ 10 records"):
        load_recording(path)


def test_whole_edf_passes_the_size_check(tmp_path, edf_writer):
    path = _edf(tmp_path, edf_writer)
    check_edf_size(path)
    assert load_recording(path).duration_s == pytest.approx(10.0)


def test_bad_header_bytes_field_gives_the_reason(tmp_path, edf_writer):
    path = _edf(tmp_path, edf_writer)
    data = bytearray(path.read_bytes())
    data[184:192] = b"999     "
    path.write_bytes(bytes(data))
    with pytest.raises(RecordingError, match=r"header size of 256 x \(1 \+ 3 signals\) = 1024 "
                                             r"bytes, got 999"):
        load_recording(path)
    data[184:192] = b"abc     "
    path.write_bytes(bytes(data))
    with pytest.raises(RecordingError, match=r"expected an integer header size.*'abc'"):
        load_recording(path)


def test_reader_errors_without_a_message_still_say_where(tmp_path, monkeypatch, edf_writer):
    import mne

    path = _edf(tmp_path, edf_writer)

    def failing(*a, **k):
        raise AssertionError

    monkeypatch.setattr(mne.io, "read_raw", failing)
    with pytest.raises(RecordingError, match=r"got AssertionError in test_reliability\.py:\d+"):
        load_recording(path)


def test_channel_kinds_from_names():
    assert [channel_kind(n) for n in ["MLII", "V1", "ECG", "EKG1-EKG2", "ECG2"]] == ["ecg"] * 5
    assert [channel_kind(n) for n in ["FP1-F7", "T8-P8-0", "EEG C3-M2", "Cz", "EEG"]] == [
        "eeg"
    ] * 5
    assert [channel_kind(n) for n in ["EMG", "Resp", "ch1", "-"]] == ["unknown"] * 4


# --------------------------------------------------------------------------- pull
def test_mirror_records_leaving_dest_are_refused(tmp_path, wfdb_writer):
    mirror = tmp_path / "mirror"
    db = mirror / "mitdb"
    db.mkdir(parents=True)
    wfdb_writer(db, name="100", duration_s=8)
    escape = tmp_path / "escape_src"
    escape.mkdir()
    for f in db.glob("100.*"):
        shutil.copy(f, escape / f.name.replace("100", "evil"))
    (db / "RECORDS").write_text("100\n../../escape_src/evil\n")
    dest = tmp_path / "sub" / "dest"
    with pytest.raises(RecordingError, match=r"unsafe file name in the record list: expected "
                                             r"a path inside .*got '\.\./\.\./escape_src/evil"):
        pull("mitdb", dest, None, mirror=str(mirror))
    written = [p for p in tmp_path.rglob("*") if p.is_file() and dest not in p.parents]
    assert not [p for p in written if "sub" in p.parts]  # nothing landed beside dest
    assert not (dest / "mitdb" / "100.hea").exists()  # refused before the first file
    with pytest.raises(RecordingError, match="unsafe file name"):
        pull("mitdb", dest, ["/etc/passwd"], mirror=str(mirror))


def test_edf_record_count_below_the_data_is_refused(tmp_path, edf_writer):
    path = _edf(tmp_path, edf_writer)
    data = bytearray(path.read_bytes())
    data[236:244] = b"7       "  # the file holds 10 records
    path.write_bytes(bytes(data))
    with pytest.raises(RecordingError, match=r"expected 7 data records .* got \d+ bytes "
                                             r"\(10 records\)"):
        load_recording(path)


def test_evaluate_records_list_leaving_the_data_folder_is_refused(tmp_path):
    from cardioliquid.evaluation.records import folder_records

    (tmp_path / "RECORDS").write_text("100\n../../etc/evil\n")
    with pytest.raises(RecordingError, match=r"unsafe file name .*got '\.\./\.\./etc/evil'"):
        folder_records(tmp_path)
    (tmp_path / "RECORDS").write_text("100\np01/200\n")
    assert folder_records(tmp_path) == ["100", "p01/200"]
