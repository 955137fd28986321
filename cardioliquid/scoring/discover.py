"""Turn command-line PATHs (files, folders, globs) into the recordings to score.

:func:`discover` lists them; :func:`discover_for_task` also sets aside the
recordings of the other modality that a folder or glob search found (a file
named on the command line is always scored, and fails if it does not fit).
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

RECORDING_SUFFIXES: tuple[str, ...] = (
    ".hea", ".edf", ".bdf", ".gdf", ".vhdr", ".set", ".fif", ".fif.gz",
)  # fmt: skip
"""What a folder is searched for: WFDB headers and the EEG formats MNE reads."""

TASK_SUFFIXES: dict[str, tuple[str, ...]] = {
    "arrhythmia": (".hea",),
    "seizure": (*(s for s in RECORDING_SUFFIXES if s != ".hea"), ".txt"),
}
"""The searched suffixes each task scores: WFDB is read as ECG, every other format (and a
Bonn segment's ``.txt``) as EEG."""

_GLOB_CHARS = set("*?[")

BONN_SEGMENT = re.compile(r"[ZONFS]\d{3}\.txt", re.IGNORECASE)
"""A Bonn EEG segment's file name (``Z001.txt`` ... ``S100.txt``): the only ``.txt`` files a
search takes for recordings."""


def _is_recording(path: Path) -> bool:
    return (path.name.lower().endswith(RECORDING_SUFFIXES)
            or BONN_SEGMENT.fullmatch(path.name) is not None)  # fmt: skip


def _in_folder(folder: Path) -> Iterable[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for f in sorted(files):
            p = Path(root, f)
            if not f.startswith(".") and _is_recording(p):
                yield p


def _record_of(path: Path) -> Path:
    """A WFDB record's header for any of its files (``100.dat``, ``100.atr`` -> ``100.hea``).

    The shell expands ``rec/*`` into every file of a record: they name one record, scored once.
    """
    if not _is_recording(path) and path.suffix and path.with_suffix(".hea").is_file():
        return path.with_suffix(".hea")
    return path


def _found(paths: Sequence[str | os.PathLike]) -> list[tuple[Path, bool]]:
    """Each recording named by ``paths`` and whether it was named as a file (not searched)."""
    found: list[tuple[Path, bool]] = []
    for item in paths:
        text = str(item)
        if _GLOB_CHARS & set(text) and not Path(text).exists():
            matches = [Path(m) for m in sorted(glob.glob(text, recursive=True))]
            found.extend((m, False) for m in matches if m.is_file() and _is_recording(m))
            for m in matches:
                if m.is_dir():
                    found.extend((f, False) for f in _in_folder(m))
            continue
        p = Path(text)
        found.extend(((f, False) for f in _in_folder(p)) if p.is_dir() else [(_record_of(p), True)])
    unique: dict[str, tuple[Path, bool]] = {}
    for p, named in found:  # named as a file anywhere wins over found by a search
        first, was_named = unique.get(os.path.abspath(p), (p, False))
        unique[os.path.abspath(p)] = (first, named or was_named)
    return sorted(unique.values(), key=lambda item: os.path.abspath(item[0]))


def discover(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """The recordings named by ``paths``, sorted and without duplicates.

    A folder is searched recursively for WFDB headers (``.hea``), EEG files
    (EDF, BDF, GDF, BrainVision, EEGLAB, FIF) and Bonn segments (``Z001.txt``,
    :data:`BONN_SEGMENT`); a glob is expanded (``**``
    recurses); a file is kept as given, even when it does not exist or has an
    unknown format, so that it is reported as a failure rather than ignored.
    """
    return [p for p, _ in _found(paths)]


def discover_for_task(
    paths: Sequence[str | os.PathLike], task: str
) -> tuple[list[Path], dict[Path, str]]:
    """The recordings ``task`` scores, and those of the other modality set aside.

    As :func:`discover`, except that a recording a folder or glob search found
    whose format is the other task's (an EDF under ``arrhythmia``, a WFDB
    header under ``seizure``) is not scored: it is returned with the reason
    (``"EEG file, --task arrhythmia"``). A file named on the command line is
    always scored: if it does not fit the task, it fails and says why.

    Returns
    -------
    records : list of Path
        The recordings to score, sorted.
    other : dict
        Path -> reason, for the recordings set aside.
    """
    records: list[Path] = []
    other: dict[Path, str] = {}
    for p, named in _found(paths):
        if named or p.name.lower().endswith(TASK_SUFFIXES[task]):
            records.append(p)
        else:
            kind = "EEG file" if task == "arrhythmia" else "WFDB (ECG) record"
            other[p] = f"{kind}, --task {task}"
    return records, other


def searched_for(task: str) -> str:
    """The suffixes a search looks for under ``task``, for messages (``.hea``)."""
    return ", ".join("Bonn segment .txt" if s == ".txt" else s for s in TASK_SUFFIXES[task])


def record_name(path: Path) -> str:
    """A recording's name: the file name without its format suffix."""
    name = path.name
    for suffix in sorted(RECORDING_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def output_names(paths: Sequence[Path]) -> dict[Path, str]:
    """A unique output name per recording (the parent folder is prefixed on clashes)."""
    names = {p: record_name(p) for p in paths}
    counts: dict[str, int] = {}
    for n in names.values():
        counts[n] = counts.get(n, 0) + 1
    out = {}
    for p, n in names.items():
        if counts[n] > 1:
            n = f"{Path(os.path.abspath(p)).parent.name}_{n}"
        out[p] = n
    return out
