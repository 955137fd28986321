"""Per-record heartbeat arrays for training, cached on disk by preprocessing.

Windowing a half-hour MIT-BIH record takes a second or two; training reads the
same records every run, so the arrays are cached under ``cache_dir`` in a file
keyed by the record and a hash of the preprocessing dict.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from cardioliquid.data.datasets import save_npz
from cardioliquid.signal.config import BeatPreprocessing

BEAT_CACHE_VERSION = 2
"""Version of what :func:`beat_windows` computes for a given preprocessing.

Part of the cache key: bump it whenever a change to the code changes the
windows or features of an unchanged preprocessing dict, or stale cached
beats are silently reused (version 2: the ``"robust"`` RR set was briefly
computed as log ratios under the same dict).
"""


def prep_key(prep_dict: dict) -> str:
    """A short stable hash of a preprocessing dict and :data:`BEAT_CACHE_VERSION`.

    ``af_gate`` is left out: it settles calls after the model, the windows do
    not depend on it.
    """
    windowing = {k: v for k, v in prep_dict.items() if k not in ("af_gate", "af_gate_rule")}
    blob = json.dumps({**windowing, "_cache_version": BEAT_CACHE_VERSION}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def record_beats(
    path: str | os.PathLike, prep: BeatPreprocessing, cache_dir: str | os.PathLike | None = None,
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
    """
    path = Path(path)
    cache = None
    if cache_dir is not None:
        key = prep_key(prep.to_dict())
        suffix = "_all" if keep_unlabelled else ""
        cache = Path(cache_dir) / "beats" / key / f"{path.parent.name}_{path.name}{suffix}.npz"
        if cache.is_file():
            with np.load(cache) as z:
                return z["x"], z["features"], z["labels"]
    from cardioliquid.io import load_recording
    from cardioliquid.signal.windows import beat_windows

    src = path if path.suffix else path.with_suffix(".hea")
    bw = beat_windows(load_recording(src), prep)
    keep = np.ones(len(bw), dtype=bool) if keep_unlabelled else np.asarray(bw.labels) >= 0
    x = np.asarray(bw.x, dtype=np.float32)[keep]
    feats = np.asarray(bw.features, dtype=np.float32)[keep]
    labels = np.asarray(bw.labels, dtype=np.int64)[keep]
    if cache is not None:
        save_npz(cache, {"x": x, "features": feats, "labels": labels})
    return x, feats, labels
