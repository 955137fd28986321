"""Reports: atomic files, Markdown tables that carry the numbers, PNG plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cardioliquid.evaluation import ec57, report
from cardioliquid.evaluation import seizure as sz


def _summary() -> dict:
    comp = ec57.compare_record(
        [1000, 2000, 3000, 4000],
        ["N", "V", "V", "S"],
        [1000, 2000, 3000, 4000],
        ["N", "V", "N", "S"],
        1000,
        "r1",
    )
    return ec57.summarize([comp])


def test_json_is_written_atomically_with_nan_as_null(tmp_path: Path) -> None:
    path = report.write_json(
        tmp_path / "sub" / "x.json", {"a": float("nan"), "b": np.int64(3), "c": np.arange(2)}
    )
    assert json.loads(path.read_text()) == {"a": None, "b": 3, "c": [0, 1]}
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]


def test_failed_write_leaves_neither_file_nor_temporary(tmp_path: Path) -> None:
    def boom(p: Path) -> None:
        p.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        report._atomic(tmp_path / "r.md", boom)
    assert list(tmp_path.iterdir()) == []


def test_arrhythmia_markdown_carries_the_statistics(tmp_path: Path) -> None:
    res = _summary()
    text = report.arrhythmia_markdown(res)
    assert "| VEB | 50.00 | – | 100.00 | – | 0.000 |" in text  # Se 1/2, +P 1/1, FPR 0
    assert "| r1 | 4 |" in text and "Accuracy: 75.00 %" in text
    md = report.write_arrhythmia_report(res, tmp_path / "rep.md")
    assert (tmp_path / "rep_confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert "![confusion matrix](rep_confusion.png)" in md.read_text()


def test_arrhythmia_markdown_gives_record_bootstrap_intervals() -> None:
    def record(name: str, called: str) -> ec57.RecordComparison:
        return ec57.compare_record([1000, 2000, 3000], ["N", "V", "V"], [1000, 2000, 3000],
                                   ["N", "V", called], 1000, name)

    res = ec57.summarize([record("a", "V"), record("b", "N")])  # VEB Se 100 and 50
    text = report.arrhythmia_markdown(res)
    assert "| VEB | 75.00 | 50.0–100.0 | 100.00 | 100.0–100.0 |" in text
    assert "whole records resampled" in text and "Accuracy 83.33 %, 95 % CI" in text


def test_seizure_markdown_and_timeline(tmp_path: Path) -> None:
    counts = {"a": sz.count_recording([(100, 160)], [(110, 150)], 600.0)}
    res = sz.summarize(counts)
    md = report.write_seizure_report(
        res,
        tmp_path / "s.md",
        {
            "a": {
                "duration_s": 600.0,
                "ref": [(100, 160)],
                "hyp": [(110, 150)],
                "t": [0, 300],
                "p": [0.1, 0.2],
            }
        },
    )
    text = md.read_text()
    assert "| event | 100.00 | 100.00 | 100.00 | 0.0 | 1 | 0 | 1 |" in text
    assert "median 10.0 s" in text
    assert "Event sensitivity 95 % CI 20.7–100.0 %" in text  # one seizure of one tells little
    assert (tmp_path / "s_timeline.png").read_bytes()[:4] == b"\x89PNG"


def test_ds2_report_lists_published_anchors_and_unmatched_beats() -> None:
    comp = ec57.compare_record([1000, 2000], ["V", "S"], [1000, 3000], ["V", "N"], 1000, "r")
    res = ec57.summarize([comp])
    res["records_requested"] = "DS2"
    text = report.arrhythmia_markdown(res)
    assert "| de Chazal et al. 2004 | 75.9 | 38.5 | 77.7 | 81.9 |" in text
    assert "| **this model** | 0.0 | – | 100.0 | 100.0 |" in text
    assert "| O | 1 | 0 | 0 | 0 | 0 | 0 |" in text  # the extra N at 3 s


def test_one_record_report_says_there_is_no_interval() -> None:
    """One record cannot be resampled: no CI, and no talk of resamples."""
    res = _summary()
    res["mode"] = "patient-adaptive"
    text = report.arrhythmia_markdown(res)
    assert "resamples;" not in text and "percentile interval" not in text
    assert "No 95 % CI: the intervals resample whole records" in text
    assert "with one record there is nothing to resample" in text


def test_report_says_the_calls_came_from_predictions() -> None:
    res = _summary()
    res.update(source="predictions", model="arrhythmia", model_sha256="ab" * 32, af_gate=None,
               predictions={"folder": "out/s1", "note": "no readable summary.json"})
    text = report.arrhythmia_markdown(res)
    assert ("- **calls**: read from `cardioliquid score` predictions in `out/s1`, not made by "
            "this evaluation (no readable summary.json)") in text
    assert "**model sha256**: abababababababab" in text and "AF gate" not in text
    assert "(calls read from predictions in out/s1)" in report.summary_text(res)
