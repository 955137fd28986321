"""The one on-disk cache of per-record window arrays (heartbeats and EEG windows).

Windowing a half-hour MIT-BIH record takes a second or two and training reads
the same records every run, so each record's arrays are saved as one ``.npz``
file under ``cache_dir`` (default ``data/cache``). The file name holds
:func:`cache_key`: a hash of :data:`CACHE_VERSION`, the resolved record path,
the size and modification time of the record's files and the preprocessing
dict. Changing any of them gives a new key, so a stale entry is never read.
Entries are written atomically (:mod:`cardioliquid._atomic`): whole or absent.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cardioliquid._atomic import atomic_write
from cardioliquid.io.wfdb import record_base

CACHE_VERSION = 3
"""Version of what the windowing code computes for a given preprocessing dict.

Part of every key: bump it whenever a code change alters the windows, features
or labels of an unchanged preprocessing dict, or stale entries are silently
reused. Version 3 is the first of the single cache (the beat cache and the
dataset cache were both at version 2 before they were merged).
"""

DEFAULT_CACHE_DIR = Path("data") / "cache"

NOT_WINDOWING = ("af_gate", "af_gate_rule", "fuse_leads")
"""Preprocessing keys the windows do not depend on (the AF gate settles calls after
the model), left out of the key so toggling them reuses the entry."""

ADDED_AT_DEFAULT = {"stack_leads": 1}
"""Preprocessing keys added after entries were written, left out of the key at these
(their default) values, so the entries of every earlier preprocessing stay valid."""

Arrays = dict[str, np.ndarray]


def record_files(path: str | os.PathLike) -> list[Path]:
    """The files a record's windows depend on.

    A WFDB record (path with or without ``.hea``/``.dat``/``.atr``): all its
    files. Any other file (EDF, Bonn ``.txt``): the file and its seizure
    annotations (``<stem>_events.tsv``, ``<file>.seizures``) when present.
    """
    path = Path(path)
    if path.is_file() and path.suffix.lower() not in (".hea", ".dat", ".atr"):
        extra = [p for p in (path.with_name(f"{path.stem}_events.tsv"),
                             Path(f"{path}.seizures")) if p.is_file()]
        return [path, *extra]
    base = record_base(path)
    return sorted(p for p in base.parent.glob(f"{base.name}.*") if p.is_file())


def cache_key(path: str | os.PathLike, preprocessing: dict, extra: dict | None = None) -> str:
    """A short hex digest identifying ``path``'s windows under ``preprocessing``.

    Parameters
    ----------
    path : str or path
        The record (WFDB path without extension, or a file).
    preprocessing : dict
        The preprocessing dict (``BeatPreprocessing.to_dict()`` ...); the keys in
        :data:`NOT_WINDOWING` are ignored, as are those of :data:`ADDED_AT_DEFAULT` at
        their default.
    extra : dict, optional
        Anything else the arrays depend on (e.g. which kind of windows).
    """
    p = Path(path).resolve()
    stats = [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in record_files(p)]
    windowing = {k: v for k, v in preprocessing.items() if k not in NOT_WINDOWING
                 and not (k in ADDED_AT_DEFAULT and v == ADDED_AT_DEFAULT[k])}
    blob = json.dumps({"v": CACHE_VERSION, "path": str(p), "files": stats,
                       "prep": windowing, "extra": extra or {}}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def cache_file(cache_dir: str | os.PathLike, path: str | os.PathLike, preprocessing: dict,
               extra: dict | None = None) -> Path:
    """Where ``path``'s arrays are cached: ``<cache_dir>/<folder>_<record>-<key>.npz``."""
    base = record_base(path)
    return Path(cache_dir) / f"{base.parent.name}_{base.name}-{cache_key(path, preprocessing, extra)}.npz"


def read_arrays(file: str | os.PathLike) -> Arrays:
    """The arrays of a cache entry (no pickled objects are read)."""
    with np.load(file, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def write_arrays(file: str | os.PathLike, arrays: Arrays) -> None:
    """Save ``arrays`` as one ``.npz`` file atomically (an entry is whole or absent)."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: np.savez would append ".npz" to a name
            np.savez(f, **arrays)

    atomic_write(file, write)


def cached_arrays(
    path: str | os.PathLike,
    preprocessing: dict,
    compute: Callable[[], Arrays],
    cache_dir: str | os.PathLike | None = DEFAULT_CACHE_DIR,
    extra: dict | None = None,
) -> Arrays:
    """``path``'s arrays from the cache, else ``compute()``'d and cached.

    Parameters
    ----------
    path : str or path
        The record the arrays come from (it names and keys the entry).
    preprocessing : dict
        The preprocessing dict ``compute`` applies.
    compute : callable
        Builds the arrays (loads and windows the record) on a miss.
    cache_dir : str or path, optional
        Cache folder; ``None`` computes without caching.
    extra : dict, optional
        See :func:`cache_key`.
    """
    if cache_dir is None:
        return compute()
    file = cache_file(cache_dir, path, preprocessing, extra)
    if file.is_file():
        return read_arrays(file)
    arrays = compute()
    write_arrays(file, arrays)
    return arrays
