"""Turn command-line PATHs (files, folders, globs) into the recordings to score."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

RECORDING_SUFFIXES: tuple[str, ...] = (
    ".hea", ".edf", ".bdf", ".gdf", ".vhdr", ".set", ".fif", ".fif.gz",
)  # fmt: skip
"""What a folder is searched for: WFDB headers and the EEG formats MNE reads."""

_GLOB_CHARS = set("*?[")


def _is_recording(path: Path) -> bool:
    return path.name.lower().endswith(RECORDING_SUFFIXES)


def _in_folder(folder: Path) -> Iterable[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for f in sorted(files):
            p = Path(root, f)
            if not f.startswith(".") and _is_recording(p):
                yield p


def discover(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """The recordings named by ``paths``, sorted and without duplicates.

    A folder is searched recursively for WFDB headers (``.hea``) and EEG files
    (EDF, BDF, GDF, BrainVision, EEGLAB, FIF); a glob is expanded (``**``
    recurses); a file is kept as given, even when it does not exist or has an
    unknown format, so that it is reported as a failure rather than ignored.
    """
    found: list[Path] = []
    for item in paths:
        text = str(item)
        if _GLOB_CHARS & set(text) and not Path(text).exists():
            matches = [Path(m) for m in sorted(glob.glob(text, recursive=True))]
            found.extend(m for m in matches if m.is_file() and _is_recording(m))
            for m in matches:
                if m.is_dir():
                    found.extend(_in_folder(m))
            continue
        p = Path(text)
        found.extend(_in_folder(p) if p.is_dir() else [p])
    unique: dict[str, Path] = {}
    for p in found:
        unique.setdefault(os.path.abspath(p), p)
    return sorted(unique.values(), key=lambda p: os.path.abspath(p))


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
