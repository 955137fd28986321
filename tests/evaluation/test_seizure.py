"""SzCORE event scoring (through timescoring), sample scores, latency and window scores."""

from __future__ import annotations

import numpy as np
import pytest

from cardioliquid.evaluation import seizure as sz

HOUR = 3600.0


def test_detection_25_s_before_onset_counts() -> None:
    c = sz.count_recording([(1000, 1060)], [(960, 975)], HOUR)
    assert (c.event_tp, c.event_fp, c.event_ref) == (1, 0, 1)


def test_detection_35_s_before_onset_is_a_false_alarm() -> None:
    c = sz.count_recording([(1000, 1060)], [(950, 965)], HOUR)
    assert (c.event_tp, c.event_fp) == (0, 1)


def test_detection_within_60_s_after_offset_counts() -> None:
    assert sz.count_recording([(1000, 1060)], [(1110, 1115)], HOUR).event_tp == 1
    assert sz.count_recording([(1000, 1060)], [(1130, 1135)], HOUR).event_tp == 0


def test_reference_events_80_s_apart_are_merged() -> None:
    c = sz.count_recording([(1000, 1060), (1140, 1200)], [(1010, 1020)], HOUR)
    assert c.event_ref == 1 and c.event_tp == 1
    # 100 s apart: two events, one missed.
    c = sz.count_recording([(1000, 1060), (1160, 1220)], [(1010, 1020)], HOUR)
    assert c.event_ref == 2 and c.event_tp == 1


def test_detections_80_s_apart_are_one_false_alarm() -> None:
    c = sz.count_recording([], [(100, 110), (190, 200)], HOUR)
    assert c.event_fp == 1


def test_event_longer_than_5_minutes_is_split() -> None:
    c = sz.count_recording([(1000, 1400)], [(1000, 1010)], HOUR)
    assert c.event_ref == 2 and c.event_tp == 1  # [1000, 1300] found, [1300, 1400] missed


def test_false_alarms_per_24h() -> None:
    hyp = [(t, t + 10) for t in (500, 1500, 2500)]
    out = sz.scores(sz.count_recording([], hyp, 6 * HOUR))
    assert out["event"]["fp"] == 3
    assert out["event"]["fa_per_24h"] == pytest.approx(12.0)


def test_sample_scores_at_1_hz() -> None:
    out = sz.scores(sz.count_recording([(100, 200)], [(150, 250)], HOUR))
    s = out["sample"]
    assert (s["tp"], s["fp"], s["n_ref"]) == (50, 50, 100)
    assert s["se"] == pytest.approx(50.0) and s["precision"] == pytest.approx(50.0)
    assert s["f1"] == pytest.approx(50.0)
    assert s["fa_per_24h"] == pytest.approx(50 * 24)


def test_latency_per_seizure() -> None:
    ref = [(1000, 1060), (2000, 2030), (3000, 3010)]
    hyp = [(1012, 1040), (1990, 2050)]
    assert sz.detection_latencies(ref, hyp) == [12.0, -10.0, None]
    # Earliest counted time is onset - 30 s, so an early, long detection reads -30 s.
    assert sz.detection_latencies([(1000, 1060)], [(900, 1100)]) == [-30.0]


def test_alert_latency_is_when_a_stream_knows_the_first_alert_in_the_window() -> None:
    ref = [(1000, 1060), (2000, 2030), (3000, 3010)]
    raised = [1014.0, 1995.0, 2500.0, 5000.0]  # 2500 s: 470 s after 2030, outside 60 s
    assert sz.alert_latencies(ref, raised) == [14.0, -5.0, None]
    c = sz.count_recording(ref, [(1012, 1040), (1990, 2050)], HOUR, raised=raised[:2])
    block = sz.scores(c)["alert_latency_s"]
    assert (block["per_seizure"], block["n_alerted"], block["median"]) == ([14.0, -5.0, None],
                                                                             2, 4.5)
    # pooled with a recording scored without alert times: not measured, rather than partial
    assert sz.scores(c + sz.count_recording(ref, [], HOUR))["alert_latency_s"] is None


def test_window_scores_and_pooling() -> None:
    a = sz.count_recording(
        [(10, 20)],
        [(10, 20)],
        100.0,
        window_true=np.array([1, 1, 0, 0]),
        window_pred=np.array([1, 0, 0, 1]),
    )
    b = sz.count_recording(
        [], [], 100.0, window_true=np.array([0, 0]), window_pred=np.array([0, 0])
    )
    out = sz.summarize({"a": a, "b": b})
    w = out["window"]
    assert (w["tp"], w["fn"], w["fp"], w["tn"]) == (1, 1, 1, 3)
    assert w["se"] == pytest.approx(50.0) and w["sp"] == pytest.approx(75.0)
    assert out["duration_h"] == pytest.approx(200 / HOUR)
    assert out["n_records"] == 2 and set(out["records"]) == {"a", "b"}
    assert out["records"]["b"]["event"]["se"] is None  # no seizure there


def test_pooled_event_scores_sum_counts() -> None:
    a = sz.count_recording([(1000, 1060)], [(1000, 1010)], HOUR)
    b = sz.count_recording([(1000, 1060)], [(2000, 2010)], HOUR)
    ev = sz.summarize({"a": a, "b": b})["event"]
    assert (ev["tp"], ev["fp"], ev["n_ref"]) == (1, 1, 2)
    assert ev["se"] == pytest.approx(50.0) and ev["precision"] == pytest.approx(50.0)
    assert ev["fa_per_24h"] == pytest.approx(12.0)


def test_window_labels_by_overlap_fraction() -> None:
    start = np.array([0.0, 1.0, 2.0, 3.0])
    assert sz.window_labels(start, 2.0, [(2.5, 10.0)], 0.5).tolist() == [0, 0, 1, 1]


def test_events_outside_the_recording_are_clipped() -> None:
    c = sz.count_recording([(90, 130)], [(95, 200)], 100.0)
    assert c.event_tp == 1 and c.event_fp == 0


def test_event_scores_carry_wilson_intervals():
    # 7 seizures, 6 detected, no false event: Wilson 95 % interval of 6/7 is 48.7-97.4 %.
    counts = {f"r{i}": sz.count_recording([(100, 160)], [(110, 150)] if i < 6 else [], 600.0)
              for i in range(7)}
    res = sz.summarize(counts)
    ci = res["event"]["ci95"]
    assert res["event"]["se"] == pytest.approx(100 * 6 / 7)
    assert ci["se"] == pytest.approx([48.69, 97.43], abs=0.01)
    assert ci["precision"][1] == pytest.approx(100.0) and ci["precision"][0] < 70
    assert sz.wilson_interval(0, 0) is None
    assert res["records"]["r6"]["event"]["ci95"]["precision"] is None  # no detected event


def test_a_seizure_under_way_at_the_start_is_counted_but_not_timed():
    """An ictal excerpt starts at the seizure: a detection 5.5 s in is no latency from onset."""
    from cardioliquid.evaluation.report import summary_text

    c = sz.count_recording([(0.0, 12.0)], [(5.5, 12.0)], 12.0)
    assert c.event_tp == 1 and c.latencies == [] and c.onset_unrecorded == 1
    both = c + sz.count_recording([(100.0, 160.0)], [(104.0, 150.0)], HOUR)
    lat = sz.scores(both)["latency_s"]
    assert (lat["per_seizure"], lat["n_onset_unrecorded"], lat["median"]) == ([4.0], 1, 4.0)
    text = summary_text({"event": sz.scores(c)["event"], "window": {}, "duration_h": 12 / 3600})
    assert "false alarms/24 h 0.0 (extrapolated from 0.2 min)" in text
