"""Labelled EEG windows of one recording for training (CHB-MIT EDF, Bonn txt)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cardioliquid.signal.config import WindowPreprocessing

BONN_SEIZURE_SET = "E"


def recording_windows(
    path: str | os.PathLike, prep: WindowPreprocessing
) -> tuple[np.ndarray, np.ndarray]:
    """``(x, labels)`` windows of one EEG file; unlabelled windows (-1) are dropped.

    Labels come from the recording's seizure annotations. A Bonn segment
    (whole-recording label, no seizure intervals) is all seizure when it is
    from set E and all background otherwise.
    """
    from cardioliquid.io import load_recording
    from cardioliquid.signal.windows import eeg_windows

    rec = load_recording(Path(path))
    w = eeg_windows(rec, prep)
    labels = np.asarray(w.labels, dtype=np.int64)
    if rec.label is not None and not rec.seizures:
        labels = np.full(len(labels), int(rec.label == BONN_SEIZURE_SET), dtype=np.int64)
    keep = labels >= 0
    return np.asarray(w.x, dtype=np.float32)[keep], labels[keep]
