"""Reading recordings: WFDB ECG, MNE EEG, Bonn segments, and pulling data sets.

:func:`load_recording` picks the reader from the path; every reader returns a
:class:`Recording` and raises :class:`~cardioliquid.errors.RecordingError` on
bad input.
"""

from __future__ import annotations

from cardioliquid.io.eeg import list_bonn, load_bonn, load_eeg
from cardioliquid.io.load import detect_format, load_recording
from cardioliquid.io.recording import BeatAnnotations, Recording
from cardioliquid.io.wfdb import load_ecg

__all__ = [
    "BeatAnnotations",
    "Recording",
    "detect_format",
    "list_bonn",
    "load_bonn",
    "load_ecg",
    "load_eeg",
    "load_recording",
]
