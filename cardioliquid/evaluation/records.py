"""Which records an evaluation reads: a WFDB database's records, EEG files, prediction files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import wfdb

from cardioliquid.data import splits
from cardioliquid.errors import CardioLiquidError, RecordingError
from cardioliquid.io.labels import AAMI_CLASSES
from cardioliquid.io.pull import inside_dest
from cardioliquid.scoring.writers import read_manifest

PREDICTION_EXTENSION = "cla"
"""Annotator of the beat-class files ``cardioliquid score`` writes (``<record>.cla``)."""

SCORE_SUMMARY = "summary.json"
"""The run summary ``cardioliquid score`` writes beside its outputs (model name and SHA-256)."""

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


def predictions_provenance(folder: Path, records: Sequence[str]) -> dict[str, Any]:
    """What a ``cardioliquid score`` output folder says about the run that made its calls.

    ``summary.json`` names the model (name, SHA-256) and the run key; each
    record's manifest (``<record>.done.json``) carries the run key of the run
    that wrote it, its beat source and, when the model's decision settings
    have the AF gate, ``af_beats``. The model is stated only when every
    record's manifest carries the summary's run key (a folder scored again
    with another model keeps the other run's records): otherwise it is None
    and ``note`` says why.

    Parameters
    ----------
    folder : Path
        The ``--predictions`` folder.
    records : sequence of str
        The records whose calls were evaluated.

    Returns
    -------
    dict
        ``{"folder", "model", "model_sha256", "af_gate", "beats", "run_key",
        "note"}``; a value the folder does not state is None.
    """
    out: dict[str, Any] = {"folder": str(folder), "model": None, "model_sha256": None,
                           "af_gate": None, "beats": None, "run_key": None, "note": None}
    try:
        summary = json.loads((folder / SCORE_SUMMARY).read_text())
    except (OSError, ValueError):
        summary = None
    summary = summary if isinstance(summary, dict) else None
    manifests = [read_manifest(folder, r) for r in records]
    manifests = [m if isinstance(m, dict) else None for m in manifests]
    missing = [r for r, m in zip(records, manifests, strict=True) if m is None]
    if not missing and manifests:
        gated = {"af_beats" in m for m in manifests}
        out["af_gate"] = gated.pop() if len(gated) == 1 else None
        sources = {m.get("beat_source") for m in manifests}
        out["beats"] = sources.pop() if len(sources) == 1 else None
    if summary is None:
        out["note"] = f"no readable {SCORE_SUMMARY} in the folder: the model is not known"
        return out
    model = summary.get("model") if isinstance(summary.get("model"), dict) else {}
    run_key = (summary.get("options") or {}).get("run_key") or None
    out["run_key"] = run_key
    other = [r for r, m in zip(records, manifests, strict=True)
             if m is None or run_key is None or m.get("run_key") != run_key]
    if other:
        out["note"] = (f"{len(other)} of {len(records)} records ({', '.join(other[:5])}"
                       f"{', ...' if len(other) > 5 else ''}) have no manifest of the run in "
                       f"{SCORE_SUMMARY}: the model that made their calls is not known")
        return out
    out["model"] = model.get("name") or None
    out["model_sha256"] = model.get("sha256") or None
    return out
