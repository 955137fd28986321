"""A recording's input-side files: what a scoring run must not overwrite, and what resume compares.

- :func:`reference_files`: the annotation files the loaders read as a
  recording's reference, present or not;
- :func:`check_outputs_apart`: refuse a run whose outputs would overwrite a
  recording's files, or land where the loader reads its reference annotations
  (``cardioliquid score in --task seizure --out in`` would write
  ``in/<rec>_events.tsv``, which ``cardioliquid evaluate`` then reads as the
  expert's events);
- :func:`input_fingerprint`: size and modification time (ns) of a record's
  files, as the window cache keys them
  (:func:`cardioliquid.data.cache.record_files`); stored in each record's
  manifest, so ``--resume`` re-scores a record whose inputs changed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from cardioliquid.data.cache import record_files
from cardioliquid.errors import CardioLiquidError, RecordingError
from cardioliquid.io.eeg import events_tsv_candidates
from cardioliquid.io.load import detect_format
from cardioliquid.io.wfdb import record_base
from cardioliquid.scoring import writers


def _key(path: Path) -> Path:
    return Path(os.path.realpath(path))


def reference_files(path: str | os.PathLike) -> list[Path]:
    """The files the loaders read as ``path``'s reference annotations, whether present or not.

    WFDB: ``<record>.atr`` (:func:`~cardioliquid.io.wfdb.load_ecg`). EEG: the
    ``*_events.tsv`` names :func:`~cardioliquid.io.eeg.find_seizures` looks for
    beside the file (``<stem>_events.tsv``, the stem without every suffix, and
    BIDS ``..._eeg.edf`` -> ``..._events.tsv``) and ``<file>.seizures``. A path
    of no known format has none (it fails when loaded).
    """
    path = Path(path)
    try:
        fmt = detect_format(path)
    except RecordingError:
        return []
    if fmt == "wfdb":
        base = record_base(path)
        return [base.with_name(f"{base.name}.atr")]
    return [*events_tsv_candidates(path), Path(f"{path}.seizures")]


def input_fingerprint(path: str | os.PathLike, exclude: Iterable[Path] = ()) -> dict[str, Any]:
    """Size and modification time of each of a record's files, by file name.

    Parameters
    ----------
    path : str or path
        The recording (WFDB record or file), as discovered.
    exclude : iterable of Path
        Files left out: the record's own outputs, when they are written beside
        the recording (a WFDB record's files are ``<record>.*``, and so is its
        ``.cla``).

    Returns
    -------
    dict
        ``{file name: {"bytes": size, "mtime_ns": modification time}}``.
    """
    skip = {_key(p) for p in exclude}
    stats = {}
    for f in record_files(path):
        if _key(f) not in skip:
            st = f.stat()
            stats[f.name] = {"bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
    return stats


def _earlier_output(target: Path, name: str, manifest: dict[str, Any]) -> bool:
    """Whether ``target`` is record ``name``'s output as its manifest lists it (unchanged)."""
    if manifest.get("record") != name:
        return False
    if target.name == writers.manifest_path(target.parent, name).name:
        return True
    entry = manifest.get("files", {}).get(target.name)
    return bool(entry) and target.stat().st_size == entry.get("bytes") and (
        writers.sha256(target) == entry.get("sha256"))


def check_outputs_apart(
    records: Sequence[Path], names: dict[Path, str], out_dir: Path, task: str, parquet: bool
) -> None:
    """Raise unless every output of every record lies apart from the recordings' input files.

    An output may not be (or, when absent, become) a file the loaders read as
    a recording's reference annotations (:func:`reference_files`), nor
    overwrite another file of a recording
    (:func:`~cardioliquid.data.cache.record_files`), unless that file is the
    record's output of an earlier run, unchanged since its manifest listed it.

    Raises
    ------
    CardioLiquidError
        Naming the file an output would overwrite or shadow, and its recording.
    """
    out_dir = Path(out_dir)
    records = [p for p in records if _key(p.parent) == _key(out_dir)]  # files lie beside them
    references = {_key(f): p for p in records for f in reference_files(p)}
    inputs = {_key(f): p for p in records for f in record_files(p)}
    wanted = f"expected --out apart from the recordings (got --out {out_dir})"
    for p in records:
        name = names[p]
        manifest = writers.read_manifest(out_dir, name) or {}
        for fname in writers.record_outputs(name, task, parquet):
            target = out_dir / fname
            if (rec := references.get(_key(target))) is not None:
                raise CardioLiquidError(
                    f"{target}: refusing to overwrite the reference annotations of {rec} with "
                    f"the scores of record {name!r}; {wanted}" if target.exists() else
                    f"{target}: refusing to write the scores of record {name!r} where the "
                    f"loader reads the reference annotations of {rec}; {wanted}"
                )
            rec = inputs.get(_key(target))
            if rec is not None and not _earlier_output(target, name, manifest):
                raise CardioLiquidError(
                    f"{target}: refusing to overwrite a file of recording {rec} (no manifest "
                    f"of an earlier score run lists it); {wanted}"
                )
