"""pipelines/cross_database_check.py: MIT-BIH re-stored as other databases store ECG."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def xdb(pipeline_script):
    return pipeline_script("cross_database_check")


@pytest.mark.realdata
def test_rewrite_moves_signal_and_annotations_together(xdb, mitdb_dir, tmp_path):
    import wfdb

    form = xdb.StorageForm("svdb-like", 128.0, ("ECG1", "ECG2"))
    path = xdb.rewrite_record(mitdb_dir / "100", tmp_path, form)
    src, ann = wfdb.rdrecord(str(mitdb_dir / "100")), wfdb.rdann(str(mitdb_dir / "100"), "atr")
    new, moved = wfdb.rdrecord(str(path)), wfdb.rdann(str(path), "atr")
    assert new.fs == 128 and new.sig_name == ["ECG1", "ECG2"]  # 100's first lead is MLII
    assert new.sig_len == pytest.approx(src.sig_len * 128 / 360, abs=2)
    assert moved.symbol == ann.symbol
    np.testing.assert_allclose(moved.sample, ann.sample * 128 / 360, atol=1.0)


@pytest.mark.realdata
@pytest.mark.slow
def test_check_scores_every_form_against_the_360_hz_labels(xdb, mitdb_dir, tmp_path):
    result = xdb.check(mitdb_dir.parent, ["119"])
    forms = result["forms"]
    assert list(forms) == [f.name for f in xdb.FORMS]
    assert forms["mitdb (360 Hz, MLII)"]["label_agreement_with_360hz"] == 100.0
    n = {r["n_beats"] for r in forms.values()}
    assert len(n) == 1 and n.pop() > 1900  # every form scores the same reference beats
    for r in forms.values():
        assert r["label_agreement_with_360hz"] > 95.0  # 98.6 / 99.7 measured on 119
        assert r["veb"]["se"] > 90.0  # 119 holds ~440 V beats, all clear
    xdb.print_table(result)
    xdb.plot(result, tmp_path / "x.png")
    assert (tmp_path / "x.png").stat().st_size > 1000


@pytest.mark.realdata
@pytest.mark.slow
def test_check_with_detected_beats_scores_qrs_detection_too(xdb, mitdb_dir, capsys):
    result = xdb.check(mitdb_dir.parent, ["119"], beats="detect")
    assert result["beats"] == "detect"
    for r in result["forms"].values():
        assert r["label_agreement_with_360hz"] is None  # detected beats differ per form
        assert r["qrs"]["se"] > 99.0 and r["qrs"]["ppv"] > 99.0
        assert r["veb"]["se"] > 90.0
    xdb.print_table(result)
    row = capsys.readouterr().out.splitlines()[1].split()
    assert row[-3] == "-"  # no agreement: the detected beats differ per form
