"""Seizure ground truth from the formats EEG databases ship it in.

* SzCORE / BIDS ``*_events.tsv`` (``onset duration eventType ...``),
* CHB-MIT ``chbNN-summary.txt`` (seizure times per EDF, channel lists and
  "Channels changed" blocks),
* CHB-MIT ``<record>.edf.seizures`` WFDB annotation files (``[`` onset, ``]`` offset),
* EDF+ annotations read by MNE (description ``seizure``, ``sz``, ``sz_*``...).

Every reader returns intervals ``(onset_s, offset_s)`` in seconds from the
start of the recording.
"""

from __future__ import annotations

import csv
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import wfdb

from cardioliquid.errors import RecordingError
from cardioliquid.io.wfdb import safe_rdann

Interval = tuple[float, float]

_START = re.compile(r"^Seizure\s*\d*\s*Start Time:\s*([\d.]+)\s*seconds", re.I)
_END = re.compile(r"^Seizure\s*\d*\s*End Time:\s*([\d.]+)\s*seconds", re.I)
_N_SEIZ = re.compile(r"^Number of Seizures in File:\s*(\d+)", re.I)
_CHANNEL = re.compile(r"^Channel\s+\d+:\s*(.*)$", re.I)


def is_seizure_label(description: str) -> bool:
    """True for an event label meaning seizure (``sz``, ``sz_foc_ia``, ``seizure``, ``ictal``)."""
    d = description.strip().lower()
    return d.startswith("sz") or d.startswith("seizure") or d == "ictal"


def read_events_tsv(path: str | os.PathLike) -> list[Interval]:
    """Seizure intervals of a SzCORE / BIDS ``*_events.tsv`` file.

    Rows whose ``eventType`` (or ``trial_type``) is a seizure label count;
    ``bckg`` rows do not. A file with only its header row means no seizure.

    Raises
    ------
    RecordingError
        Naming the file (and the line) when it cannot be read, has no header, lacks
        the ``onset``, ``duration`` or event-type column, or gives a seizure an onset or
        duration that is not a number (``n/a`` included), negative, or zero-length.
    """
    path = Path(path)
    try:
        with path.open(newline="") as f:
            reader = csv.DictReader(f, delimiter="\t")
            columns = reader.fieldnames
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise RecordingError(path, f"cannot read events file: {e}") from e
    if not columns:
        raise RecordingError(path, "empty events file: expected a header row with the columns "
                                   "onset, duration, eventType")
    kind_column = next((c for c in ("eventType", "trial_type") if c in columns), None)
    if not {"onset", "duration"} <= set(columns) or kind_column is None:
        raise RecordingError(path, f"events file: expected columns onset, duration, eventType "
                                   f"(or trial_type), got {sorted(columns)}")
    out = []
    for line, row in enumerate(rows, start=2):
        if not is_seizure_label(row.get(kind_column) or ""):
            continue
        try:
            onset, duration = float(row["onset"]), float(row["duration"])
        except (TypeError, ValueError):
            raise RecordingError(path, f"events file line {line}: expected a seizure's onset and "
                                       f"duration in seconds, got onset {row.get('onset')!r}, "
                                       f"duration {row.get('duration')!r}") from None
        if not (math.isfinite(onset) and math.isfinite(duration)) or onset < 0 or duration <= 0:
            raise RecordingError(path, f"events file line {line}: expected a seizure at onset "
                                       f">= 0 s lasting > 0 s, got onset {onset:g} s, duration "
                                       f"{duration:g} s")
        out.append((onset, onset + duration))
    return sorted(out)


def read_seizures_annotation(edf_path: str | os.PathLike, fs: float = 256.0) -> list[Interval]:
    """Seizure intervals from CHB-MIT's ``<record>.edf.seizures`` WFDB annotation file.

    Parameters
    ----------
    edf_path : str or PathLike
        The EDF file the annotations belong to (``chb01_03.edf``).
    fs : float
        Sampling rate when the annotation file does not state one.
    """
    edf_path = Path(edf_path)
    ann_file = Path(f"{edf_path}.seizures")
    try:
        with safe_rdann():  # wfdb can loop forever on a corrupt file
            ann = wfdb.rdann(str(edf_path), "seizures")
    except Exception as e:
        raise RecordingError(ann_file, f"cannot read WFDB seizure annotations: {e}") from e
    rate = float(ann.fs or fs)
    onsets = [s for s, sym in zip(ann.sample, ann.symbol, strict=True) if sym == "["]
    offsets = [s for s, sym in zip(ann.sample, ann.symbol, strict=True) if sym == "]"]
    if len(onsets) != len(offsets):
        raise RecordingError(ann_file, f"expected paired '[' and ']' annotations, got "
                                       f"{len(onsets)} onsets and {len(offsets)} offsets")
    return [(on / rate, off / rate) for on, off in zip(onsets, offsets, strict=True)]


@dataclass
class ChbmitSummary:
    """The content of one CHB-MIT ``chbNN-summary.txt``.

    Attributes
    ----------
    fs : float or None
        Sampling rate stated at the top.
    seizures : dict
        EDF file name -> list of seizure intervals (s); every listed file is a
        key, with an empty list when it has no seizure.
    channels : dict
        EDF file name -> channel names in force for that file (after any
        "Channels changed" block); ``-`` placeholders are kept as ``"-"``.
    """

    fs: float | None = None
    seizures: dict[str, list[Interval]] = field(default_factory=dict)
    channels: dict[str, list[str]] = field(default_factory=dict)

    @property
    def n_seizures(self) -> int:
        """Total number of seizures in the summary."""
        return sum(len(v) for v in self.seizures.values())


def parse_chbmit_summary(path: str | os.PathLike) -> ChbmitSummary:
    """Parse a CHB-MIT ``chbNN-summary.txt``.

    Raises
    ------
    RecordingError
        If the file cannot be read or a seizure has a start without an end.
    """
    path = Path(path)
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as e:
        raise RecordingError(path, f"cannot read CHB-MIT summary: {e}") from e
    out = ChbmitSummary()
    channels: list[str] = []
    reading_channels = False
    current: str | None = None
    start: float | None = None
    for raw in lines:
        line = raw.strip()
        if line.lower().startswith("data sampling rate"):
            out.fs = float(re.findall(r"[\d.]+", line)[0])
        elif line.lower().startswith(("channels in edf", "channels changed")):
            channels, reading_channels = [], True
        elif reading_channels and (m := _CHANNEL.match(line)):
            channels.append(m.group(1).strip())
        elif line.lower().startswith("file name:"):
            reading_channels = False
            current = line.split(":", 1)[1].strip()
            out.seizures[current] = []
            out.channels[current] = list(channels)
        elif (m := _START.match(line)) and current is not None:
            start = float(m.group(1))
        elif (m := _END.match(line)) and current is not None:
            if start is None:
                raise RecordingError(path, f"{current}: seizure end without a start")
            out.seizures[current].append((start, float(m.group(1))))
            start = None
        elif not line.startswith("*") and line and not _N_SEIZ.match(line):
            reading_channels = reading_channels and bool(_CHANNEL.match(line))
    return out


def find_chbmit_summary(edf_path: str | os.PathLike) -> Path | None:
    """The ``chbNN-summary.txt`` for a CHB-MIT EDF, looked for beside it and one folder up."""
    edf_path = Path(edf_path)
    m = re.match(r"(chb\d\d)", edf_path.name, re.I)
    if not m:
        return None
    name = f"{m.group(1).lower()}-summary.txt"
    for folder in (edf_path.parent, edf_path.parent.parent):
        if (folder / name).is_file():
            return folder / name
    return None


def seizures_from_annotations(annotations) -> list[Interval]:
    """Seizure intervals from MNE :class:`mne.Annotations` (EDF+ TAL annotations)."""
    return sorted(
        (float(a["onset"]), float(a["onset"] + a["duration"]))
        for a in annotations
        if is_seizure_label(str(a["description"])) and a["duration"] > 0
    )
