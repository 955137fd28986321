"""One entry point that reads any supported recording: :func:`load_recording`."""

from __future__ import annotations

import os
from pathlib import Path

from cardioliquid.errors import RecordingError
from cardioliquid.io.eeg import load_bonn, load_eeg
from cardioliquid.io.recording import Recording
from cardioliquid.io.wfdb import load_ecg

# Extensions mne.io.read_raw reads (its reader table), lower-case, with the dot.
MNE_EXTENSIONS: tuple[str, ...] = (
    ".edf", ".bdf", ".gdf", ".vhdr", ".ahdr", ".set", ".fif", ".fif.gz", ".cnt", ".mff",
    ".nxe", ".eeg", ".data", ".sqd", ".con", ".ds", ".lay", ".nedf", ".e", ".mat", ".xdf",
    ".snirf", ".nwb", ".csv", ".ant",
)  # fmt: skip
WFDB_EXTENSIONS: tuple[str, ...] = (".hea", ".dat", ".atr")


def detect_format(path: str | os.PathLike) -> str:
    """Return ``"wfdb"``, ``"mne"`` or ``"bonn"`` for a path, or raise.

    A WFDB record may be given without extension (``data/mitdb/100``) when
    ``100.hea`` exists beside it. A ``.txt`` file is a Bonn segment.

    Raises
    ------
    RecordingError
        If the file does not exist or its format is unknown.
    """
    p = Path(path)
    name = p.name.lower()
    if name.endswith(WFDB_EXTENSIONS):
        return "wfdb"
    if name.endswith(".txt"):
        return "bonn"
    if any(name.endswith(ext) for ext in MNE_EXTENSIONS):
        return "mne"
    if not p.exists() and p.with_name(p.name + ".hea").is_file():
        return "wfdb"
    if not p.exists():
        raise RecordingError(p, "recording not found: expected a file, or a WFDB record "
                                "name with a .hea beside it")
    raise RecordingError(
        p,
        f"unknown format: expected WFDB (.hea), EDF/BDF or another format mne.io.read_raw "
        f"reads ({', '.join(MNE_EXTENSIONS[:6])}, ...) or a Bonn .txt, "
        f"got {p.suffix or p.name!r}",
    )


def load_recording(path: str | os.PathLike, seizure_truth: bool = True, **kwargs) -> Recording:
    """Read a recording, choosing the reader from the path.

    Parameters
    ----------
    path : str or PathLike
        ``.hea`` (or a WFDB record path without extension), EDF/EDF+/BDF or any
        format :func:`mne.io.read_raw` reads, or a Bonn ``.txt`` segment.
    seizure_truth : bool
        For an EEG file read by MNE: look for its expert seizures (False: the signal
        only, as scoring reads it; :func:`~cardioliquid.io.eeg.load_eeg`).
    **kwargs
        Passed to :func:`~cardioliquid.io.wfdb.load_ecg`,
        :func:`~cardioliquid.io.eeg.load_eeg` or :func:`~cardioliquid.io.eeg.load_bonn`.

    Returns
    -------
    Recording

    Raises
    ------
    RecordingError
        Unknown format, missing or unreadable file, unusable signal.
    """
    fmt = detect_format(path)
    if fmt == "wfdb":
        return load_ecg(path, **kwargs)
    if fmt == "bonn":
        return load_bonn(path, **kwargs)
    return load_eeg(path, seizure_truth=seizure_truth, **kwargs)
