"""PyTorch datasets of heartbeat windows and EEG windows over the one window cache.

The public :class:`torch.utils.data.Dataset` view of :mod:`cardioliquid.data.records`:
the same per-record arrays, through the same cache (:mod:`cardioliquid.data.cache`),
that the training DataModules read, concatenated over records. Every item
remembers its record and patient (``record_ids``, ``patient_ids``) so splits and
reports stay patient-wise, and unlabelled windows stay in (label -1), in order.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from cardioliquid._check import check_option
from cardioliquid.data.cache import DEFAULT_CACHE_DIR, Arrays
from cardioliquid.data.records import beat_arrays, beats_of, eeg_arrays, eeg_of
from cardioliquid.errors import RecordingError
from cardioliquid.io.recording import Recording
from cardioliquid.signal.config import BeatPreprocessing, WindowPreprocessing
from cardioliquid.signal.windows import n_beat_features

RecordSource = str | os.PathLike | Recording

_IDS = ("record_id", "patient_id")


class _WindowDataset(Dataset):
    """Shared machinery: per-record window arrays, concatenated, with ids per item."""

    # Subclasses set these: loaded recording -> arrays, and path -> arrays (cached).
    _of: Callable[[Recording, object], Arrays]
    _cached: Callable[[Path, object, object], Arrays]

    def __init__(
        self,
        records: Sequence[RecordSource],
        preprocessing: BeatPreprocessing | WindowPreprocessing,
        cache_dir: str | os.PathLike | None = DEFAULT_CACHE_DIR,
        on_error: str = "raise",
    ) -> None:
        check_option("on_error", on_error, ["raise", "skip"])
        self.preprocessing = preprocessing
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self.skipped: dict[str, str] = {}
        parts: list[Arrays] = []
        for src in records:
            try:
                parts.append(self._arrays(src))
            except RecordingError as e:
                if on_error == "raise":
                    raise
                self.skipped[str(src.record_id if isinstance(src, Recording) else src)] = str(e)
        keys = [k for k in self._empty() if k not in _IDS]
        self.arrays = {k: np.concatenate([p[k] for p in parts]) if parts else self._empty()[k]
                       for k in keys}
        counts = [len(p["labels"]) for p in parts]
        self.record_ids, self.patient_ids = (
            np.asarray([str(p[k]) for p, n in zip(parts, counts, strict=True) for _ in range(n)],
                       dtype=object) for k in _IDS)

    def _arrays(self, src: RecordSource) -> Arrays:
        if isinstance(src, Recording):
            return self._of(src, self.preprocessing)
        return self._cached(Path(src), self.preprocessing, self.cache_dir)

    def _empty(self) -> Arrays:
        raise NotImplementedError

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
        The window cache folder; None disables caching.
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

    _of = staticmethod(beats_of)
    _cached = staticmethod(beat_arrays)

    def _empty(self) -> Arrays:
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

    _of = staticmethod(eeg_of)
    _cached = staticmethod(eeg_arrays)

    def _empty(self) -> Arrays:
        p = self.preprocessing
        return {"x": np.zeros((0, max(1, len(p.channels)), p.n_times), np.float32),
                "labels": np.zeros(0, np.int64), "start_s": np.zeros(0, np.float64)}

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        a = self.arrays
        return torch.from_numpy(a["x"][i]), torch.tensor(a["labels"][i], dtype=torch.long)
