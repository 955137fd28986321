"""Bad input: RecordingError naming the file and the problem, or (signal gaps) handled."""

from __future__ import annotations

import numpy as np
import pytest
import wfdb

from cardioliquid.errors import RecordingError
from cardioliquid.io import load_ecg, load_recording
from cardioliquid.io._validate import check_loadable
from cardioliquid.io.recording import Recording
from cardioliquid.signal.config import BeatPreprocessing, WindowPreprocessing
from cardioliquid.signal.montage import CHBMIT_BIPOLAR
from cardioliquid.signal.windows import beat_windows, eeg_windows


def test_missing_dat(wfdb_record):
    base, _ = wfdb_record
    base.with_suffix(".dat").unlink()
    with pytest.raises(RecordingError, match=r"rec\.dat.*missing WFDB signal file"):
        load_recording(f"{base}.hea")


def test_truncated_signal_file(wfdb_record):
    base, _ = wfdb_record
    dat = base.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes()[: dat.stat().st_size // 2])
    with pytest.raises(RecordingError, match=r"truncated WFDB signal file: expected \d+ bytes"):
        load_ecg(base)


def test_corrupt_header(wfdb_record):
    base, _ = wfdb_record
    base.with_suffix(".hea").write_text("this is not a header\n\x00\x01 garbage 1 2\n")
    with pytest.raises(RecordingError, match=r"rec\.hea: corrupt WFDB header"):
        load_ecg(base)


@pytest.mark.parametrize(("field", "value", "message"), [
    (2, "-360", r"rec\.hea: corrupt WFDB header: expected a positive sampling rate .*'-360'"),
    (3, "65x000", r"rec\.hea: corrupt WFDB header: expected the number of samples .*'65x000'"),
])  # fmt: skip
def test_a_record_line_field_wfdb_would_misread(wfdb_record, header_field, field, value,
                                                 message):
    """wfdb reads "-360" as its 250 Hz default and "65x000" as 65 samples; the scores then
    changed silently, or the fault was blamed on the annotations."""
    base, _ = wfdb_record
    header_field(base, 0, field, value)
    with pytest.raises(RecordingError, match=message):
        load_ecg(base)


def test_an_unsupported_signal_format_names_the_header(wfdb_record, header_field):
    base, _ = wfdb_record
    header_field(base, 1, 1, "999")
    with pytest.raises(RecordingError, match=r"rec\.hea: unsupported WFDB signal format 999"):
        load_ecg(base)


def test_unknown_format(tmp_path):
    path = tmp_path / "trace.xyz"
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(RecordingError, match=r"trace\.xyz: unknown format: expected WFDB"):
        load_recording(path)


def test_unreadable_edf(tmp_path):
    path = tmp_path / "broken.edf"
    path.write_bytes(b"0       not an edf header")
    with pytest.raises(RecordingError, match=r"broken\.edf: truncated EDF file: expected a 256"):
        load_recording(path)


def test_edf_without_the_montage_channels(tmp_path, edf_writer):
    x = np.random.default_rng(0).standard_normal((2, 256 * 8)) * 20
    path = edf_writer(tmp_path / "few.edf", x, 256, ["FP1-F7", "F7-T7"])
    rec = load_recording(path)
    prep = WindowPreprocessing(channels=list(CHBMIT_BIPOLAR))
    with pytest.raises(RecordingError, match=r"few\.edf: missing EEG channels.*'T7-P7'"):
        eeg_windows(rec, prep)


def test_nan_segment_loads_and_its_beats_are_unusable(tmp_path, wfdb_writer):
    # WFDB stores a dropout as invalid samples; the record loads with NaN there.
    base, _ = wfdb_writer(tmp_path, duration_s=20, fmt="16")
    sig = wfdb.rdrecord(str(base)).p_signal
    sig[1800:2700, 0] = np.nan  # 2.5 s dropout in MLII, from 5 s
    wfdb.wrsamp("rec", fs=360, units=["mV", "mV"], sig_name=["MLII", "V1"], p_signal=sig,
                fmt=["16", "16"], write_dir=str(tmp_path))
    rec = load_ecg(base)
    assert np.isnan(rec.signal[0, 1800:2700]).all() and np.isfinite(rec.signal[1]).all()
    bw = beat_windows(rec, BeatPreprocessing())
    assert np.isfinite(bw.x).all() and np.isfinite(bw.features).all()
    prep = BeatPreprocessing()
    near = (bw.sample + prep.post_s * 360 >= 1800) & (bw.sample - prep.pre_s * 360 < 2700)
    assert near.any() and not bw.usable[near].any()
    # A beat is unusable only near the gap: in it, or one RR interval away.
    i = np.flatnonzero(near)
    assert bw.usable[: i[0] - 1].all() and bw.usable[i[-1] + 2:].all()
    assert (bw.labels[~bw.usable] == -1).all()


def test_all_nan_record(tmp_path):
    rec = Recording(np.full((2, 3600), np.nan, dtype=np.float32), 360.0, ["MLII", "V1"], "mV",
                    "nanrec", "nanrec", "ecg", source=str(tmp_path / "nanrec"))
    with pytest.raises(RecordingError, match=r"nanrec: no signal: expected finite samples"):
        check_loadable(rec)


def test_flat_segment_is_a_gap(tmp_path, wfdb_writer):
    base, _ = wfdb_writer(tmp_path, duration_s=20)
    rec = load_ecg(base)
    rec.signal[0, 3600:5400] = rec.signal[0, 3600]  # 5 s lead-off in MLII
    bw = beat_windows(rec, BeatPreprocessing())
    inside = (bw.sample > 3600) & (bw.sample < 5400)
    assert inside.any() and not bw.usable[inside].any() and bw.usable[:3].all()
    # Detected beats: none is found inside the lead-off.
    rec.beats = None
    detected = beat_windows(rec, BeatPreprocessing())
    assert not ((detected.sample > 3700) & (detected.sample < 5300)).any()


def test_lead_without_signal(tmp_path, wfdb_writer):
    base, _ = wfdb_writer(tmp_path, duration_s=20)
    rec = load_ecg(base)
    rec.signal[0, :] = 0.0  # MLII off for the whole record (V1 still there)
    with pytest.raises(RecordingError, match=r"rec: no usable signal in lead MLII"):
        beat_windows(rec, BeatPreprocessing())


def test_all_flat_signal(tmp_path):
    wfdb.wrsamp("flat", fs=360, units=["mV"], sig_name=["MLII"], p_signal=np.zeros((3600, 1)),
                fmt=["16"], write_dir=str(tmp_path))
    with pytest.raises(RecordingError, match=r"flat signal: expected a varying signal"):
        load_ecg(tmp_path / "flat")


def test_sampling_rate_too_low_for_the_band_pass(tmp_path, wfdb_writer):
    base, _ = wfdb_writer(tmp_path, fs=50.0, duration_s=30)
    rec = load_ecg(base)
    with pytest.raises(RecordingError, match=r"sampling rate too low.*above 80 Hz, got 50 Hz"):
        beat_windows(rec, BeatPreprocessing())
