"""Which records an evaluation reads: a WFDB database's records, EEG files, prediction files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import wfdb

from cardioliquid.data import splits
from cardioliquid.errors import CardioLiquidError, RecordingError
from cardioliquid.io.labels import AAMI_CLASSES
from cardioliquid.io.pull import inside_dest

PREDICTION_EXTENSION = "cla"
"""Annotator of the beat-class files ``cardioliquid score`` writes (``<record>.cla``)."""

EEG_SUFFIXES = (".edf", ".bdf", ".gdf", ".fif", ".set", ".vhdr", ".txt")


def folder_records(data: Path) -> list[str]:
    """The records of a WFDB database folder, as PhysioNet lists them.

    The folder's ``RECORDS`` file names them (paths relative to the folder, as
    in databases with one sub-folder per patient); without one, every ``.hea``
    header directly in the folder is a record.

    Raises
    ------
    RecordingError
        The folder lists or holds no record, or ``RECORDS`` names a path
        outside the folder.
    """
    listing = data / "RECORDS"
    if listing.is_file():
        names = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
        where = f"{listing}"
    else:
        names = sorted(p.name[: -len(".hea")] for p in data.glob("*.hea"))
        where = f"{data} (no RECORDS file, no .hea header)"
    if not names:
        raise RecordingError(data, f"no WFDB record found in {where}")
    for name in names:  # a RECORDS line is untrusted: ../x or /x would read outside --data
        inside_dest(data, name)
    return names


def resolve_records(spec: str, data: Path | None = None) -> list[str]:
    """The record names ``--records`` asks for.

    Parameters
    ----------
    spec : str
        ``DS1``/``DS2`` (de Chazal 2004 split), ``all`` (every record of
        ``data``, see :func:`folder_records`), ``auto`` (DS2 where ``data``
        holds all of DS2's records, which is MIT-BIH; otherwise ``all``) or a
        comma-separated list of record names.
    data : Path, optional
        The database folder; required by ``all`` and ``auto``.
    """
    key = spec.strip().upper()
    if key in ("DS1", "DS2"):
        return [str(r) for r in getattr(splits, key)]
    if key in ("ALL", "AUTO"):
        if data is None:
            raise CardioLiquidError(f"--records {spec}: needs the database folder (--data)")
        if key == "AUTO":
            ds2 = resolve_records("DS2")
            if all((data / f"{r}.hea").is_file() for r in ds2):
                return ds2
        return folder_records(data)
    names = [r.strip() for r in spec.split(",") if r.strip()]
    if not names:
        raise CardioLiquidError(f"--records: expected DS1, DS2, all or a comma list, got {spec!r}")
    return names


def collect_eeg_files(paths: list[Path]) -> list[Path]:
    """Expand folders into the EEG files they hold (sorted); keep files as given."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix.lower() in EEG_SUFFIXES)
        else:
            out.append(p)
    if not out:
        raise RecordingError(
            paths[0] if paths else None,
            f"expected EEG files ({', '.join(EEG_SUFFIXES)}), found none",
        )
    return out


def read_predictions(folder: Path, record: str) -> tuple[np.ndarray, np.ndarray]:
    """Beat times and AAMI letters of ``<folder>/<record>.cla`` (other symbols skipped)."""
    path = folder / f"{record}.{PREDICTION_EXTENSION}"
    if not path.is_file():
        raise RecordingError(
            path,
            "prediction file not found: expected the output of "
            "`cardioliquid score` for this record",
        )
    try:
        ann = wfdb.rdann(str(folder / record), PREDICTION_EXTENSION)
    except Exception as e:
        raise RecordingError(path, f"unreadable WFDB annotation file: {e}") from e
    symbols = np.asarray(ann.symbol, dtype=str)
    keep = np.isin(symbols, AAMI_CLASSES)
    return np.asarray(ann.sample, dtype=np.int64)[keep], symbols[keep]
