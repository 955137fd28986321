"""pipelines/arrhythmia_cv.py: scores, per-database summaries, fold scoring, table and plot."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="module")
def cv(pipeline_script):
    return pipeline_script("arrhythmia_cv")


def test_scores_of_a_known_confusion_matrix(cv):
    conf = np.zeros((5, 5), dtype=np.int64)
    conf[0] = [90, 5, 5, 0, 0]  # 100 N: 10 false alarms
    conf[1] = [5, 15, 0, 0, 0]  # 20 S
    conf[2] = [0, 0, 30, 0, 0]  # 30 V
    s = cv.scores(conf)
    assert s["S"] == {"se": 75.0, "ppv": 75.0, "f1": 75.0, "n": 20}
    assert s["V"]["se"] == 100.0 and s["V"]["ppv"] == pytest.approx(85.7, abs=0.05)
    assert s["key_f1"] == pytest.approx((75.0 + 92.3) / 2, abs=0.06)
    assert s["n_false_alarm_pct"] == 10.0
    assert s["accuracy"] == pytest.approx(100 * 135 / 150, abs=0.01)
    assert np.isnan(s["F"]["se"])  # no reference F beats


def test_the_calibration_beats_choose_the_gate_with_fewest_s_and_v_errors(cv):
    def conf(s_found: int, false_s: int, n_as_v: int = 0) -> np.ndarray:
        c = np.zeros((5, 5), dtype=np.int64)
        c[0] = [100 - false_s - n_as_v, false_s, n_as_v, 0, 0]
        c[1] = [10 - s_found, s_found, 0, 0, 0]
        return c

    # The gate that keeps the S beats wins: 2 errors against 10 and 7.
    assert cv.calibration_choice({"gate_nn_atrial": conf(0, 0), "gate_off": conf(8, 0),
                                  "gate_atrial_max": conf(5, 2)}) == "gate_off"
    # False S calls and N beats called V count too; N-N errors do not exist here.
    assert cv.calibration_choice({"gate_nn_atrial": conf(6, 1), "gate_off": conf(10, 9),
                                  "gate_atrial_max": conf(6, 1, 3)}) == "gate_nn_atrial"
    # A tie (no S beat in the calibration minutes, no S call) keeps v9's gate.
    same = conf(0, 0)
    assert cv.calibration_choice({g: same for g in cv.CALIBRATED_CANDIDATES}) == (
        "gate_nn_atrial")


def _synthetic_ecg(minutes: float):
    """A synthetic MLII record with N, S and V beats (the adaptation tests' builder)."""
    spec = importlib.util.spec_from_file_location("adapt_tests", Path(__file__).with_name(
        "test_adapt.py"))
    helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helpers)
    return helpers.synthetic_ecg(np.random.default_rng(0), minutes=minutes)


def _fold_model():
    """An untrained small liquid model as a fold's LoadedModel."""
    import torch

    from cardioliquid.models.checkpoint import LoadedModel
    from cardioliquid.models.registry import create_model
    from cardioliquid.signal.config import BeatPreprocessing
    from cardioliquid.signal.windows import n_beat_features

    prep = BeatPreprocessing()
    kwargs = {"n_chans": 1, "n_outputs": 5, "n_times": prep.n_times, "sfreq": prep.fs,
              "n_features": n_beat_features(prep), "units": 12}
    torch.manual_seed(0)
    return LoadedModel(create_model("liquid-cfc", **kwargs).eval(), prep, "liquid-cfc", kwargs)


def _entry(cv, records: dict[str, np.ndarray]) -> dict:
    """A results entry in the script's format from per-record confusions (gate on = off)."""
    recs = {r: {"gate_on": c.tolist(), "gate_off": c.tolist()} for r, c in records.items()}
    summary = cv.summarise(recs)
    return {"scores": summary, "pooled": summary["gate_on"]["pooled"], "records": recs,
            "folds": []}


def _conf(s_found: int, n_s: int = 20, v_found: int | None = None) -> np.ndarray:
    conf = np.zeros((5, 5), dtype=np.int64)
    conf[0, 0] = 100
    conf[1] = [n_s - s_found, s_found, 0, 0, 0]
    v = s_found if v_found is None else v_found
    conf[2] = [n_s - v, 0, v, 0, 0]
    return conf


def test_summaries_pool_all_records_and_each_database(cv):
    entry = _entry(cv, {"mitdb/101": _conf(20), "svdb/803": _conf(10)})
    on = entry["scores"]["gate_on"]
    assert on["mitdb"]["S"]["se"] == 100.0 and on["svdb"]["S"]["se"] == 50.0
    assert on["pooled"]["S"]["se"] == 75.0 and on["pooled"]["S"]["n"] == 40
    assert set(entry["scores"]) == {"gate_on", "gate_off"}


def test_table_only_prints_and_plots_without_training(cv, tmp_path, capsys):
    results = {"_protocol": "notes", "perfect": _entry(cv, {"mitdb/101": _conf(20),
                                                            "svdb/803": _conf(20)})}
    out = tmp_path / "cv.json"
    out.write_text(json.dumps(results))
    assert cv.main(["--table-only", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "perfect (on)" in printed and "100.0" in printed and "_protocol" not in printed
    assert out.with_suffix(".png").stat().st_size > 1000


def test_best_settings_take_each_recipes_best_seed_mean_best_first(cv):
    def entry(on, off):
        return {"scores": {"gate_on": {"pooled": {"key_f1": on}},
                           "gate_off": {"pooled": {"key_f1": off}}}}

    results = {"_protocol": "notes",
               "a": entry(60.0, 70.0), "a_s1": entry(64.0, 62.0),  # off 66.0 beats on 62.0
               "b": entry(80.0, 50.0)}
    results["b"]["fused"] = {"leads": 2, "scores": {"gate_on": {"pooled": {"key_f1": 90.0}}}}
    best = cv.best_settings(results)
    assert [(name, gate, fused) for name, gate, fused, _ in best] == [
        ("b", "gate_on", True), ("a", "gate_off", False)]
    assert best[1][3] == 66.0
    # Fused scores count only where every seed has them.
    results["a"]["fused"] = {"leads": 2, "scores": {"gate_on": {"pooled": {"key_f1": 99.0}}}}
    assert cv.best_settings(results)[1][:3] == ("a", "gate_off", False)


def test_record_confusions_score_reference_beats_with_and_without_the_gate(
        cv, monkeypatch, tmp_path):
    rec = _synthetic_ecg(2.0)
    monkeypatch.setattr(cv, "load_ecg", lambda path: rec)
    out = cv._record_confusions(_fold_model(), tmp_path / "r")
    n = int(np.isin(rec.beats.aami, list(cv.CLASSES)).sum())
    for gate in ("gate_on", "gate_off"):
        assert np.asarray(out[gate]).sum() == n
    # The gate only moves S calls to N: V, F and Q columns are the same.
    on, off = np.asarray(out["gate_on"]), np.asarray(out["gate_off"])
    np.testing.assert_array_equal(on[:, 2:], off[:, 2:])
    later = cv._record_confusions(_fold_model(), tmp_path / "r", after_s=60.0)
    assert np.asarray(later["gate_off"]).sum() == int(np.sum(
        np.isin(rec.beats.aami, list(cv.CLASSES)) & (rec.beats.sample >= 60 * rec.fs)))


def test_record_confusions_are_the_calls_of_the_package_scoring_path(cv, monkeypatch, tmp_path):
    """Each gate variant equals predict_beats with those decision settings (one settle path)."""
    from dataclasses import replace

    from cardioliquid.scoring.beats import predict_beats

    rec = _synthetic_ecg(3.0)
    rec.signal[0, 3000:3400] = np.nan  # a gap: its beats are unclassifiable (Q) in every variant
    monkeypatch.setattr(cv, "load_ecg", lambda path: rec)
    loaded = _fold_model()
    out = cv._record_confusions(loaded, tmp_path / "r")
    lookup = {c: i for i, c in enumerate(cv.CLASSES)}
    ref = dict(zip(rec.beats.sample.tolist(), rec.beats.aami.tolist(), strict=True))
    for key, settings in cv.GATE_VARIANTS.items():
        pred = predict_beats(rec, replace(loaded, decision=settings), beats="reference")
        truth = np.array([lookup.get(str(ref.get(int(s), "")), -1) for s in pred.sample])
        keep = truth >= 0
        conf = np.zeros((5, 5), dtype=np.int64)
        np.add.at(conf, (truth[keep], pred.label_index[keep]), 1)
        np.testing.assert_array_equal(np.asarray(out[key]), conf, err_msg=key)
    assert np.asarray(out["gate_off"])[:, 4].sum() > 0  # the gap's beats were called Q


def test_adaptive_confusions_score_the_same_beats_before_and_after(cv, monkeypatch, tmp_path):
    rec = _synthetic_ecg(7.0)
    monkeypatch.setattr(cv, "load_ecg", lambda path: rec)
    paths = {"mitdb/a": tmp_path / "a", "svdb/b": tmp_path / "b"}
    variants = [{"epochs": 15, "lr": 1e-2, "l2sp": 0.0},
                {"epochs": 1, "lr": 1e-9, "eval_mode": True}]
    out = cv._adaptive_confusions(_fold_model(), paths, 5.0, variants)
    before = cv.pooled(out["before"], "gate_off")
    after = cv.pooled(out["after"][0], "gate_off")
    # A negligible nudge in eval mode (statistics frozen) changes no prediction.
    np.testing.assert_array_equal(cv.pooled(out["after"][1], "gate_off"), before)
    # Both count the labelled beats after minute 5 of each of the two records.
    n_after = int(np.sum(rec.beats.sample >= 5 * 60 * rec.fs))
    assert before.sum() == after.sum() == 2 * n_after
    # Adapting on the record's own first minutes helps on its later beats.
    assert before[2, 2] == 0  # the untrained model misses the V beats...
    assert after[2, 2] > 0.5 * after[2].sum()  # ...the adapted one finds most of them


def test_other_lead_scores_records_that_have_one_on_that_lead(cv, monkeypatch, tmp_path):
    import dataclasses

    import wfdb

    one = _synthetic_ecg(2.0)
    two = dataclasses.replace(one, signal=np.concatenate([one.signal, -one.signal]),
                              channel_names=["MLII", "V1"])
    monkeypatch.setattr(cv, "load_ecg",
                        lambda path: two if Path(path).name == "two" else one)
    monkeypatch.setattr(wfdb, "rdheader", lambda path: dataclasses.make_dataclass(
        "H", ["sig_name"])(two.channel_names if Path(path).name == "two" else ["MLII"]))
    out = cv._other_lead_confusions(_fold_model(), {"mitdb/one": tmp_path / "one",
                                                    "mitdb/two": tmp_path / "two"})
    assert out["leads"] == {"mitdb/two": "V1"}  # "one" has no second lead: not scored
    conf = cv.pooled(out["records"], "gate_off")
    assert conf.sum() == int(np.isin(two.beats.aami, list(cv.CLASSES)).sum())


def test_seeds_of_a_recipe_are_grouped_and_averaged(cv, tmp_path, capsys):
    def entry(found: int) -> dict:
        return _entry(cv, {"mitdb/1": _conf(found), "svdb/2": _conf(found)})

    results = {"_protocol": "notes", "a": entry(10), "a_s1": entry(12), "a_s2": entry(14),
               "b_s1": entry(20), "c": entry(5)}
    assert cv.recipe_seeds(results) == {"a": ["a", "a_s1", "a_s2"], "b_s1": ["b_s1"], "c": ["c"]}
    out = tmp_path / "cv.json"
    out.write_text(json.dumps(results))
    assert cv.main(["--table-only", "--out", str(out)]) == 0
    means = capsys.readouterr().out.split("seed means")[1]
    f1 = [results[n]["pooled"]["key_f1"] for n in ("a", "a_s1", "a_s2")]
    assert f"{np.mean(f1):5.1f}" in means and "b_s1" not in means and "c (" not in means


def test_adaptive_variants_are_averaged_over_seeds(cv, tmp_path, capsys):
    def entry(before: int, after: tuple[int, int]) -> dict:
        e = _entry(cv, {"mitdb/1": _conf(before), "svdb/2": _conf(before)})
        variants = []
        for kw, found in zip(({"lr": 0.003}, {"lr": 0.01}), after, strict=True):
            recs = _entry(cv, {"mitdb/1": _conf(found), "svdb/2": _conf(found)})
            variants.append({"adapt_kwargs": kw, "scores": recs["scores"]})
        e["adaptive"] = {"minutes": 5.0, "before": {"scores": e["scores"]}, "variants": variants}
        return e

    results = {"a": entry(10, (12, 20)), "a_s1": entry(10, (14, 18)), "a_s2": entry(10, (16, 16))}
    out = tmp_path / "cv.json"
    out.write_text(json.dumps(results))
    assert cv.main(["--table-only", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.split("patient-adaptive seed means, a (off)")[1].splitlines()
    rows = {line.split("   ")[-1]: line for line in lines[1:4]}
    assert set(rows) == {"unadapted", '{"lr": 0.003}', '{"lr": 0.01}'}
    for label, found in (("unadapted", (10, 10, 10)), ('{"lr": 0.003}', (12, 14, 16)),
                         ('{"lr": 0.01}', (20, 18, 16))):
        f1 = [_entry(cv, {"mitdb/1": _conf(k), "svdb/2": _conf(k)})["pooled"]["key_f1"]
              for k in found]
        assert rows[label].split()[0] == f"{np.mean(f1):.1f}"


def test_fused_adaptive_rows_print_under_the_gate_that_reads_both_leads(cv, tmp_path, capsys):
    def fused(found: int) -> dict:
        recs = {r: {"gate_atrial_max": _conf(found).tolist()} for r in ("mitdb/1", "svdb/2")}
        return {"leads": 2, "scores": cv.summarise(recs), "records": recs}

    def entry(before: int, after: int) -> dict:
        e = _entry(cv, {"mitdb/1": _conf(before), "svdb/2": _conf(before)})
        variant = {"adapt_kwargs": {"labels": "model"}, "scores": e["scores"],
                   "fused": fused(after)}
        e["adaptive"] = {"minutes": 5.0, "before": {"scores": e["scores"], "fused": fused(before)},
                         "variants": [variant]}
        return e

    results = {"a": entry(10, 12), "a_s1": entry(10, 14), "a_s2": entry(10, 16)}
    out = tmp_path / "cv.json"
    out.write_text(json.dumps(results))
    assert cv.main(["--table-only", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    block = text.split("patient-adaptive seed means, a (")[-1]
    lines = [ln for ln in block.splitlines()[1:] if ln.strip()][:2]
    # One lead has no such gate: only the fused rows, unadapted and adapted.
    assert [ln.split("   ")[-1] for ln in lines] == [
        "unadapted, 2 leads fused", '{"labels": "model"}, 2 leads fused']
    f1 = [_entry(cv, {"mitdb/1": _conf(k), "svdb/2": _conf(k)})["pooled"]["key_f1"]
          for k in (12, 14, 16)]
    assert lines[1].split()[0] == f"{np.mean(f1):.1f}"


def test_records_of_an_entry_print_their_share_of_the_matrix(cv, tmp_path, capsys):
    a = np.zeros((5, 5), dtype=np.int64)
    a[0] = [50, 3, 2, 0, 0]
    a[1] = [1, 9, 0, 0, 0]
    b = np.zeros((5, 5), dtype=np.int64)
    b[0, 0], b[2] = 40, [4, 0, 16, 0, 0]
    out = tmp_path / "cv.json"
    out.write_text(json.dumps({"e": _entry(cv, {"mitdb/232": a, "svdb/805": b})}))
    assert cv.main(["--table-only", "--out", str(out), "--records-of", "e"]) == 0
    rows = {ln.split()[0]: ln.split()[1:] for ln in capsys.readouterr().out.splitlines()
            if ln.startswith(("mitdb/232", "svdb/805"))}
    # beats, S, S found, called S, V, V found, called V, N->S, N->V
    assert rows["mitdb/232"] == ["65", "10", "9", "12", "0", "0", "2", "3", "2"]
    assert rows["svdb/805"] == ["60", "0", "0", "0", "20", "16", "16", "0", "0"]
    with pytest.raises(SystemExit):
        cv.main(["--table-only", "--out", str(out), "--records-of", "missing"])


def test_refuses_unknown_databases_and_missing_recipes(cv, capsys):
    with pytest.raises(SystemExit) as stop:
        cv.main(["--recipe", "x=c.yaml", "--databases", "incartdb"])
    assert stop.value.code == 2  # a usage error, before any training
    err = capsys.readouterr().err
    assert "--databases: expected some of ['mitdb', 'svdb'], got 'incartdb'" in err
    with pytest.raises(SystemExit) as stop:
        cv.main([])
    assert stop.value.code == 2
    assert "give --recipe NAME=CONFIG" in capsys.readouterr().err


def test_fused_scores_average_the_leads_inter_patient_and_adapted(cv, monkeypatch, tmp_path):
    import dataclasses

    one = _synthetic_ecg(7.0)
    two = dataclasses.replace(one, signal=np.concatenate([one.signal, -0.6 * one.signal]),
                              channel_names=["MLII", "V1"])
    monkeypatch.setattr(cv, "load_ecg", lambda path: two)
    read, package_path = [], cv.predict_beats

    def predict(rec, loaded, **kw):
        read.append(loaded.preprocessing.fuse_leads)
        return package_path(rec, loaded, **kw)

    monkeypatch.setattr(cv, "predict_beats", predict)
    model = _fold_model()
    single = cv._record_confusions(model, tmp_path / "two")
    fused = cv._record_confusions(cv._fusing(model, 2), tmp_path / "two")
    n = int(np.isin(two.beats.aami, list(cv.CLASSES)).sum())
    assert np.sum(single["gate_off"]) == np.sum(fused["gate_off"]) == n
    assert read == [1, 2]  # the package's scoring path, with one lead and with both
    variants = [{"epochs": 1, "lr": 1e-3, "eval_mode": True},
                {"epochs": 1, "lr": 1e-3, "eval_mode": True, "all_leads": True}]
    from cardioliquid.training import adapt

    leads, adapt_real = [], adapt.adapt_to_patient

    def adapting(*args, **kw):
        adapted = adapt_real(*args, **kw)
        leads.append(adapted.metadata["adapted"]["leads"])
        return adapted

    monkeypatch.setattr(adapt, "adapt_to_patient", adapting)
    out = cv._adaptive_confusions(model, {"mitdb/two": tmp_path / "two"}, 5.0, variants, 2)
    assert len(out["after"]) == len(out["after_fused"]) == 2
    assert leads == [1, 2]  # all_leads calibrates on both of the leads it will average
    assert read[-2:] == [1, 2]  # each adapted model scored with one lead and with both
    # The unadapted model fused too, on the same beats: the reference of label-free variants.
    assert read.count(2) == 4  # inter-patient, unadapted after minute 5, two adapted
    assert np.sum(out["before_fused"]["mitdb/two"]["gate_off"]) == np.sum(
        out["before"]["mitdb/two"]["gate_off"]) == np.sum(out["after_fused"][0]["mitdb/two"][
            "gate_off"])


def test_fused_seed_means_print_beside_one_lead(cv, tmp_path, capsys):
    def entry(found: int, fused: int) -> dict:
        e = _entry(cv, {"mitdb/1": _conf(found), "svdb/2": _conf(found)})
        f = _entry(cv, {"mitdb/1": _conf(fused), "svdb/2": _conf(fused)})
        e["fused"] = {"leads": 2, "scores": f["scores"], "records": f["records"]}
        return e

    results = {"a": entry(10, 16), "a_s1": entry(12, 16), "a_s2": entry(14, 16)}
    out = tmp_path / "cv.json"
    out.write_text(json.dumps(results))
    assert cv.main(["--table-only", "--out", str(out)]) == 0
    printed = capsys.readouterr().out.split("seed means, a: one lead -> 2 leads fused")[1]
    two = _entry(cv, {"mitdb/1": _conf(16), "svdb/2": _conf(16)})["pooled"]["key_f1"]
    assert "off, 2 leads" in printed and f"{two:5.2f}" in printed
    assert out.with_suffix(".png").stat().st_size > 1000


def test_fused_scoring_also_reads_both_leads_p_waves(cv, monkeypatch, tmp_path):
    import dataclasses

    one = _synthetic_ecg(2.0)
    same = dataclasses.replace(one, signal=np.concatenate([one.signal, one.signal]),
                               channel_names=["MLII", "V1"])
    monkeypatch.setattr(cv, "load_ecg", lambda path: same)
    model = cv._fusing(_fold_model(), 2)
    out = cv._record_confusions(model, tmp_path / "same")
    for rule in cv.ATRIAL_LEAD_RULES:
        # Two identical leads have one consistency: every rule reads it as the first lead's.
        assert out[f"gate_nn_atrial_{rule}"] == out["gate_nn_atrial"]
        assert out[f"gate_atrial_{rule}"] == out["gate_atrial"]
    assert "gate_nn_atrial_min" not in cv._record_confusions(_fold_model(), tmp_path / "same")
    first, other = np.array([0.2, 0.9, np.nan]), np.array([0.8, 0.1, 0.6])
    rules = cv.ATRIAL_LEAD_RULES
    np.testing.assert_allclose(rules["min"](first, other), [0.2, 0.1, 0.6])
    np.testing.assert_allclose(rules["max"](first, other), [0.8, 0.9, 0.6])
    np.testing.assert_allclose(rules["mean"](first, other), [0.5, 0.5, 0.6])


def test_settings_scored_only_with_fused_leads_print_without_a_one_lead_row(cv, tmp_path,
                                                                           capsys):
    def entry(found: int) -> dict:
        e = _entry(cv, {"mitdb/1": _conf(found), "svdb/2": _conf(found)})
        f = _entry(cv, {"mitdb/1": _conf(found + 2), "svdb/2": _conf(found + 2)})
        for rec in f["records"].values():  # a both-lead P-wave rule (round 24)
            rec["gate_nn_atrial_max"] = rec["gate_off"]
        e["fused"] = {"leads": 2, "scores": cv.summarise(f["records"]), "records": f["records"]}
        return e

    results = {"a": entry(10), "a_s1": entry(12), "a_s2": entry(14)}
    out = tmp_path / "cv.json"
    out.write_text(json.dumps(results))
    assert cv.main(["--table-only", "--out", str(out)]) == 0
    printed = capsys.readouterr().out.split("seed means, a: one lead -> 2 leads fused")[1]
    assert "nn+at,P:max, 2 leads" in printed and "nn+at,P:max, 1 lead" not in printed
