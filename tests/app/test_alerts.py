import numpy as np
import pytest

from cardioliquid.app.alerts import seizure_alerts, ventricular_runs
from cardioliquid.app.provenance import evaluation_label


def test_runs_of_three_or_more_ventricular_beats():
    labels = np.array(list("NNVVNVVVNVVVVN"))
    times = np.arange(labels.size) * 0.5
    alerts = ventricular_runs(times, labels)
    assert [(a.time_s, a.end_s) for a in alerts] == [(2.5, 3.5), (4.5, 6.0)]
    assert alerts[1].detail.startswith("4 consecutive ventricular beats at 120 bpm")


def test_seizure_detection_latency_against_the_expert_onset():
    end = np.arange(1, 101, dtype=float)
    proba = np.zeros(100)
    proba[44:60] = 0.9  # windows ending at 45..60 s
    proba[80] = 0.9  # a single window: not enough
    alerts = seizure_alerts(end, proba, [(40.0, 70.0)], min_windows=2)
    assert len(alerts) == 1
    assert alerts[0].latency_s == pytest.approx(46.0 - 40.0)
    fa = seizure_alerts(end, proba, [], min_windows=2)
    assert fa[0].latency_s is None and "false alarm" in fa[0].detail


def test_honest_labels():
    assert "held-out" in evaluation_label("r1", "p1", "seizure", {"test_patients": ["p1"]})
    assert "in-sample" in evaluation_label("r1", "p1", "seizure", {"train_records": ["r1"]})
    assert "UNTRAINED" in evaluation_label("100", "100", "arrhythmia", {"untrained": True})
    meta = {"split": "train DS1, test DS2"}
    assert "DS2" in evaluation_label("100", "100", "arrhythmia", meta)
    assert "DS1" in evaluation_label("101", "101", "arrhythmia", meta)
    assert "unknown" in evaluation_label("x", "x", "arrhythmia", {})
    split = {"split": "leave-patients-out: train chb01+chb02, validation = chb01_26, "
                      "test patient chb03"}  # fmt: skip
    assert "in-sample" in evaluation_label("chb01_03", "chb01", "seizure", split)
    assert "held-out" in evaluation_label("chb03_01", "chb03", "seizure", split)
    assert "unknown" in evaluation_label("chb011_01", "chb011", "seizure", split)
