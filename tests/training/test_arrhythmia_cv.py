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
