"""The :class:`Recording`: one signal file with its expert annotations.

ECG (WFDB) and EEG (MNE) loaders both return this type, so everything after
``io`` handles one shape: ``signal`` is float32, channels x samples, in the
physical units named by ``units``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from cardioliquid.io.labels import AAMI_CLASSES


@dataclass
class BeatAnnotations:
    """Beat annotations of an ECG recording.

    Attributes
    ----------
    sample : ndarray of int64, shape (n_beats,)
        Sample index of each beat (the R peak), at the recording's ``fs``.
    symbol : ndarray of str, shape (n_beats,)
        The original annotation code (MIT-BIH ``N``, ``A``, ``V``...).
    aami : ndarray of str, shape (n_beats,)
        The AAMI EC57 class of each beat (``N S V F Q``).
    """

    sample: np.ndarray
    symbol: np.ndarray
    aami: np.ndarray

    def __post_init__(self) -> None:
        self.sample = np.asarray(self.sample, dtype=np.int64)
        self.symbol = np.asarray(self.symbol, dtype="<U2")
        self.aami = np.asarray(self.aami, dtype="<U1")
        if not (len(self.sample) == len(self.symbol) == len(self.aami)):
            raise ValueError("sample, symbol and aami must have the same length")

    def __len__(self) -> int:
        return len(self.sample)

    def counts(self) -> dict[str, int]:
        """Number of beats per AAMI class, in ``N S V F Q`` order."""
        return {c: int(np.sum(self.aami == c)) for c in AAMI_CLASSES}

    def select(self, mask: np.ndarray) -> BeatAnnotations:
        """Return the beats where ``mask`` is True."""
        return BeatAnnotations(self.sample[mask], self.symbol[mask], self.aami[mask])


@dataclass
class Recording:
    """A multichannel physiological recording and its annotations.

    Attributes
    ----------
    signal : ndarray of float32, shape (n_channels, n_samples)
        Samples in physical units (``units``).
    fs : float
        Sampling frequency in Hz.
    channel_names : list of str
        One name per row of ``signal`` (``MLII``, ``FP1-F7``...).
    units : str
        Physical unit of ``signal``: ``"mV"`` for ECG, ``"uV"`` for EEG.
    record_id : str
        Record name (``"100"``, ``"chb01_03"``).
    patient_id : str
        Subject identifier, used for patient-wise splits (MIT-BIH 201 and 202
        share one patient).
    modality : str
        ``"ecg"`` or ``"eeg"``.
    source : str or None
        Path of the file the recording was read from.
    beats : BeatAnnotations or None
        Expert beat annotations (ECG).
    rhythms : list of (int, str)
        Rhythm annotations: (sample, aux note such as ``"(AFIB"``).
    seizures : list of (float, float)
        Seizure intervals (onset, offset) in seconds from the recording start.
    label : str or None
        A whole-recording label where the data set gives one (Bonn set ``"E"``).
    meta : dict
        Anything else worth keeping (header comments, start time...).
    """

    signal: np.ndarray
    fs: float
    channel_names: list[str]
    units: str
    record_id: str
    patient_id: str
    modality: str
    source: str | None = None
    beats: BeatAnnotations | None = None
    rhythms: list[tuple[int, str]] = field(default_factory=list)
    seizures: list[tuple[float, float]] = field(default_factory=list)
    label: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.signal = np.ascontiguousarray(self.signal, dtype=np.float32)
        if self.signal.ndim != 2:
            raise ValueError(f"signal must be 2-D (channels, samples), got {self.signal.shape}")
        if len(self.channel_names) != self.signal.shape[0]:
            raise ValueError(
                f"{len(self.channel_names)} channel names for {self.signal.shape[0]} channels"
            )
        self.fs = float(self.fs)

    @property
    def n_channels(self) -> int:
        """Number of channels."""
        return int(self.signal.shape[0])

    @property
    def n_samples(self) -> int:
        """Number of samples per channel."""
        return int(self.signal.shape[1])

    @property
    def duration_s(self) -> float:
        """Duration in seconds."""
        return self.n_samples / self.fs

    def pick(self, channels: list[str] | str) -> Recording:
        """Return a copy holding only ``channels``, in that order."""
        names = [channels] if isinstance(channels, str) else list(channels)
        missing = [c for c in names if c not in self.channel_names]
        if missing:
            raise KeyError(f"channels {missing} not in {self.channel_names}")
        idx = [self.channel_names.index(c) for c in names]
        return replace(self, signal=self.signal[idx], channel_names=names)

    def seizure_mask(self) -> np.ndarray:
        """Boolean array (n_samples,) that is True inside a seizure."""
        mask = np.zeros(self.n_samples, dtype=bool)
        for onset, offset in self.seizures:
            mask[max(0, round(onset * self.fs)) : round(offset * self.fs)] = True
        return mask

    def __repr__(self) -> str:
        extra = f", {len(self.beats)} beats" if self.beats is not None else ""
        extra += f", {len(self.seizures)} seizures" if self.seizures else ""
        return (
            f"<Recording {self.record_id!r} ({self.modality}, patient {self.patient_id!r}): "
            f"{self.n_channels} ch x {self.n_samples} samples @ {self.fs:g} Hz "
            f"({self.duration_s:.1f} s, {self.units}){extra}>"
        )
