"""cardioliquid.decision.events: window probabilities -> seizure events (the one rule)."""

from __future__ import annotations

import numpy as np
import pytest

from cardioliquid.decision.events import (
    detection_time,
    probabilities_to_events,
    seizure_events,
    smooth_probabilities,
)
from cardioliquid.decision.settings import DecisionSettings

RAW = DecisionSettings(smooth_windows=1)  # no smoothing: each window decides alone


def test_threshold_overlap_and_min_duration() -> None:
    start = np.array([0.0, 1.0, 2.0, 6.0])
    p = np.array([0.1, 0.9, 0.8, 0.7])
    assert probabilities_to_events(start, p, 2.0, RAW) == [(1.0, 4.0), (6.0, 8.0)]
    longer = DecisionSettings(smooth_windows=1, min_duration_s=2.5)
    assert probabilities_to_events(start, p, 2.0, longer) == [(1.0, 4.0)]
    stricter = DecisionSettings(smooth_windows=1, threshold=0.85)
    assert probabilities_to_events(start, p, 2.0, stricter) == [(1.0, 3.0)]
    with pytest.raises(ValueError, match="one probability per window"):
        probabilities_to_events(start, p[:3], 2.0, RAW)


def test_smoothing_is_causal_and_drops_single_spikes() -> None:
    p = np.array([0.0, 1.0, 1.0, 0.0])
    np.testing.assert_allclose(smooth_probabilities(p, 2), [0.0, 0.5, 1.0, 0.5])
    spike = np.array([0.0, 0.0, 1.0, 0.0, 0.0])
    assert probabilities_to_events(np.arange(5.0), spike, 1.0, DecisionSettings()) == []
    assert probabilities_to_events(np.arange(5.0), spike, 1.0, RAW) == [(2.0, 3.0)]


def test_the_default_rule_is_what_score_and_evaluate_applied() -> None:
    """threshold 0.5, 3-window causal average, no minimum duration."""
    d = DecisionSettings()
    assert (d.threshold, d.smooth_windows, d.min_duration_s) == (0.5, 3, 0.0)


def test_events_carry_the_mean_smoothed_probability() -> None:
    p = np.array([0.1, 0.9, 0.8, 0.2, 0.1, 0.1, 0.7, 0.1])
    start = np.arange(len(p), dtype=float)
    events = seizure_events(start, start + 2.0, p, RAW)
    assert [(e.onset, e.offset) for e in events] == [(1.0, 4.0), (6.0, 8.0)]
    assert events[0].confidence == pytest.approx(0.85)
    two_col = np.stack([1 - p, p], 1)  # a (n, 2) array: the last column is the seizure class
    assert seizure_events(start, start + 2.0, two_col, RAW) == events
    assert seizure_events(start[:0], start[:0], p[:0]) == []


def test_an_event_is_known_when_its_window_ends_and_its_minimum_duration_is_reached() -> None:
    p = np.zeros(20)
    p[5:12] = 0.9
    start = np.arange(20, dtype=float)
    end = start + 2.0
    (event,) = seizure_events(start, end, p, RAW)
    assert detection_time(event, start, end, p, RAW) == 7.0  # the first window's end
    wait = DecisionSettings(smooth_windows=1, min_duration_s=4.0)
    (event,) = seizure_events(start, end, p, wait)
    assert detection_time(event, start, end, p, wait) == 9.0  # onset 5 s + 4 s


@pytest.mark.parametrize("bad", [{"threshold": 1.5}, {"smooth_windows": 0},
                                 {"min_duration_s": -1.0}, {"af_gate_rule": "guess"}])
def test_invalid_settings_are_refused(bad) -> None:
    with pytest.raises(ValueError, match="Invalid value"):
        DecisionSettings(**bad)


def test_settings_round_trip_and_flags_override_only_what_is_given() -> None:
    d = DecisionSettings(threshold=0.7, af_gate=True)
    assert DecisionSettings.from_dict(d.to_dict()) == d
    assert d.override(threshold=None, smooth_windows=1) == DecisionSettings(
        threshold=0.7, smooth_windows=1, af_gate=True)
    with pytest.raises(ValueError, match="unknown decision settings"):
        DecisionSettings.from_dict({"treshold": 0.4})
