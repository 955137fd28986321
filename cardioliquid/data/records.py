"""Window arrays of one record, read through the cache: heartbeats of an ECG, windows of an EEG.

Training (the DataModules), the torch datasets of :mod:`cardioliquid.data.datasets`
and anything else that windows a record file go through these functions, so
there is one cache (:mod:`cardioliquid.data.cache`) and one definition of a
record's labelled windows. Each record's entry holds every window, labelled or
not, with the record and patient ids; callers drop unlabelled ones (-1) as needed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cardioliquid.data.cache import DEFAULT_CACHE_DIR, Arrays, cached_arrays
from cardioliquid.io.eeg import BONN_SEIZURE_SET
from cardioliquid.io.load import load_recording
from cardioliquid.io.recording import Recording
from cardioliquid.signal.config import BeatPreprocessing, WindowPreprocessing
from cardioliquid.signal.windows import beat_windows, eeg_windows

CacheDir = str | os.PathLike | None


def _source(path: Path) -> Path:
    """The file :func:`load_recording` reads: a WFDB record path gets its ``.hea``."""
    return path if path.suffix else path.with_suffix(".hea")


def _ids(rec: Recording) -> Arrays:
    return {"record_id": np.array(rec.record_id), "patient_id": np.array(rec.patient_id)}


def beats_of(rec: Recording, prep: BeatPreprocessing) -> Arrays:
    """Every beat window of a loaded recording (uncached).

    Returns ``x`` (n, 1, n_times) float32, ``features`` (n, n_features) float32,
    ``labels`` (n,) int64 (-1: no class), ``sample`` (n,) int64 R-peak positions,
    and the 0-d ``record_id`` / ``patient_id``.
    """
    bw = beat_windows(rec, prep)
    return {"x": np.asarray(bw.x, dtype=np.float32),
            "features": np.asarray(bw.features, dtype=np.float32),
            "labels": np.asarray(bw.labels, dtype=np.int64),
            "sample": np.asarray(bw.sample, dtype=np.int64), **_ids(rec)}


def eeg_of(rec: Recording, prep: WindowPreprocessing) -> Arrays:
    """Every EEG window of a loaded recording (uncached).

    Labels come from the recording's seizure annotations. A Bonn segment
    (whole-recording label, no seizure intervals) is all seizure when it is
    from set E and all background otherwise.
    Returns ``x`` (n, C, n_times) float32, ``labels`` (n,) int64 (-1: unusable),
    ``start_s`` (n,) and the 0-d ``record_id`` / ``patient_id``.
    """
    w = eeg_windows(rec, prep)
    labels = np.asarray(w.labels, dtype=np.int64)
    if rec.label is not None and not rec.seizures:
        labels = np.full(len(labels), int(rec.label == BONN_SEIZURE_SET), dtype=np.int64)
    return {"x": np.asarray(w.x, dtype=np.float32), "labels": labels,
            "start_s": np.asarray(w.start_s, dtype=np.float64), **_ids(rec)}


def beat_arrays(path: str | os.PathLike, prep: BeatPreprocessing,
                cache_dir: CacheDir = DEFAULT_CACHE_DIR) -> Arrays:
    """:func:`beats_of` the record at ``path``, through the cache."""
    path = Path(path)
    return cached_arrays(path, prep.to_dict(), lambda: beats_of(load_recording(_source(path)),
                                                                prep),
                         cache_dir, extra={"windows": "beats"})


def eeg_arrays(path: str | os.PathLike, prep: WindowPreprocessing,
               cache_dir: CacheDir = DEFAULT_CACHE_DIR) -> Arrays:
    """:func:`eeg_of` the recording at ``path``, through the cache."""
    path = Path(path)
    return cached_arrays(path, prep.to_dict(), lambda: eeg_of(load_recording(path), prep),
                         cache_dir, extra={"windows": "eeg"})


def record_beats(
    path: str | os.PathLike, prep: BeatPreprocessing, cache_dir: CacheDir = None,
    keep_unlabelled: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labelled beat windows of one record: ``(x, features, labels)``.

    Beats with no class (label -1) are dropped, unless ``keep_unlabelled``:
    then every beat stays, in order (a model of the beat sequence must step
    over all of them, as in scoring), and unlabelled ones keep label -1.

    Parameters
    ----------
    path : path
        Record path without extension (``.../mitdb/100``) or a file.
    prep : BeatPreprocessing
        The preprocessing.
    cache_dir : path, optional
        Cache folder; ``None`` disables caching.
    keep_unlabelled : bool
        Keep the beats without a class.
    """
    a = beat_arrays(path, prep, cache_dir)
    if keep_unlabelled:
        return a["x"], a["features"], a["labels"]
    keep = a["labels"] >= 0
    return a["x"][keep], a["features"][keep], a["labels"][keep]


def recording_windows(
    path: str | os.PathLike, prep: WindowPreprocessing, cache_dir: CacheDir = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(x, labels)`` windows of one EEG file; unlabelled windows (-1) are dropped."""
    a = eeg_arrays(path, prep, cache_dir)
    keep = a["labels"] >= 0
    return a["x"][keep], a["labels"][keep]
