"""Window probabilities -> seizure events: the one event rule.

A causal moving average over ``smooth_windows`` windows, windows at or above
``threshold`` are positive, overlapping or touching positive windows form one
event, events shorter than ``min_duration_s`` are dropped
(:class:`~cardioliquid.decision.settings.DecisionSettings`). The events
``cardioliquid score`` writes, those ``cardioliquid evaluate`` scores and those
the app draws and alerts on all come from :func:`seizure_events`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cardioliquid._check import check_positive
from cardioliquid.decision.settings import DecisionSettings

Spans = list[tuple[float, float]]


@dataclass
class SeizureEvent:
    """One detected seizure: onset and duration in seconds, mean probability."""

    onset: float
    duration: float
    confidence: float

    @property
    def offset(self) -> float:
        """End of the event in seconds."""
        return self.onset + self.duration


def smooth_probabilities(probs: np.ndarray, n_windows: int = 1) -> np.ndarray:
    """Causal moving average over the last ``n_windows`` windows (1 = unchanged).

    Causal, so a live display and offline scoring give the same events and the
    measured latency is honest.
    """
    p = np.asarray(probs, dtype=np.float64)
    if n_windows <= 1 or len(p) == 0:
        return p
    c = np.cumsum(np.concatenate([[0.0], p]))
    idx = np.arange(1, len(p) + 1)
    lo = np.maximum(idx - int(n_windows), 0)
    return (c[idx] - c[lo]) / (idx - lo)


def positive_windows(probs: np.ndarray, settings: DecisionSettings | None = None) -> np.ndarray:
    """Which windows are seizure-positive: smoothed probability at or above the threshold."""
    settings = settings or DecisionSettings()
    return smooth_probabilities(probs, settings.smooth_windows) >= settings.threshold


def _seizure_column(probs: np.ndarray) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    return p[:, -1] if p.ndim == 2 else p


def probabilities_to_events(
    start_s: np.ndarray,
    probs: np.ndarray,
    window_s: float,
    settings: DecisionSettings | None = None,
) -> Spans:
    """Turn per-window seizure probabilities into (onset, offset) events in seconds.

    Parameters
    ----------
    start_s : ndarray, shape (n,)
        Start time of each window (s), ascending.
    probs : ndarray, shape (n,) or (n, 2)
        Seizure probability per window (last column of a two-column array).
    window_s : float
        Window length (s). A positive window covers ``[start, start + window_s]``;
        overlapping or touching positive windows form one event.
    settings : DecisionSettings, optional
        The rule's threshold, smoothing and minimum duration (default: the defaults).

    Returns
    -------
    list of (float, float)
    """
    check_positive("window_s", window_s)
    settings = settings or DecisionSettings()
    start = np.asarray(start_s, dtype=np.float64)
    p = _seizure_column(probs)
    if p.shape != start.shape:
        raise ValueError(f"expected one probability per window ({start.shape}), got {p.shape}")
    events: Spans = []
    for s in start[positive_windows(p, settings)]:
        a, b = float(s), float(s) + float(window_s)
        if events and a <= events[-1][1] + 1e-9:
            events[-1] = (events[-1][0], max(events[-1][1], b))
        else:
            events.append((a, b))
    return [(a, b) for a, b in events if b - a >= settings.min_duration_s - 1e-9]


def seizure_events(
    start_s: np.ndarray,
    end_s: np.ndarray,
    probs: np.ndarray,
    settings: DecisionSettings | None = None,
) -> list[SeizureEvent]:
    """Seizure events of windows ``[start_s, end_s)`` with seizure probabilities ``probs``.

    The rule of :func:`probabilities_to_events` (window length from the first
    window).

    Returns
    -------
    events : list of SeizureEvent
        Sorted by onset; ``confidence`` is the mean smoothed probability of the
        event's positive windows.
    """
    settings = settings or DecisionSettings()
    start = np.asarray(start_s, dtype=np.float64)
    end = np.asarray(end_s, dtype=np.float64)
    if len(start) == 0:
        return []
    p = _seizure_column(probs)
    window_s = float(end[0] - start[0])
    spans = probabilities_to_events(start, p, window_s, settings)
    smoothed = smooth_probabilities(p, settings.smooth_windows)
    positive = smoothed >= settings.threshold
    events = []
    for onset, offset in spans:
        inside = positive & (start >= onset - 1e-9) & (end <= offset + 1e-9)
        conf = float(np.mean(smoothed[inside])) if inside.any() else float(settings.threshold)
        events.append(SeizureEvent(float(onset), float(offset - onset), conf))
    return events


def detection_time(
    event: SeizureEvent,
    start_s: np.ndarray,
    end_s: np.ndarray,
    probs: np.ndarray,
    settings: DecisionSettings | None = None,
) -> float:
    """When ``event`` is known to a stream: the end of the window that completes it.

    The first positive window of the event whose end lies at least
    ``min_duration_s`` after the onset (the smoothing is causal, so nothing
    later is needed).
    """
    settings = settings or DecisionSettings()
    start = np.asarray(start_s, dtype=np.float64)
    end = np.asarray(end_s, dtype=np.float64)
    positive = positive_windows(_seizure_column(probs), settings)
    inside = positive & (start >= event.onset - 1e-9) & (end <= event.offset + 1e-9)
    done = inside & (end - event.onset >= settings.min_duration_s - 1e-9)
    return float(end[done][0]) if done.any() else float(event.offset)
