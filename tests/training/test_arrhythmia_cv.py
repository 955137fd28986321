"""pipelines/arrhythmia_cv.py: pooled scores of a hand-made confusion matrix, table and plot."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "pipelines" / "arrhythmia_cv.py"


@pytest.fixture(scope="module")
def cv():
    spec = importlib.util.spec_from_file_location("arrhythmia_cv_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def test_table_only_prints_and_plots_without_training(cv, tmp_path, capsys):
    conf = np.diag([100, 20, 30, 5, 1]).tolist()
    entry = {"pooled": cv.scores(np.asarray(conf)), "confusion": conf,
             "folds": [{"scores": cv.scores(np.asarray(conf))}]}
    out = tmp_path / "cv.json"
    out.write_text(json.dumps({"_protocol": "notes", "perfect": entry}))
    assert cv.main(["--table-only", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "perfect" in printed and "100.0" in printed and "_protocol" not in printed
    assert out.with_suffix(".png").stat().st_size > 1000


def _synthetic_ecg(minutes: float):
    """A synthetic MLII record with N, S and V beats (the adaptation tests' builder)."""
    spec = importlib.util.spec_from_file_location("adapt_tests", Path(__file__).with_name(
        "test_adapt.py"))
    helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helpers)
    return helpers.synthetic_ecg(np.random.default_rng(0), minutes=minutes)


def _fold_stand_ins(tmp_path: Path, val: list[str]):
    """An untrained small liquid model (as the fold's module) and a DataModule stand-in."""
    import types

    import torch

    from cardioliquid.models.registry import create_model
    from cardioliquid.signal.config import BeatPreprocessing
    from cardioliquid.signal.windows import n_beat_features

    prep = BeatPreprocessing()
    kwargs = {"n_chans": 1, "n_outputs": 5, "n_times": prep.n_times, "sfreq": prep.fs,
              "n_features": n_beat_features(prep), "units": 12}
    torch.manual_seed(0)
    module = types.SimpleNamespace(model=create_model("liquid-cfc", **kwargs),
                                   hparams={"model_name": "liquid-cfc", "model_kwargs": kwargs})
    dm = types.SimpleNamespace(root=tmp_path, preprocessing=prep,
                               split_records=lambda: {"val": list(val)})
    return module, dm


def test_adaptive_confusions_score_the_same_beats_before_and_after(cv, monkeypatch, tmp_path):
    import cardioliquid.io

    rec = _synthetic_ecg(7.0)
    monkeypatch.setattr(cardioliquid.io, "load_ecg", lambda path: rec)
    module, dm = _fold_stand_ins(tmp_path, ["a", "b"])
    variants = [{"epochs": 15, "lr": 1e-2, "l2sp": 0.0},
                {"epochs": 1, "lr": 1e-9, "eval_mode": True}]
    out = cv._adaptive_confusions(module, dm, 5.0, variants)
    before, after = np.asarray(out["before"]), np.asarray(out["after"][0])
    # A negligible nudge in eval mode (statistics frozen) changes no prediction.
    np.testing.assert_array_equal(np.asarray(out["after"][1]), before)
    # Both count the labelled beats after minute 5 of each of the two records.
    n_after = int(np.sum(rec.beats.sample >= 5 * 60 * rec.fs))
    assert before.sum() == after.sum() == 2 * n_after
    assert before.shape == after.shape == (5, 5)
    # Adapting on the record's own first minutes helps on its later beats.
    assert before[2, 2] == 0  # the untrained model misses the V beats...
    assert after[2, 2] > 0.5 * after[2].sum()  # ...the adapted one finds most of them


def test_other_lead_scores_records_that_have_one_on_that_lead(cv, monkeypatch, tmp_path):
    import dataclasses

    import cardioliquid.io

    one = _synthetic_ecg(2.0)
    two = dataclasses.replace(one, signal=np.concatenate([one.signal, -one.signal]),
                              channel_names=["MLII", "V1"])
    monkeypatch.setattr(cardioliquid.io, "load_ecg",
                        lambda path: two if Path(path).name == "two" else one)
    module, dm = _fold_stand_ins(tmp_path, ["one", "two"])
    out = cv._other_lead_confusions(module, dm)
    assert out["leads"] == {"two": "V1"}  # "one" has no second lead: not scored
    conf = np.asarray(out["confusion"])
    assert conf.sum() == int(np.isin(two.beats.aami, dm.preprocessing.classes).sum())


def test_seeds_of_a_recipe_are_grouped_and_averaged(cv, tmp_path, capsys):
    def entry(s_f1_half: int) -> dict:
        # S and V each found s_f1_half of 20: key F1 = s_f1_half / 20 * 100.
        conf = np.zeros((5, 5), dtype=np.int64)
        conf[0, 0] = 100
        conf[1] = [20 - s_f1_half, s_f1_half, 0, 0, 0]
        conf[2] = [20 - s_f1_half, 0, s_f1_half, 0, 0]
        return {"pooled": cv.scores(conf), "confusion": conf.tolist(),
                "folds": [{"scores": cv.scores(conf)}]}

    results = {"_protocol": "notes", "a": entry(10), "a_s1": entry(12), "a_s2": entry(14),
               "b_s1": entry(20), "c": entry(5)}
    assert cv.recipe_seeds(results) == {"a": ["a", "a_s1", "a_s2"], "b_s1": ["b_s1"], "c": ["c"]}
    out = tmp_path / "cv.json"
    out.write_text(json.dumps(results))
    assert cv.main(["--table-only", "--out", str(out)]) == 0
    means = capsys.readouterr().out.split("seed means")[1]
    f1 = [results[n]["pooled"]["key_f1"] for n in ("a", "a_s1", "a_s2")]
    assert f"{np.mean(f1):5.1f}" in means and "b_s1" not in means and "c " not in means


def test_records_of_an_entry_print_their_share_of_the_matrix(cv, tmp_path, capsys):
    a = np.zeros((5, 5), dtype=np.int64)
    a[0] = [50, 3, 2, 0, 0]
    a[1] = [1, 9, 0, 0, 0]
    b = np.zeros((5, 5), dtype=np.int64)
    b[0, 0], b[2] = 40, [4, 0, 16, 0, 0]
    conf = a + b
    entry = {"pooled": cv.scores(conf), "confusion": conf.tolist(),
             "folds": [{"scores": cv.scores(a), "records": {"232": a.tolist()}},
                       {"scores": cv.scores(b), "records": {"105": b.tolist()}}]}
    out = tmp_path / "cv.json"
    out.write_text(json.dumps({"e": entry}))
    assert cv.main(["--table-only", "--out", str(out), "--records-of", "e"]) == 0
    rows = {ln.split()[0]: ln.split()[1:] for ln in capsys.readouterr().out.splitlines()
            if ln[:3] in ("232", "105")}
    # beats, S, S found, called S, V, V found, called V, N->S, N->V
    assert rows["232"] == ["65", "10", "9", "12", "0", "0", "2", "3", "2"]
    assert rows["105"] == ["60", "0", "0", "0", "20", "16", "16", "0", "0"]
    cv.print_records(entry | {"folds": [{"scores": cv.scores(a)}]})  # an older entry
    assert "predates" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cv.main(["--table-only", "--out", str(out), "--records-of", "missing"])


def test_results_file_puts_each_matrix_row_on_one_line(cv):
    results = {"_protocol": "tied outputs [0,1] and [\\n 2 ] stay text", "e": {
        "confusion": [[1, 2], [3, 4]], "overrides": ["--x", "[1, 2]"], "lr": 1e-05, "none": []}}
    text = cv.dumps(results)
    assert json.loads(text) == results
    assert "   [1, 2],\n   [3, 4]\n" in text and '"none": []' in text
