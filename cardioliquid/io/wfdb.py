"""Read WFDB records (MIT-BIH and other PhysioNet ECG databases) as :class:`Recording`.

Signals come back in physical units (mV), float32, channels x samples, with
every channel kept. Beat annotations keep their sample, original code and AAMI
class (non-beat codes are dropped from ``beats``); rhythm annotations (``+``
with an aux note such as ``"(AFIB"``) go to ``rhythms``.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from pathlib import Path
from typing import Any

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

_FS_FIELD = re.compile(r"\d*\.?\d+(/\d*\.?\d+(\(\d*\.?\d+\))?)?")
"""A record line's sampling-rate field: ``360``, ``128.0``, ``360/360(0)`` (frequency, counter
frequency, base counter value)."""

_WFDB_FORMATS = ("8", "16", "24", "32", "61", "80", "160", "212", "310", "311", "508", "516",
                 "524")  # fmt: skip
"""The signal formats wfdb reads (508/516/524: FLAC)."""

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
    if not base.name.isascii():  # wfdb would read (and name) another, mangled record
        raise RecordingError(hea, f"WFDB record name: expected ASCII characters (the WFDB "
                                  f"format's), got {base.name!r}; rename the record's files")
    _check_signal_lines(hea)
    try:
        header = wfdb.rdheader(str(base))
    except Exception as e:  # wfdb raises many types on a malformed header
        raise RecordingError(hea, f"corrupt WFDB header: expected a valid header, got {e}") from e
    unknown = sorted({str(f) for f in header.fmt or [] if str(f) not in _WFDB_FORMATS})
    if unknown:
        raise RecordingError(hea, f"unsupported WFDB signal format {', '.join(unknown)}: "
                                  f"expected one of {', '.join(_WFDB_FORMATS)}")
    if not header.fs or header.fs <= 0 or not header.sig_len or header.n_sig in (None, 0):
        raise RecordingError(
            hea,
            "corrupt WFDB header: expected a positive sampling rate, signal length and channel "
            f"count, got fs={header.fs}, sig_len={header.sig_len}, n_sig={header.n_sig}",
        )
    return header


def _check_signal_lines(hea: Path) -> None:
    """Raise if the record line announces more signals than the header describes."""
    lines = [ln.strip() for ln in hea.read_bytes().decode("latin-1").splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    if not lines:
        raise RecordingError(hea, "corrupt WFDB header: expected a record line, got none")
    fields = lines[0].split()
    # Checked here because wfdb reads a field it cannot parse as absent: "-360" for the
    # sampling rate gave its 250 Hz default, "65x000" for the length gave 65 samples.
    if len(fields) > 2 and not _FS_FIELD.fullmatch(fields[2]):
        raise RecordingError(hea, f"corrupt WFDB header: expected a positive sampling rate "
                                  f"as the record line's third field, got {fields[2]!r}")
    if len(fields) > 3 and not fields[3].isdigit():
        raise RecordingError(hea, f"corrupt WFDB header: expected the number of samples per "
                                  f"signal as the record line's fourth field, got {fields[3]!r}")
    if len(fields) < 2 or "/" in fields[0]:  # no signals, or a multi-segment record
        return
    n_sig = fields[1]
    if n_sig.isdigit() and int(n_sig) > len(lines) - 1:
        raise RecordingError(
            hea,
            f"corrupt WFDB header: expected {int(n_sig)} signal lines (the record line says "
            f"{int(n_sig)} signals), got {len(lines) - 1}",
        )


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


MAX_UNKNOWN_CODE_FRACTION = 0.01
"""Largest fraction of annotations whose code is not a WFDB code (a corrupt file above)."""


def _known_codes() -> frozenset[str]:
    from wfdb.io.annotation import ann_label_table

    return frozenset(str(s) for s in ann_label_table["symbol"]) - {" "}


def _check_annotations(ann_file: Path, samples: np.ndarray, symbols: np.ndarray,
                       beat: np.ndarray, n_samples: int) -> None:
    """Raise :class:`RecordingError` unless the annotations fit the signal and the WFDB codes."""
    if not len(samples):
        return
    outside = (samples < 0) | (samples > n_samples)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise RecordingError(
            ann_file,
            f"corrupt annotation file: expected annotation samples within the signal "
            f"(0..{n_samples}), got {int(outside.sum())} outside it (the first: "
            f"{int(samples[i])}, annotation {i})",
        )
    back = np.diff(samples) < 0
    beat_samples = samples[beat]
    repeated = np.diff(beat_samples) <= 0
    if back.any() or repeated.any():
        what = "decrease" if back.any() else "repeat a beat's sample"
        raise RecordingError(
            ann_file,
            f"corrupt annotation file: expected increasing annotation samples, got "
            f"{int(back.sum() + repeated.sum())} that {what}",
        )
    known = _known_codes()
    unknown = np.array([str(s) not in known for s in symbols], dtype=bool)
    if unknown.mean() > MAX_UNKNOWN_CODE_FRACTION:
        raise RecordingError(
            ann_file,
            f"corrupt annotation file: expected WFDB annotation codes, got "
            f"{int(unknown.sum())} of {len(symbols)} unknown "
            f"(more than {MAX_UNKNOWN_CODE_FRACTION:.0%})",
        )


def _definitions(potential_definition_inds, aux_note):
    """wfdb's ``interpret_defintion_annotations`` without its endless loop.

    wfdb (4.x) never advances past a ``## `` note at sample 0 that is neither
    the time resolution nor the start of label definitions, so a corrupt
    annotation file hangs ``rdann``. Same reading otherwise: notes from the
    file's start; a malformed definition is a ``ValueError``.
    """
    from wfdb.io.annotation import rx_custom_label, rx_fs

    fs, custom, i = None, [], 0
    notes = [str(a or "") for a in aux_note[: len(potential_definition_inds)]]
    while i < len(notes):
        note = notes[i]
        if note.startswith("## ") and not fs and (found := rx_fs.findall(note)):
            fs = float(found[0])
            fs = int(fs) if round(fs, 8) == float(int(fs)) else fs
        elif note == "## annotation type definitions":
            i += 1
            while i < len(notes) and notes[i] != "## end of definitions":
                match = rx_custom_label.findall(notes[i])
                if not match:
                    raise ValueError(f"malformed annotation label definition {notes[i]!r}")
                label_store, symbol, description = match[0]
                custom.append((int(label_store), symbol, description))
                i += 1
        i += 1
    return fs, custom or None


@contextlib.contextmanager
def safe_rdann():
    """A context in which ``wfdb.rdann`` cannot hang on a corrupt file (:func:`_definitions`)."""
    from wfdb.io import annotation

    original = annotation.interpret_defintion_annotations
    annotation.interpret_defintion_annotations = _definitions
    try:
        yield
    finally:
        annotation.interpret_defintion_annotations = original


def _read_annotations(base: Path, annotator: str, n_samples: int):
    """Beats, rhythm changes and the file's state (``present``, ``missing`` or ``empty``)."""
    ann_file = base.with_name(f"{base.name}.{annotator}")
    if not ann_file.is_file():
        return None, [], "missing"
    if ann_file.stat().st_size == 0:
        return None, [], "empty"
    try:
        with safe_rdann():
            ann = wfdb.rdann(str(base), annotator)
    except Exception as e:
        raise RecordingError(ann_file, f"corrupt annotation file: expected WFDB annotations, "
                                       f"got {type(e).__name__}: {e}") from e
    symbols = np.asarray(ann.symbol, dtype=object)
    samples = np.asarray(ann.sample, dtype=np.int64)
    aux = ann.aux_note or [""] * len(symbols)
    beat = np.array([is_beat(s) for s in symbols], dtype=bool)
    _check_annotations(ann_file, samples, symbols, beat, n_samples)
    beats = BeatAnnotations(samples[beat], symbols[beat].astype("<U2"),
                            aami_class(list(symbols[beat])))
    rhythms = [(int(s), str(a).strip("\x00").strip())
               for s, sym, a in zip(samples, symbols, aux, strict=True) if sym == "+"]
    return beats, rhythms, "present" if beat.any() else "no beats"


READ_BLOCK_SAMPLES = 1 << 21
"""Samples per channel read at a time (97 min at 360 Hz): wfdb's integer and float copies of a
block stay small beside the record's float32 signal (a 24-hour Holter record peaked at 0.95 GB
read whole, for a 250 MB signal)."""


def _read_signal(base: Path, header: Any) -> tuple[Any, np.ndarray]:
    """The record's header fields (wfdb's record of the last block) and its signal, float32
    (n_channels, n_samples) in the header's units, read block by block into one array."""
    n = int(header.sig_len)
    signal: np.ndarray | None = None
    rec = None
    start = 0
    try:
        while start < n:
            stop = min(start + READ_BLOCK_SAMPLES, n)
            rec = wfdb.rdrecord(str(base), sampfrom=start, sampto=stop, physical=True,
                                return_res=32)
            block = np.asarray(rec.p_signal, dtype=np.float32)
            if signal is None:
                signal = np.empty((block.shape[1], n), dtype=np.float32)
            got = block.shape[0]
            signal[:, start:start + got] = block.T
            if got < stop - start:  # the signal file ends early
                raise RecordingError(base, f"truncated WFDB record: expected {n} samples, got "
                                           f"{start + got}")
            start = stop
    except RecordingError:
        raise
    except Exception as e:
        raise RecordingError(base, f"unreadable WFDB record: expected {header.n_sig} channels "
                                   f"x {n} samples, got {e}") from e
    assert rec is not None and signal is not None  # n >= 1: checked with the header
    return rec, signal


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
        Annotation file extension; a missing or empty file means no beats
        (``beats=None``), and ``meta["reference_annotations"]`` says which.
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
        Missing header or signal file, corrupt header (or one naming more
        signals than it describes), a record name that is not ASCII, truncated
        signal, corrupt annotations (samples outside the signal or out of
        order, more than :data:`MAX_UNKNOWN_CODE_FRACTION` unknown codes), NaN
        or flat signal.
    """
    base = record_base(path_or_record)
    header = _read_header(base)
    _check_signal_files(base, header)
    rec, signal = _read_signal(base, header)
    units = [str(u or "mV") for u in rec.units]
    for i, u in enumerate(units):  # the project's ECG unit is mV
        if u.lower() in ("uv", "µv"):
            signal[i] /= 1000.0
        elif u.lower() == "v":
            signal[i] *= 1000.0
    beats, rhythms, ann_state = _read_annotations(base, annotator, signal.shape[1])
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
              "original_units": units, "format": "wfdb",
              "reference_annotations": {"file": f"{name}.{annotator}", "state": ann_state}},
    )
    if check_quality:
        check_loadable(recording)
    return recording
