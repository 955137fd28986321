"""Agreement with the expert, the rhythm reading, the model card's limits, events, chart helpers."""

from __future__ import annotations

import numpy as np
import pytest

from cardioliquid.app.agreement import (
    af_specific_flags,
    agreement_notice,
    rhythm_reading,
    running_agreement,
)
from cardioliquid.app.charts import display_names, ecg_trace, minmax_decimate
from cardioliquid.app.events import event_kinds, event_table, events_tsv, next_event


def test_per_class_se_and_ppv_against_the_expert():
    ref = np.arange(10) * 300
    ref_lab = np.array(list("NNSNSNVNNS"))
    pred_lab = np.array(list("NNNNSNVVNN"))
    a = running_agreement(ref, pred_lab, ref, ref_lab, 360.0, list("NSVFQ"), upto_s=100.0)
    s, v = a.classes["S"], a.classes["V"]
    assert (s.n_expert, s.n_model, s.both) == (3, 1, 1) and s.se == pytest.approx(100 / 3)
    assert (v.n_expert, v.n_model, v.both) == (1, 2, 1) and v.ppv == 50.0
    assert a.n_compared == 10 and a.accuracy == 70.0
    np.testing.assert_allclose(a.disagree_s, ref[[2, 7, 9]] / 360.0)
    assert list(a.disagree_expert) == ["S", "N", "S"] and list(a.disagree_model) == ["N", "V", "N"]
    later = running_agreement(ref[:5], pred_lab[:5], ref, ref_lab, 360.0, list("NSVFQ"),
                              upto_s=4 * 300 / 360.0)  # fmt: skip
    assert later.n_compared == 5  # expert beats not decided yet are not compared


def test_the_notice_names_the_disagreement_with_both_counts():
    ref = np.arange(600) * 300
    ref_lab = np.where(np.arange(600) % 3 == 0, "S", "N")
    a = running_agreement(ref, np.full(600, "N"), ref, ref_lab, 360.0, list("NSVFQ"), 1e9)
    level, text = agreement_notice(a)
    assert level == "warning" and "Model and expert disagree" in text
    assert "200 S" in text and "Se 0 %" in text and "66.7 % of 600 beats" in text
    level, text = agreement_notice(running_agreement(ref, ref_lab, ref, ref_lab, 360.0,
                                                     list("NSVFQ"), 1e9))  # fmt: skip
    assert level == "success" and "100.0 % of 600 beats" in text  # an all-clear has its figure
    assert agreement_notice(None)[0] == "info"
    # 232 early on: no class has 10 beats yet, but 2 of 9 are wrong: not green
    few = running_agreement(ref[:9], np.array(list("NNNNNNNNN")), ref[:9],
                            np.array(list("NNSNNSNNN")), 360.0, list("NSVFQ"), 1e9)
    level, text = agreement_notice(few)
    assert level == "warning" and "77.8 % of 9 beats" in text
    level, text = agreement_notice(running_agreement(ref[:5], ref_lab[:5], ref[:5], ref_lab[:5],
                                                     360.0, list("NSVFQ"), 1e9))  # fmt: skip
    assert level == "info" and "Too few beats" in text


def _beats(rr: np.ndarray, labels: np.ndarray):
    t = np.cumsum(rr)
    return np.ones(len(t), bool), labels, t


def test_ventricular_bigeminy_reads_irregular_rhythm_not_af():
    """Record 200's pattern: N V N V with short-long coupling, flagged by the AF test."""
    n = 300
    rr = np.where(np.arange(n) % 2 == 0, 0.55, 1.05)
    labels = np.where(np.arange(n) % 2 == 1, "V", "N")
    reading = rhythm_reading(*_beats(rr, labels))
    assert reading.name == "irregular rhythm" and not reading.af_specific
    assert "AF-like" not in reading.text and "irregular rhythm" in reading.text
    assert not af_specific_flags(*_beats(rr, labels)).any()


def test_irregular_intervals_between_normal_beats_read_af_like():
    rng = np.random.default_rng(0)
    rr = rng.uniform(0.45, 1.1, 300)
    reading = rhythm_reading(*_beats(rr, np.full(300, "N")))
    assert reading.name == "AF-like" and reading.af_specific and "**AF-like**" in reading.text
    assert af_specific_flags(*_beats(rr, np.full(300, "N")))[-1]
    assert rhythm_reading(np.zeros(50, bool), np.full(50, "N"), np.arange(50.0)).name == (
        "not judged yet")
    assert rhythm_reading(np.zeros(300, bool), np.full(300, "N"), np.arange(300.0)).name == (
        "regular")


def test_a_gate_with_the_p_wave_condition_reads_in_its_own_words():
    """Under an "atrial" rule an unflagged beat may sit in irregular rhythm with P waves (its
    S calls stand), and a flagged one had no consistent P wave."""
    rng = np.random.default_rng(1)
    rr = rng.uniform(0.45, 1.1, 300)
    labels = np.full(300, "N")
    kept = rhythm_reading(np.zeros(300, bool), labels, np.cumsum(rr), p_waves=True)
    assert kept.name == "regular" and "consistent P wave" in kept.text
    assert "no irregular rhythm" not in kept.text
    flagged = rhythm_reading(*_beats(rr, labels), p_waves=True)
    assert flagged.name == "AF-like" and "no consistent P wave" in flagged.text


def test_the_both_lead_rr_gate_claims_only_what_it_tested():
    """v9.1's rule ("atrial", every lead's P waves): a flagged beat in bigeminy (regular N-N
    intervals) had the RR test fire and no P wave on any lead; nothing is said of the network's
    N calls, which that rule does not read."""
    labels = np.array(["N", "V"] * 150)
    rr = np.where(labels == "V", 0.5, 1.1)
    kw = {"p_waves": True}
    v9 = rhythm_reading(*_beats(rr, labels), **kw)
    assert "the network's own N calls irregular" in v9.text
    v91 = rhythm_reading(*_beats(rr, labels), af_specific=False, every_lead=True, **kw)
    assert v91.name == "AF-like" and "N calls" not in v91.text
    assert "no consistent P wave on any lead" in v91.text


def test_the_shipped_model_card_limits_come_from_results_with_its_hash():
    from cardioliquid.app.card import card_limits
    from cardioliquid.models.checkpoint import _resolve

    path = str(_resolve("arrhythmia"))
    limits = card_limits(path, "arrhythmia", af_gate=True)
    assert limits.limits_text and len(limits.sha256) == 64
    assert all("VEB Se" in line and "SVEB Se" in line for line in limits.held_out)
    assert "outside AF and flutter" in limits.rhythm
    assert card_limits("", "arrhythmia").held_out == []  # nothing known: nothing claimed
    # v8.1's gate needs inconsistent P waves too: the card quotes that test's own figures.
    with_p = card_limits(path, "arrhythmia", af_gate=True, p_waves=True).rhythm
    assert "P-wave condition" in with_p and with_p != limits.rhythm
    # v9.1 reads it on both leads: the card quotes that test's figures, and says so.
    both = card_limits(path, "arrhythmia", af_gate=True, p_waves=True, every_lead=True).rhythm
    assert "on every lead" in both and both != with_p


def test_card_limits_never_show_another_models_figures(tmp_path):
    import json

    from cardioliquid.app.card import card_limits

    model = tmp_path / "m.safetensors"
    model.write_bytes(b"weights")
    (tmp_path / "eval.json").write_text(json.dumps({
        "mode": "inter-patient", "model_sha256": "0" * 64, "veb": {"se": 99.0, "ppv": 99.0},
        "sveb": {"se": 99.0, "ppv": 99.0}}))  # fmt: skip
    assert card_limits(str(model), "arrhythmia", results_dir=tmp_path).held_out == []


def test_events_next_and_previous_by_kind():
    table = event_table(expert=(np.array([1.0, 5.0, 9.0]), np.array(["V", "N", "S"])),
                        model=(np.array([1.0, 5.0, 9.0]), np.array(["V", "V", "N"])),
                        disagree=(np.array([5.0, 9.0]), np.array(["N", "S"]),
                                  np.array(["V", "N"])))  # fmt: skip
    assert event_kinds(table) == ["disagreement", "expert S", "expert V", "model V"]
    assert next_event(table, "disagreement", 0.0) == 5.0
    assert next_event(table, "disagreement", 5.0) == 9.0
    assert next_event(table, "disagreement", 9.0) is None
    assert next_event(table, "model V", 9.0, forward=False) == 5.0
    tsv = events_tsv(table)
    assert tsv.splitlines()[0] == "time_s\tend_s\tsource\tkind\tdetail"


def test_duplicate_channel_suffixes_are_not_shown():
    names = ["FP1-F7", "T8-P8-0", "P7-T7", "T8-P8-1"]
    assert display_names(names) == ["FP1-F7", "T8-P8", "P7-T7", "T8-P8 (2)"]
    assert display_names(["EEG-1"]) == ["EEG-1"]  # a name of its own, not a duplicate marker


def test_decimation_keeps_the_peaks():
    t = np.arange(36000) / 360.0
    x = np.zeros(t.size)
    x[12345] = 3.0
    x[23456] = -2.0
    tt, xx = minmax_decimate(t, x, 2000)
    assert len(xx) <= 2000 and xx.max() == 3.0 and xx.min() == -2.0
    assert np.all(np.diff(tt) >= 0)


def test_the_ecg_trace_stacks_every_lead_with_a_calibration_bar():
    x = np.sin(np.arange(3600) / 30.0)
    spec = ecg_trace({"MLII": x, "V1": 0.5 * x}, 360.0, 0.0, (0.0, 10.0), gain_mm_mv=20.0,
                     pred=(np.array([1.0]), np.array(["V"])))  # fmt: skip
    trace = spec["datasets"]["trace"]
    assert set(trace["lead"]) == {"MLII", "V1"}
    cal = spec["datasets"]["cal"]
    assert list(cal["y2"] - cal["y"]) == [2.0, 2.0]  # 1 mV at twice the standard gain
    zoom = [layer["params"] for layer in spec["layer"] if "params" in layer]
    assert zoom and zoom[0][0]["bind"] == "scales"  # wheel zoom, drag to scroll


def test_a_run_of_ventricular_beats_no_alert_matched_is_named():
    """Record 200: the model alerted on 5 of the expert's 7 VT runs and the page never said."""
    from cardioliquid.app.agreement import vt_run_notice
    from cardioliquid.decision.alerts import ventricular_runs

    t = np.arange(40, dtype=float)
    expert = np.array(list("NNVVVNNNNN" "NNNNVVVVNN" "NNNNNNNNNN" "NNVVVNNNNN"))
    model = expert.copy()
    model[14:18] = "N"  # the second run called N
    alerts = ventricular_runs(t, model)
    level, text = vt_run_notice(t, expert, alerts, upto_s=39.0)
    assert level == "warning" and "**2 of the 3**" in text and "missed** at 14.0 s" in text
    assert vt_run_notice(t, expert, ventricular_runs(t, expert), 39.0)[0] == "success"
    assert vt_run_notice(t, expert, [], upto_s=3.0) is None  # the first run not decided yet
