"""The app shows the decisions `cardioliquid score` makes: same events, same rule, same model."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from cardioliquid.app import at_cursor
from cardioliquid.app.neurons import reported_call
from cardioliquid.decision.events import positive_windows
from cardioliquid.decision.settings import DecisionSettings
from cardioliquid.scoring.batch import ScoreOptions
from cardioliquid.scoring.results import BeatPredictions, WindowPredictions


def _pred() -> WindowPredictions:
    rng = np.random.default_rng(1)
    p = np.clip(rng.normal(0.2, 0.2, 200), 0, 1).astype(np.float32)
    p[50:70] = 0.95
    p[120] = 0.99  # a lone spike
    start = np.arange(200, dtype=float)
    return WindowPredictions(start, start + 2.0, np.stack([1 - p, p], 1), ["bckg", "sz"],
                             "r", 202.0)


@pytest.mark.parametrize("decision", [DecisionSettings(), DecisionSettings(smooth_windows=1),
                                      DecisionSettings(threshold=0.8, min_duration_s=5.0)])
def test_event_bars_and_alerts_are_the_events_score_writes(decision) -> None:
    pred = _pred()
    loaded = SimpleNamespace(decision=decision, task="seizure")
    opts = ScoreOptions(task="seizure", model="m", out_dir="o").resolve(loaded)
    written = [(e.onset, e.offset) for e in pred.events(opts.event_settings())]
    assert at_cursor.predicted_events(pred, loaded) == written
    replay = SimpleNamespace(predictions=pred, loaded=loaded, task="seizure",
                             rec=SimpleNamespace(seizures=[(50.0, 75.0)]))
    alerts = at_cursor.alerts_now(replay)
    assert [(e_on, a.end_s) for a, (e_on, _) in zip(alerts, written, strict=True)] == written
    assert alerts[0].latency_s is not None  # matched to the expert seizure at 50 s
    for a in alerts:  # SzCORE: raised from 30 s before its onset to 60 s after its offset
        matched = 50.0 - 30.0 <= a.time_s <= 75.0 + 60.0
        assert a.latency_s == (pytest.approx(a.time_s - 50.0) if matched else None), a


def test_ventricular_run_alerts_follow_the_model_settings() -> None:
    labels = np.array(list("NVVVNVVVVN"))
    pred = type("P", (), {"time_s": np.arange(10.0), "labels": labels,
                          "__len__": lambda self: 10})()
    for runs, n in ((3, 2), (4, 1)):
        loaded = SimpleNamespace(decision=DecisionSettings(vt_run_beats=runs))
        replay = SimpleNamespace(predictions=pred, task="arrhythmia", loaded=loaded)
        assert len(at_cursor.alerts_now(replay)) == n


def test_the_neuron_panel_names_the_call_the_page_shows_for_a_window() -> None:
    """A lone seizure-probable window is not a seizure under the smoothing rule: the panel
    reports the page's call beside the network's, and the rule agrees with the events."""
    pred = _pred()
    loaded = SimpleNamespace(decision=DecisionSettings(), classes=["bckg", "sz"])
    positive = positive_windows(pred.seizure_proba, loaded.decision)
    for i in (55, 120, 150):
        call, rule = reported_call(pred, i, loaded)
        assert call == ("sz" if positive[i] else "bckg")
        assert "threshold 0.50" in rule
    assert pred.labels[120] == "sz" and reported_call(pred, 120, loaded)[0] == "bckg"
    assert reported_call(pred, 60, loaded)[0] == "sz"


def test_the_neuron_panel_reports_a_beat_by_its_decided_probabilities() -> None:
    proba = np.array([[0.2, 0.7, 0.1, 0, 0], [0.9, 0.05, 0.05, 0, 0]], np.float32)
    pred = BeatPredictions(np.array([100, 400]), proba, ["N", "S", "V", "F", "Q"], 360.0,
                           "reference")
    loaded = SimpleNamespace(decision=DecisionSettings(), classes=["N", "S", "V", "F", "Q"])
    assert [reported_call(pred, i, loaded) for i in (0, 1)] == [("S", None), ("N", None)]
