"""Torch datasets of heartbeat windows and EEG windows, cached on disk.

Each record is loaded, windowed with :mod:`cardioliquid.signal.windows` and
its arrays cached as ``.npz`` under ``cache_dir`` (default ``data/cache``),
keyed by a hash of the preprocessing dict, the record path and the size and
modification time of its files: changing any of them rebuilds the cache.
Every item remembers its record and patient (``record_ids``, ``patient_ids``)
so splits and reports stay patient-wise.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from cardioliquid._atomic import atomic_write
from cardioliquid.errors import RecordingError
from cardioliquid.io.load import load_recording
from cardioliquid.io.recording import Recording
from cardioliquid.io.wfdb import record_base
from cardioliquid.signal.config import BeatPreprocessing, WindowPreprocessing
from cardioliquid.signal.windows import beat_windows, eeg_windows, n_beat_features

CACHE_VERSION = 2
"""Bumped when windowing changes in a way the preprocessing dict does not show."""

DEFAULT_CACHE_DIR = Path("data") / "cache"

RecordSource = str | os.PathLike | Recording


def _record_files(path: Path) -> list[Path]:
    """The files a record's windows depend on (WFDB: header, signal, annotations)."""
    if path.is_file() and path.suffix.lower() not in (".hea", ".dat", ".atr"):
        extra = [p for p in (path.with_name(f"{path.stem}_events.tsv"),
                             Path(f"{path}.seizures")) if p.is_file()]
        return [path, *extra]
    base = record_base(path)
    return sorted(p for p in base.parent.glob(f"{base.name}.*") if p.is_file())


def cache_key(path: str | os.PathLike, preprocessing: dict, extra: dict | None = None) -> str:
    """Hex digest identifying ``path``'s windows under ``preprocessing``."""
    p = Path(path).resolve()
    stats = [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in _record_files(p)]
    blob = json.dumps({"v": CACHE_VERSION, "path": str(p), "files": stats,
                       "prep": preprocessing, "extra": extra or {}}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Save ``arrays`` as an ``.npz`` file atomically (a cache entry is whole or absent)."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: np.savez would append ".npz" to a name
            np.savez(f, **arrays)

    atomic_write(path, write)


class _WindowDataset(Dataset):
    """Shared machinery: per-record window arrays, concatenated, with ids per item."""

    def __init__(
        self,
        records: Sequence[RecordSource],
        preprocessing: BeatPreprocessing | WindowPreprocessing,
        cache_dir: str | os.PathLike | None = DEFAULT_CACHE_DIR,
        loader: Callable[[str | os.PathLike], Recording] = load_recording,
        on_error: str = "raise",
    ) -> None:
        if on_error not in ("raise", "skip"):
            raise ValueError(f"Invalid value for the 'on_error' parameter. Allowed values are "
                             f"'raise', 'skip', but got {on_error!r} instead.")
        self.preprocessing = preprocessing
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self.skipped: dict[str, str] = {}
        parts: list[dict[str, np.ndarray]] = []
        rec_ids: list[str] = []
        pat_ids: list[str] = []
        for src in records:
            try:
                arrays, rid, pid = self._record_arrays(src, loader)
            except RecordingError as e:
                if on_error == "raise":
                    raise
                self.skipped[str(src if not isinstance(src, Recording) else src.record_id)] = str(e)
                continue
            parts.append(arrays)
            n = len(next(iter(arrays.values())))
            rec_ids += [rid] * n
            pat_ids += [pid] * n
        self.arrays = {k: np.concatenate([p[k] for p in parts]) if parts else
                       self._empty()[k] for k in self._empty()}
        self.record_ids = np.asarray(rec_ids, dtype=object)
        self.patient_ids = np.asarray(pat_ids, dtype=object)

    # -- hooks for the subclasses
    def _windows(self, rec: Recording) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _empty(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _record_arrays(self, src: RecordSource, loader) -> tuple[dict[str, np.ndarray], str, str]:
        if isinstance(src, Recording):
            return self._windows(src), src.record_id, src.patient_id
        prep = self.preprocessing.to_dict()
        cache = None
        if self.cache_dir is not None and _record_files(Path(src)):
            name = record_base(src).name if Path(src).suffix.lower() == ".hea" else Path(src).name
            cache = self.cache_dir / f"{name}-{cache_key(src, prep)}.npz"
            if cache.is_file():
                with np.load(cache, allow_pickle=False) as z:
                    arrays = {k: z[k] for k in z.files}
                ids = arrays.pop("_ids")
                return arrays, str(ids[0]), str(ids[1])
        rec = loader(src)
        arrays = self._windows(rec)
        if cache is not None:
            save_npz(cache, {**arrays, "_ids": np.array([rec.record_id, rec.patient_id])})
        return arrays, rec.record_id, rec.patient_id

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def labels(self) -> np.ndarray:
        """Class index of every item (int64; -1 unknown)."""
        return self.arrays["labels"]

    def indices_of_patients(self, patients: Sequence[str]) -> np.ndarray:
        """Item indices belonging to ``patients`` (for patient-wise subsets)."""
        return np.flatnonzero(np.isin(self.patient_ids.astype(str), list(map(str, patients))))


class BeatDataset(_WindowDataset):
    """Heartbeat windows of ECG records: items ``(x, features, label)``.

    Parameters
    ----------
    records : sequence of path or Recording
        WFDB record paths (``data/mitdb/100``) or loaded recordings (not cached).
    preprocessing : BeatPreprocessing
    cache_dir : path or None
        Where ``.npz`` caches go; None disables caching.
    loader : callable
        Path -> Recording (default :func:`cardioliquid.io.load_recording`).
    on_error : {"raise", "skip"}
        What to do with a record that raises :class:`RecordingError`;
        skipped ones are listed in ``skipped`` with the reason.

    Attributes
    ----------
    arrays : dict
        ``x`` (n, 1, n_times) float32, ``features`` (n, n_features) float32,
        ``labels`` (n,) int64, ``sample`` (n,) int64 R-peak positions.
    record_ids, patient_ids : ndarray of str, shape (n,)
    """

    def _windows(self, rec: Recording) -> dict[str, np.ndarray]:
        w = beat_windows(rec, self.preprocessing)
        return {"x": w.x, "features": w.features, "labels": w.labels, "sample": w.sample}

    def _empty(self) -> dict[str, np.ndarray]:
        p = self.preprocessing
        return {"x": np.zeros((0, 1, p.n_times), np.float32),
                "features": np.zeros((0, n_beat_features(p)), np.float32),
                "labels": np.zeros(0, np.int64), "sample": np.zeros(0, np.int64)}

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        a = self.arrays
        return (torch.from_numpy(a["x"][i]), torch.from_numpy(a["features"][i]),
                torch.tensor(a["labels"][i], dtype=torch.long))


class EEGWindowDataset(_WindowDataset):
    """Sliding EEG windows: items ``(x, label)``.

    Parameters are those of :class:`BeatDataset` with a
    :class:`WindowPreprocessing`. ``arrays`` holds ``x`` (n, C, n_times),
    ``labels`` (n,) and ``start_s`` (n,).
    """

    def _windows(self, rec: Recording) -> dict[str, np.ndarray]:
        w = eeg_windows(rec, self.preprocessing)
        return {"x": w.x, "labels": w.labels, "start_s": w.start_s}

    def _empty(self) -> dict[str, np.ndarray]:
        p = self.preprocessing
        return {"x": np.zeros((0, max(1, len(p.channels)), p.n_times), np.float32),
                "labels": np.zeros(0, np.int64), "start_s": np.zeros(0, np.float64)}

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        a = self.arrays
        return torch.from_numpy(a["x"][i]), torch.tensor(a["labels"][i], dtype=torch.long)
