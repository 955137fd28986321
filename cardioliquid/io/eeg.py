"""Read EEG (EDF, EDF+, BDF and every format ``mne.io.read_raw`` knows) and Bonn segments.

Signals come back in µV, float32, channels x samples, under MNE's channel names
(CHB-MIT's repeated ``T8-P8`` becomes ``T8-P8-0`` / ``T8-P8-1``). Seizure truth,
first found wins: the ``seizures`` argument, a ``<name>_events.tsv`` beside the
file (SzCORE / BIDS), a ``<file>.seizures`` WFDB annotation file (CHB-MIT), the
CHB-MIT ``chbNN-summary.txt`` beside the file or one folder up, and EDF+
annotations.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cardioliquid.errors import RecordingError
from cardioliquid.io._validate import check_loadable
from cardioliquid.io.recording import Recording
from cardioliquid.io.seizures import (
    Interval,
    find_chbmit_summary,
    parse_chbmit_summary,
    read_events_tsv,
    read_seizures_annotation,
    seizures_from_annotations,
)

BONN_FS = 173.61
"""Sampling rate of the Bonn segments (Hz)."""

BONN_SETS: dict[str, str] = {"A": "Z", "B": "O", "C": "N", "D": "F", "E": "S"}
"""Bonn set letter -> the file prefix letter (folders are named ``A_Z``, ``B_O``...)."""

BONN_SEIZURE_SET = "E"
"""The ictal Bonn set."""

CHBMIT_SAME_SUBJECT: dict[str, str] = {"chb21": "chb01"}
"""CHB-MIT cases recorded from a subject already represented (chb21 is chb01 1.5 years later)."""


def eeg_patient_id(path: str | os.PathLike) -> str:
    """Subject identifier from a file name: ``chb01_03.edf`` -> ``chb01``, BIDS ``sub-01``."""
    name = Path(path).name
    if m := re.match(r"(chb\d\d)", name, re.I):
        case = m.group(1).lower()
        return CHBMIT_SAME_SUBJECT.get(case, case)
    if m := re.match(r"(sub-[A-Za-z0-9]+)", name):
        return m.group(1)
    return Path(path).stem


BIDS_DATA_SUFFIXES = ("_eeg", "_ieeg")
"""A BIDS recording's name ends in its data type, which its events file drops
(``sub-01_task-rest_run-01_eeg.edf`` -> ``sub-01_task-rest_run-01_events.tsv``)."""


def bids_events_name(stem: str) -> str | None:
    """The BIDS events file name of a recording named ``stem``; None when ``stem`` does not end
    in a BIDS data type."""
    for suffix in BIDS_DATA_SUFFIXES:
        if stem.endswith(suffix) and len(stem) > len(suffix):
            return f"{stem[: -len(suffix)]}_events.tsv"
    return None


def events_tsv_candidates(path: str | os.PathLike) -> list[Path]:
    """The ``*_events.tsv`` names read as ``path``'s seizure reference, in the order tried.

    ``<stem>_events.tsv``, the same without every suffix, and BIDS
    ``sub-01_..._run-01_eeg.edf`` -> ``..._run-01_events.tsv``. Whether they
    exist or not: writers use the list to keep clear of a reference.
    """
    path = Path(path)
    stem = path.name[: -len("".join(path.suffixes))] if path.suffixes else path.name
    found = [path.with_name(f"{path.stem}_events.tsv"), path.with_name(f"{stem}_events.tsv")]
    if (bids := bids_events_name(path.stem)) is not None:
        found.append(path.with_name(bids))
    return list(dict.fromkeys(found))


def _events_tsv_for(path: Path) -> Path | None:
    return next((c for c in events_tsv_candidates(path) if c.is_file()), None)


def find_seizures(path: str | os.PathLike, annotations=None, fs: float | None = None
                  ) -> tuple[list[Interval], str | None, Path | None]:
    """Seizure intervals for an EEG file, where they came from, and which file.

    Returns
    -------
    seizures : list of (onset_s, offset_s)
    source : str or None
        ``"events.tsv"``, ``"wfdb-seizures"``, ``"chbmit-summary"``, ``"edf+"``
        or None when no seizure truth was found.
    file : Path or None
        The file read (the EEG file itself for EDF+ annotations).
    """
    path = Path(path)
    if (tsv := _events_tsv_for(path)) is not None:
        return read_events_tsv(tsv), "events.tsv", tsv
    if (wfdb_file := Path(f"{path}.seizures")).is_file():
        return read_seizures_annotation(path, fs or 256.0), "wfdb-seizures", wfdb_file
    if (summary := find_chbmit_summary(path)) is not None:
        table = parse_chbmit_summary(summary)
        if path.name in table.seizures:
            return table.seizures[path.name], "chbmit-summary", summary
    if annotations is not None and len(annotations):
        return seizures_from_annotations(annotations), "edf+", path
    return [], None, None


def _edf_field(path: Path, header: bytes, start: int, stop: int, what: str) -> int:
    raw = header[start:stop].decode("ascii", errors="replace").strip()
    try:
        return int(raw)
    except ValueError:
        raise RecordingError(path, f"corrupt EDF header: expected an integer {what} "
                                   f"(bytes {start}-{stop}), got {raw!r}") from None


def check_edf_size(path: str | os.PathLike) -> None:
    """Raise :class:`RecordingError` unless an EDF/BDF file is as long as its header says.

    The header gives the header length (256 bytes plus 256 per signal), the
    number of data records and each signal's samples per record (2 bytes per
    sample in EDF, 3 in BDF); a file shorter than header + records x record
    size is truncated, and one holding whole records more than the header
    counts has a corrupt record count (MNE would read fewer seconds either way,
    without a word).
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(256)
        if len(head) < 256:
            raise RecordingError(path, f"truncated EDF file: expected a 256-byte header, got "
                                       f"{len(head)} bytes")
        n_sig = _edf_field(path, head, 252, 256, "number of signals")
        if not 1 <= n_sig <= 4096:
            raise RecordingError(path, f"corrupt EDF header: expected 1 to 4096 signals, "
                                       f"got {n_sig}")
        header_bytes = _edf_field(path, head, 184, 192, "header size")
        if header_bytes != 256 * (n_sig + 1):
            raise RecordingError(
                path, f"corrupt EDF header: expected a header size of 256 x (1 + {n_sig} "
                f"signals) = {256 * (n_sig + 1)} bytes, got {header_bytes}")
        signal_head = f.read(256 * n_sig)
    if len(signal_head) < 256 * n_sig:
        raise RecordingError(path, f"truncated EDF file: expected a {header_bytes}-byte header, "
                                   f"got {size} bytes")
    n_records = _edf_field(path, head, 236, 244, "number of data records")
    offset = 216 * n_sig  # samples-per-record fields follow 216 bytes of other fields per signal
    spr = [_edf_field(path, signal_head, offset + 8 * i, offset + 8 * i + 8,
                      f"samples per record of signal {i + 1}") for i in range(n_sig)]
    if min(spr) < 1:
        raise RecordingError(path, f"corrupt EDF header: expected >= 1 sample per record in "
                                   f"every signal, got {spr}")
    width = 3 if head[:1] == b"\xff" else 2  # BDF: 24-bit samples
    record_bytes = sum(spr) * width
    if n_records == -1:  # unknown (a recording still being written): whole records only
        n_records = max(1, (size - header_bytes) // record_bytes)
    if n_records < 1:
        raise RecordingError(path, f"corrupt EDF header: expected >= 1 data record, got "
                                   f"{n_records}")
    expected = header_bytes + n_records * record_bytes
    if size < expected:
        whole = max(0, (size - header_bytes) // record_bytes)
        raise RecordingError(
            path,
            f"truncated EDF file: expected {expected} bytes ({header_bytes} header + "
            f"{n_records} records x {record_bytes} bytes), got {size} bytes "
            f"({whole} whole records)",
        )
    if size - expected >= record_bytes:  # records the header does not count: read as shorter
        raise RecordingError(
            path,
            f"corrupt EDF header: expected {n_records} data records ({expected} bytes) as the "
            f"header says, got {size} bytes ({(size - header_bytes) // record_bytes} records)",
        )


def _reason(e: Exception) -> str:
    """An exception as text, with where it was raised when it carries no message."""
    import traceback

    text = str(e).strip()
    if text:
        return f"{type(e).__name__}: {text}"
    frames = traceback.extract_tb(e.__traceback__)
    where = f" in {Path(frames[-1].filename).name}:{frames[-1].lineno} " \
            f"({frames[-1].line})" if frames else ""
    return f"{type(e).__name__}{where}"


def load_eeg(
    path: str | os.PathLike,
    seizures: list[Interval] | None = None,
    patient_id: str | None = None,
    check_quality: bool = True,
    seizure_truth: bool = True,
) -> Recording:
    """Read an EEG file through :func:`mne.io.read_raw`.

    Parameters
    ----------
    path : str or PathLike
        EDF / EDF+ / BDF / BrainVision / EEGLAB / FIF ... file.
    seizures : list of (float, float), optional
        Seizure intervals (s) that override those found beside the file.
    patient_id : str, optional
        Subject identifier (default from the file name, see :func:`eeg_patient_id`).
    check_quality : bool
        Reject NaN samples and all-flat signals.
    seizure_truth : bool
        Look for the expert's seizures beside the file (:func:`find_seizures`); False
        reads the signal only (scoring needs no truth, and a malformed sidecar then
        does not stop it).

    Returns
    -------
    Recording
        ``signal`` float32 (n_channels, n_samples) in µV, ``modality="eeg"``,
        ``meta["seizure_source"]`` says where the seizures came from (None: none found)
        and ``meta["seizure_file"]`` which file.

    Raises
    ------
    RecordingError
        If the file is missing, not a format MNE reads, an EDF/BDF file shorter
        than its header says (:func:`check_edf_size`), or unusable.
    """
    import mne  # heavy: imported on use

    path = Path(path)
    if not path.is_file():
        raise RecordingError(path, "EEG file not found")
    if path.suffix.lower() in (".edf", ".bdf"):
        check_edf_size(path)
    try:
        raw = mne.io.read_raw(path, preload=True, verbose="error")
    except Exception as e:
        raise RecordingError(path, f"unreadable EEG file: expected a format mne.io.read_raw "
                                   f"reads (EDF, BDF, ...), got {_reason(e)}") from e
    data = raw.get_data() * 1e6  # MNE holds volts; the project's EEG unit is µV
    found, source, truth_file = [], None, None
    if seizures is not None:
        found, source = [tuple(map(float, s)) for s in seizures], "argument"
    elif seizure_truth:
        found, source, truth_file = find_seizures(path, raw.annotations, raw.info["sfreq"])
    duration_s = raw.n_times / float(raw.info["sfreq"])
    beyond = [(a, b) for a, b in found if a >= duration_s]
    if beyond:  # a summary of another file, or times not relative to this recording's start
        raise RecordingError(truth_file or path, f"seizure annotations for {path.name}: expected "
                             f"onsets within its {duration_s:g} s, got {beyond[:3]} s")
    meas_date = raw.info.get("meas_date")
    rec = Recording(
        signal=data.astype(np.float32),
        fs=float(raw.info["sfreq"]),
        channel_names=list(raw.ch_names),
        units="uV",
        record_id=path.stem,
        patient_id=patient_id or eeg_patient_id(path),
        modality="eeg",
        source=str(path),
        seizures=sorted(found),
        meta={
            "format": type(raw).__name__,
            "seizure_source": source,
            "seizure_file": None if truth_file is None else str(truth_file),
            "meas_date": None if meas_date is None else str(meas_date),
            "annotations": [(float(a["onset"]), float(a["duration"]), str(a["description"]))
                            for a in raw.annotations],
        },
    )
    if check_quality:
        check_loadable(rec)
    return rec


def bonn_set_of(path: str | os.PathLike) -> str:
    """Bonn set letter (A-E) of a segment, from its folder (``A_Z``) or file prefix (``Z001``)."""
    path = Path(path)
    folder = path.parent.name.upper()
    if len(folder) >= 1 and folder[0] in BONN_SETS and (len(folder) == 1 or folder[1] == "_"):
        return folder[0]
    prefix = path.name[:1].upper()
    for letter, file_prefix in BONN_SETS.items():
        if prefix == file_prefix:
            return letter
    raise RecordingError(path, f"Bonn segment: expected a folder A_Z..E_S or a file prefix "
                               f"Z/O/N/F/S, got folder {path.parent.name!r}")


def load_bonn(path: str | os.PathLike, check_quality: bool = True) -> Recording:
    """Read one Bonn EEG segment (ASCII, one sample per line, 173.61 Hz).

    The whole segment is one seizure when its set is E (``seizures`` holds one
    interval covering it); ``label`` is the set letter.
    """
    path = Path(path)
    if not path.is_file():
        raise RecordingError(path, "Bonn segment not found")
    letter = bonn_set_of(path)
    try:
        x = np.loadtxt(path, dtype=np.float64, ndmin=1)
    except ValueError as e:
        raise RecordingError(path, f"Bonn segment: expected one number per line, got {e}") from e
    if x.ndim != 1:
        raise RecordingError(path, f"Bonn segment: expected one column, got shape {x.shape}")
    duration = len(x) / BONN_FS
    rec = Recording(
        signal=x[None, :].astype(np.float32),
        fs=BONN_FS,
        channel_names=["EEG"],
        units="uV",
        record_id=f"bonn_{path.stem}",
        # The segments carry no subject id, so each segment is its own group: Bonn cannot
        # be split by patient (see SOURCES.md).
        patient_id=f"bonn_{path.stem}",
        modality="eeg",
        source=str(path),
        seizures=[(0.0, duration)] if letter == BONN_SEIZURE_SET else [],
        label=letter,
        meta={"format": "bonn", "seizure_source": "bonn-set"},
    )
    if check_quality:
        check_loadable(rec)
    return rec


@dataclass(frozen=True)
class BonnSegment:
    """One Bonn segment file and its set."""

    path: Path
    set: str

    @property
    def is_seizure(self) -> bool:
        """True for set E (ictal)."""
        return self.set == BONN_SEIZURE_SET


def list_bonn(root: str | os.PathLike, sets: str = "ABCDE") -> list[BonnSegment]:
    """All Bonn segments under ``root`` (folders ``A_Z`` ... ``E_S``), sorted.

    Raises
    ------
    RecordingError
        If ``root`` holds none of the requested sets.
    """
    root = Path(root)
    out = []
    for letter in sets.upper():
        folder = root / f"{letter}_{BONN_SETS[letter]}"
        if folder.is_dir():
            out += [BonnSegment(p, letter) for p in sorted(folder.iterdir())
                    if p.suffix.lower() == ".txt"]
    if not out:
        raise RecordingError(root, f"Bonn root: expected folders like A_Z ... E_S with .txt "
                                   f"segments for sets {sets}, found none")
    return out
