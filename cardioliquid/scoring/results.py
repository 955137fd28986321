"""What scoring returns: per-beat and per-window predictions of one recording.

:class:`BeatPredictions` (ECG) and :class:`WindowPredictions` (EEG) hold the
settled probabilities; :meth:`WindowPredictions.events` turns windows into
seizure events through the one event rule
(:func:`cardioliquid.decision.events.seizure_events`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from cardioliquid.decision.events import SeizureEvent, seizure_events
from cardioliquid.decision.settings import DecisionSettings


@dataclass
class BeatPredictions:
    """Per-beat predictions of one ECG recording.

    Attributes
    ----------
    sample : ndarray of int64, shape (n,)
        R-peak positions at the recording's ``fs``.
    proba : ndarray of float32, shape (n, n_classes)
        Class probabilities (softmax of the model's logits).
    classes : list of str
        Class order of ``proba`` (AAMI ``N S V F Q``).
    fs : float
        Sampling rate of ``sample``.
    beat_source : str
        Where the R peaks came from: ``"reference"`` (expert annotations) or
        ``"detect"`` (the kept R-peak detector).
    record_id : str
        The recording scored.
    af : ndarray of bool, shape (n,), optional
        Beats in atrial-fibrillation-like rhythm, for a model whose
        decision settings have ``af_gate`` (their S probability was moved to N);
        None for other models.
    lead : str
        The ECG lead the model read (empty when not known); the leads joined
        by ``+`` (``"MLII+V1"``) when it averaged several.
    leads_off : tuple of str
        Leads the model would have read but left out, having no usable sample in
        the whole recording (lead off throughout).
    """

    sample: np.ndarray
    proba: np.ndarray
    classes: list[str]
    fs: float
    beat_source: str
    record_id: str = ""
    af: np.ndarray | None = None
    lead: str = ""
    leads_off: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.sample = np.asarray(self.sample, dtype=np.int64).reshape(-1)
        self.proba = np.asarray(self.proba, dtype=np.float32).reshape(
            len(self.sample), len(self.classes)
        )
        if self.af is not None:
            self.af = np.asarray(self.af, dtype=bool).reshape(len(self.sample))

    def __len__(self) -> int:
        return len(self.sample)

    @property
    def time_s(self) -> np.ndarray:
        """Beat times in seconds from the recording start."""
        return self.sample / self.fs

    @property
    def label_index(self) -> np.ndarray:
        """Index of the most probable class of each beat."""
        return np.argmax(self.proba, axis=1) if len(self) else np.zeros(0, dtype=np.int64)

    @property
    def labels(self) -> np.ndarray:
        """Predicted class letter of each beat (``"N"``, ``"V"``...)."""
        return np.asarray(self.classes, dtype="<U4")[self.label_index]

    def counts(self) -> dict[str, int]:
        """Number of beats predicted per class, in class order."""
        idx = self.label_index
        return {c: int(np.sum(idx == i)) for i, c in enumerate(self.classes)}

    def concat(self, other: BeatPredictions) -> BeatPredictions:
        """Append ``other`` (later beats of the same recording)."""
        af = None
        if self.af is not None or other.af is not None:
            af = np.concatenate([_flags(self), _flags(other)])
        return replace(
            self,
            sample=np.concatenate([self.sample, other.sample]),
            proba=np.concatenate([self.proba, other.proba]),
            af=af,
        )


def _flags(pred: BeatPredictions) -> np.ndarray:
    return np.zeros(len(pred), dtype=bool) if pred.af is None else pred.af




@dataclass
class WindowPredictions:
    """Per-window predictions of one EEG recording.

    Attributes
    ----------
    start_s, end_s : ndarray of float64, shape (n,)
        Window bounds in seconds from the recording start.
    proba : ndarray of float32, shape (n, n_classes)
        Class probabilities (``bckg``, ``sz``).
    classes : list of str
        Class order of ``proba``.
    record_id : str
        The recording scored.
    duration_s : float
        Length of the recording (seconds).
    channels : list of str
        The channels the model read.
    """

    start_s: np.ndarray
    end_s: np.ndarray
    proba: np.ndarray
    classes: list[str]
    record_id: str = ""
    duration_s: float = 0.0
    channels: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.start_s = np.asarray(self.start_s, dtype=np.float64).reshape(-1)
        self.end_s = np.asarray(self.end_s, dtype=np.float64).reshape(-1)
        self.proba = np.asarray(self.proba, dtype=np.float32).reshape(
            len(self.start_s), len(self.classes)
        )

    def __len__(self) -> int:
        return len(self.start_s)

    @property
    def label_index(self) -> np.ndarray:
        """Index of the most probable class of each window."""
        return np.argmax(self.proba, axis=1) if len(self) else np.zeros(0, dtype=np.int64)

    @property
    def labels(self) -> np.ndarray:
        """Predicted class name of each window."""
        return np.asarray(self.classes, dtype="<U8")[self.label_index]

    def counts(self) -> dict[str, int]:
        """Number of windows predicted per class."""
        idx = self.label_index
        return {c: int(np.sum(idx == i)) for i, c in enumerate(self.classes)}

    @property
    def seizure_proba(self) -> np.ndarray:
        """Probability of the seizure class (the last class) per window."""
        col = self.classes.index("sz") if "sz" in self.classes else self.proba.shape[1] - 1
        return self.proba[:, col] if len(self) else np.zeros(0, dtype=np.float32)

    def events(self, settings: DecisionSettings | None = None) -> list[SeizureEvent]:
        """Seizure events under ``settings`` (default: the defaults).

        Pass the model's settings (``loaded.decision``), with any flags
        applied (:meth:`DecisionSettings.override`); see
        :func:`cardioliquid.decision.events.seizure_events`.
        """
        return seizure_events(self.start_s, self.end_s, self.seizure_proba, settings)

    def concat(self, other: WindowPredictions) -> WindowPredictions:
        """Append ``other`` (later windows of the same recording)."""
        return replace(
            self,
            start_s=np.concatenate([self.start_s, other.start_s]),
            end_s=np.concatenate([self.end_s, other.end_s]),
            proba=np.concatenate([self.proba, other.proba]),
            duration_s=max(self.duration_s, other.duration_s),
        )
