"""Alerts a clinician acts on: runs of ventricular beats and seizure onsets.

The seizure alerts are the events of the one event rule
(:func:`cardioliquid.decision.events.seizure_events`), so the app alerts on
exactly the events ``cardioliquid score`` writes and ``cardioliquid evaluate``
scores; each is raised when a stream would know it
(:func:`~cardioliquid.decision.events.detection_time`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cardioliquid.decision.events import detection_time, seizure_events
from cardioliquid.decision.settings import DecisionSettings
from cardioliquid.signal.quality import true_runs


@dataclass(frozen=True)
class Alert:
    """One alert: when, what, and how sure.

    Attributes
    ----------
    time_s : float
        When the alert is raised (seconds from the recording start): a
        ventricular run's first beat; the moment a seizure event is known.
    end_s : float
        When the alerting event ends.
    kind : str
        ``"ventricular run"`` or ``"seizure"``.
    detail : str
        A sentence for the display.
    latency_s : float or None
        For a seizure that matches an expert-marked one: alert time minus onset.
    """

    time_s: float
    end_s: float
    kind: str
    detail: str
    latency_s: float | None = None


def ventricular_runs(
    time_s: np.ndarray,
    labels: np.ndarray,
    settings: DecisionSettings | None = None,
    label: str = "V",
) -> list[Alert]:
    """Runs of at least ``settings.vt_run_beats`` consecutive ventricular beats.

    Three or more consecutive ventricular ectopic beats are a run of
    ventricular tachycardia (non-sustained when shorter than 30 s).

    Parameters
    ----------
    time_s : ndarray, shape (n,)
        Beat times in order.
    labels : ndarray of str, shape (n,)
        Beat classes.
    settings : DecisionSettings, optional
        The model's settings (default: the defaults).
    label : str
        The ventricular class.
    """
    min_beats = (settings or DecisionSettings()).vt_run_beats
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
    start_s: np.ndarray,
    end_s: np.ndarray,
    proba: np.ndarray,
    reference: Sequence[tuple[float, float]],
    tolerance_s: tuple[float, float],
    settings: DecisionSettings | None = None,
) -> list[Alert]:
    """One alert per seizure event, with its latency from a matching expert onset.

    Parameters
    ----------
    start_s, end_s : ndarray, shape (n,)
        Window bounds (a window's probability is known at its end).
    proba : ndarray, shape (n,) or (n, 2)
        Seizure probability of each window.
    reference : sequence of (onset, offset)
        Expert seizures in seconds.
    tolerance_s : (float, float)
        An alert matches an expert seizure when raised between this long
        before its onset and this long after its offset (the evaluation's
        SzCORE tolerance, :class:`cardioliquid.evaluation.seizure.SzcoreParams`).
    settings : DecisionSettings, optional
        The event rule (default: the defaults).
    """
    before, after = tolerance_s
    alerts = []
    for event in seizure_events(start_s, end_s, proba, settings):
        raised = detection_time(event, start_s, end_s, proba, settings)
        match = [(on, off) for on, off in reference if on - before <= raised <= off + after]
        if match:
            latency: float | None = raised - match[0][0]
            detail = f"seizure detected {latency:+.0f} s from the expert-marked onset"
        else:
            latency = None
            detail = "seizure activity detected (no expert-marked seizure here: false alarm?)"
        alerts.append(Alert(raised, event.offset, "seizure", detail, latency))
    return alerts
