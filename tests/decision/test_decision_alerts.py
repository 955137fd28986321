"""cardioliquid.decision.alerts: ventricular runs and seizure alerts on the one event rule."""

from __future__ import annotations

import numpy as np
import pytest

from cardioliquid.decision.alerts import seizure_alerts, ventricular_runs
from cardioliquid.decision.events import seizure_events
from cardioliquid.decision.settings import DecisionSettings

SZCORE = (30.0, 60.0)


def test_runs_of_three_or_more_ventricular_beats() -> None:
    labels = np.array(list("NNVVNVVVNVVVVN"))
    times = np.arange(labels.size) * 0.5
    alerts = ventricular_runs(times, labels)
    assert [(a.time_s, a.end_s) for a in alerts] == [(2.5, 3.5), (4.5, 6.0)]
    assert alerts[1].detail.startswith("4 consecutive ventricular beats at 120 bpm")
    longer = ventricular_runs(times, labels, DecisionSettings(vt_run_beats=4))
    assert [(a.time_s, a.end_s) for a in longer] == [(4.5, 6.0)]


def _windows(n: int = 100):
    start = np.arange(n, dtype=float)
    return start, start + 2.0


@pytest.mark.parametrize("settings", [DecisionSettings(), DecisionSettings(smooth_windows=1),
                                      DecisionSettings(threshold=0.7, min_duration_s=10.0)])
def test_seizure_alerts_are_the_events_score_writes(settings) -> None:
    """Same probabilities, same settings: one alert per event of the score/evaluate rule."""
    rng = np.random.default_rng(0)
    p = np.clip(rng.normal(0.2, 0.15, 100), 0, 1)
    p[40:60] = 0.9
    p[80] = 0.95  # a lone spike: an event without smoothing, none with it
    start, end = _windows()
    events = seizure_events(start, end, p, settings)
    alerts = seizure_alerts(start, end, p, [], SZCORE, settings)
    assert len(alerts) == len(events) > 0
    for a, e in zip(alerts, events, strict=True):
        assert a.end_s == e.offset and e.onset < a.time_s <= e.offset


def test_seizure_detection_latency_against_the_expert_onset() -> None:
    start, end = _windows()
    p = np.zeros(100)
    p[44:60] = 0.9  # windows starting at 44..59 s
    raw = DecisionSettings(smooth_windows=1)
    (alert,) = seizure_alerts(start, end, p, [(40.0, 70.0)], SZCORE, raw)
    assert alert.time_s == 46.0  # known when the first positive window ends
    assert alert.latency_s == pytest.approx(6.0)
    # The default causal average needs two positive windows of three: known one window later.
    (smoothed,) = seizure_alerts(start, end, p, [(40.0, 70.0)], SZCORE)
    assert smoothed.latency_s == pytest.approx(7.0)
    (fa,) = seizure_alerts(start, end, p, [], SZCORE, raw)
    assert fa.latency_s is None and "false alarm" in fa.detail
    # Matched as the evaluation matches: up to 30 s before the onset, 60 s after the offset.
    (early,) = seizure_alerts(start, end, p, [(75.0, 90.0)], SZCORE, raw)
    assert early.latency_s == pytest.approx(46.0 - 75.0)
    (outside,) = seizure_alerts(start, end, p, [(80.0, 90.0)], SZCORE, raw)
    assert outside.latency_s is None
