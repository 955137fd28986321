"""Alerts a clinician acts on: runs of ventricular beats and seizure onsets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cardioliquid.signal.quality import true_runs


@dataclass(frozen=True)
class Alert:
    """One alert: when, what, and how sure.

    Attributes
    ----------
    time_s : float
        When the alerting event starts (seconds from the recording start).
    end_s : float
        When it ends.
    kind : str
        ``"ventricular run"`` or ``"seizure"``.
    detail : str
        A sentence for the display.
    latency_s : float or None
        For a seizure that matches an expert-marked onset: detection time minus onset.
    """

    time_s: float
    end_s: float
    kind: str
    detail: str
    latency_s: float | None = None


def ventricular_runs(
    time_s: np.ndarray, labels: np.ndarray, min_beats: int = 3, label: str = "V"
) -> list[Alert]:
    """Runs of at least ``min_beats`` consecutive ventricular beats.

    Three or more consecutive ventricular ectopic beats are a run of
    ventricular tachycardia (non-sustained when shorter than 30 s).

    Parameters
    ----------
    time_s : ndarray, shape (n,)
        Beat times in order.
    labels : ndarray of str, shape (n,)
        Beat classes.
    min_beats : int
        Shortest run reported.
    """
    labels = np.asarray(labels)
    time_s = np.asarray(time_s, dtype=float)
    alerts = []
    for start, stop in true_runs(labels == label):
        n = stop - start
        if n >= min_beats:
            t0, t1 = float(time_s[start]), float(time_s[stop - 1])
            rate = 60.0 * (n - 1) / (t1 - t0) if t1 > t0 else float("nan")
            alerts.append(
                Alert(t0, t1, "ventricular run",
                      f"{n} consecutive ventricular beats at {rate:.0f} bpm")
            )  # fmt: skip
    return alerts


def seizure_alerts(
    end_s: np.ndarray,
    proba: np.ndarray,
    reference: list[tuple[float, float]],
    threshold: float = 0.5,
    min_windows: int = 2,
) -> list[Alert]:
    """Seizure onsets detected from per-window probabilities, with detection latency.

    A detection is ``min_windows`` consecutive windows at or above
    ``threshold``; it is available at the end of the last of them. When it falls
    inside an expert-marked seizure (or within 30 s after its onset ends) the
    latency is detection time minus the expert onset.

    Parameters
    ----------
    end_s : ndarray, shape (n,)
        End time of each window (when its probability is known).
    proba : ndarray, shape (n,)
        Seizure probability of each window.
    reference : list of (onset, offset)
        Expert seizures in seconds.
    """
    end_s = np.asarray(end_s, dtype=float)
    positive = np.asarray(proba) >= threshold
    alerts = []
    for start, stop in true_runs(positive):
        if stop - start < min_windows:
            continue
        detected = float(end_s[start + min_windows - 1])
        match = [(on, off) for on, off in reference if on - 30.0 <= detected <= off + 30.0]
        if match:
            onset = match[0][0]
            latency = detected - onset
            detail = f"seizure detected {latency:+.0f} s from the expert-marked onset"
        else:
            latency = None
            detail = "seizure activity detected (no expert-marked seizure here: false alarm?)"
        alerts.append(Alert(detected, float(end_s[stop - 1]), "seizure", detail, latency))
    return alerts
