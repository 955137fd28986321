"""Read WFDB records (MIT-BIH and other PhysioNet ECG databases) as :class:`Recording`.

Signals come back in physical units (mV), float32, channels x samples, with
every channel kept. Beat annotations keep their sample, original code and AAMI
class (non-beat codes are dropped from ``beats``); rhythm annotations (``+``
with an aux note such as ``"(AFIB"``) go to ``rhythms``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import wfdb

from cardioliquid.errors import RecordingError
from cardioliquid.io._validate import check_loadable
from cardioliquid.io.labels import aami_class, is_beat
from cardioliquid.io.recording import BeatAnnotations, Recording

MITDB_RECORDS: tuple[str, ...] = (
    "100", "101", "102", "103", "104", "105", "106", "107", "108", "109", "111", "112",
    "113", "114", "115", "116", "117", "118", "119", "121", "122", "123", "124", "200",
    "201", "202", "203", "205", "207", "208", "209", "210", "212", "213", "214", "215",
    "217", "219", "220", "221", "222", "223", "228", "230", "231", "232", "233", "234",
)
"""The 48 records of the MIT-BIH Arrhythmia Database."""

SAME_PATIENT: dict[str, str] = {"202": "201"}
"""MIT-BIH records that come from a subject already represented (202 is 201's patient)."""

# Bits per sample of the WFDB storage formats, to detect truncated signal files.
_BITS_PER_SAMPLE = {8: 8, 16: 16, 24: 24, 32: 32, 61: 16, 80: 8, 160: 16, 212: 12, 310: 32 / 3,
                    311: 32 / 3}  # fmt: skip


def record_base(path_or_record: str | os.PathLike) -> Path:
    """Return the record path without extension (``data/mitdb/100.hea`` -> ``data/mitdb/100``)."""
    p = Path(path_or_record)
    if p.suffix.lower() in {".hea", ".dat", ".atr"}:
        return p.with_suffix("")
    return p


def mitdb_patient(record_id: str) -> str:
    """Patient identifier of an MIT-BIH record (``"202"`` -> ``"201"``)."""
    return SAME_PATIENT.get(str(record_id), str(record_id))


def _read_header(base: Path) -> wfdb.Record:
    hea = base.with_name(base.name + ".hea")
    if not hea.is_file():
        raise RecordingError(hea, "WFDB header not found: expected a readable .hea file")
    try:
        header = wfdb.rdheader(str(base))
    except Exception as e:  # wfdb raises many types on a malformed header
        raise RecordingError(hea, f"corrupt WFDB header: expected a valid header, got {e}") from e
    if not header.fs or header.fs <= 0 or not header.sig_len or header.n_sig in (None, 0):
        raise RecordingError(
            hea,
            "corrupt WFDB header: expected a positive sampling rate, signal length and channel "
            f"count, got fs={header.fs}, sig_len={header.sig_len}, n_sig={header.n_sig}",
        )
    return header


def _check_signal_files(base: Path, header: wfdb.Record) -> None:
    """Raise if a signal file named by the header is missing or shorter than declared."""
    per_file: dict[str, list[int]] = {}
    for i, name in enumerate(header.file_name):
        per_file.setdefault(name, []).append(i)
    for name, idx in per_file.items():
        f = base.parent / name
        if not f.is_file():
            raise RecordingError(f, f"missing WFDB signal file: the header {base.name}.hea "
                                    f"expects {name}, which does not exist")
        fmt = int(header.fmt[idx[0]])
        bits = _BITS_PER_SAMPLE.get(fmt)
        if bits is None:
            continue
        spf = sum(int(header.samps_per_frame[i] or 1) for i in idx)
        offset = int((header.byte_offset or [0] * header.n_sig)[idx[0]] or 0)
        expected = offset + math.ceil(header.sig_len * spf * bits / 8)
        got = f.stat().st_size
        if got < expected:
            raise RecordingError(
                f,
                f"truncated WFDB signal file: expected {expected} bytes for "
                f"{header.sig_len} samples x {spf} channel(s) in format {fmt}, got {got} bytes",
            )


def _read_annotations(base: Path, annotator: str, fs: float):
    ann_file = base.with_name(f"{base.name}.{annotator}")
    if not ann_file.is_file():
        return None, []
    try:
        ann = wfdb.rdann(str(base), annotator)
    except Exception as e:
        raise RecordingError(ann_file, f"corrupt annotation file: expected WFDB annotations, "
                                       f"got {e}") from e
    symbols = np.asarray(ann.symbol, dtype=object)
    samples = np.asarray(ann.sample, dtype=np.int64)
    aux = ann.aux_note or [""] * len(symbols)
    beat = np.array([is_beat(s) for s in symbols], dtype=bool)
    beats = BeatAnnotations(samples[beat], symbols[beat].astype("<U2"),
                            aami_class(list(symbols[beat])))
    rhythms = [(int(s), str(a).strip("\x00").strip())
               for s, sym, a in zip(samples, symbols, aux, strict=True) if sym == "+"]
    return beats, rhythms


def load_ecg(
    path_or_record: str | os.PathLike,
    annotator: str = "atr",
    patient_id: str | None = None,
    check_quality: bool = True,
) -> Recording:
    """Read a WFDB ECG record and its annotations.

    Parameters
    ----------
    path_or_record : str or PathLike
        Record path with or without extension (``data/mitdb/100`` or
        ``data/mitdb/100.hea``).
    annotator : str
        Annotation file extension; a missing file means no beats (``beats=None``).
    patient_id : str, optional
        Subject identifier; by default the record name (MIT-BIH 202 -> 201).
    check_quality : bool
        Reject NaN samples and all-flat signals
        (:func:`cardioliquid.io._validate.check_loadable`).

    Returns
    -------
    Recording
        ``signal`` float32 (n_channels, n_samples) in mV, ``modality="ecg"``.

    Raises
    ------
    RecordingError
        Missing header or signal file, corrupt header, truncated signal,
        corrupt annotations, NaN or flat signal.
    """
    base = record_base(path_or_record)
    header = _read_header(base)
    _check_signal_files(base, header)
    try:
        rec = wfdb.rdrecord(str(base), physical=True, return_res=32)
    except Exception as e:
        raise RecordingError(base, f"unreadable WFDB record: expected {header.n_sig} channels "
                                   f"x {header.sig_len} samples, got {e}") from e
    signal = np.asarray(rec.p_signal, dtype=np.float32).T
    if signal.shape[1] != header.sig_len:
        raise RecordingError(base, f"truncated WFDB record: expected {header.sig_len} samples, "
                                   f"got {signal.shape[1]}")
    units = [str(u or "mV") for u in rec.units]
    for i, u in enumerate(units):  # the project's ECG unit is mV
        if u.lower() in ("uv", "µv"):
            signal[i] /= 1000.0
        elif u.lower() == "v":
            signal[i] *= 1000.0
    beats, rhythms = _read_annotations(base, annotator, rec.fs)
    name = base.name
    is_mitdb = name in MITDB_RECORDS and abs(rec.fs - 360) < 1e-6
    recording = Recording(
        signal=signal,
        fs=float(rec.fs),
        channel_names=[str(n) for n in rec.sig_name],
        units="mV",
        record_id=name,
        patient_id=patient_id or (mitdb_patient(name) if is_mitdb else name),
        modality="ecg",
        source=str(base),
        beats=beats,
        rhythms=rhythms,
        meta={"comments": list(rec.comments or []), "database": "mitdb" if is_mitdb else None,
              "original_units": units, "format": "wfdb"},
    )
    if check_quality:
        check_loadable(recording)
    return recording
