"""Output formats: WFDB annotations, tables, SzCORE events, manifests."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from cardioliquid.decision.events import SeizureEvent
from cardioliquid.scoring import writers
from cardioliquid.scoring.results import BeatPredictions


def _beats(n=6):
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(5), size=n).astype(np.float32)
    return BeatPredictions(np.arange(n) * 300 + 100, p, list("NSVFQ"), 360.0, "reference", "r1")


def test_annotations_read_back_with_wfdb(tmp_path):
    import wfdb

    pred = _beats()
    path = writers.write_annotations(pred, tmp_path / "r1.cla")
    ann = wfdb.rdann(str(tmp_path / "r1"), "cla")
    np.testing.assert_array_equal(ann.sample, pred.sample)
    assert ann.symbol == list(pred.labels)
    assert ann.fs == 360.0
    assert path.name == "r1.cla"
    assert not list(tmp_path.glob(".*"))  # no temporary left


def test_empty_annotations_read_back(tmp_path):
    import wfdb

    pred = BeatPredictions([], np.zeros((0, 5)), list("NSVFQ"), 360.0, "detect", "r0")
    writers.write_annotations(pred, tmp_path / "r0.cla")
    ann = wfdb.rdann(str(tmp_path / "r0"), "cla")
    assert len(ann.sample) == 0


def test_beat_table(tmp_path):
    pred = _beats()
    path = writers.write_beat_table(pred, tmp_path / "r1_beats.csv")
    rows = list(csv.DictReader(path.open()))
    assert [int(r["sample"]) for r in rows] == pred.sample.tolist()
    assert [r["class"] for r in rows] == list(pred.labels)
    np.testing.assert_allclose([float(r["p_V"]) for r in rows], pred.proba[:, 2], atol=1e-6)
    np.testing.assert_allclose([float(r["time_s"]) for r in rows], pred.time_s, atol=1e-6)
    assert "af_rhythm" not in rows[0]  # only a model with an AF gate reports the rhythm


def test_beat_table_reports_af_rhythm_of_a_gated_model(tmp_path):
    from dataclasses import replace

    af = np.array([0, 0, 1, 1, 1, 0], dtype=bool)
    pred = replace(_beats(), af=af)
    rows = list(csv.DictReader(writers.write_beat_table(pred, tmp_path / "r1.csv").open()))
    assert [int(r["af_rhythm"]) for r in rows] == af.astype(int).tolist()
    joined = pred.concat(replace(_beats(2), af=None))  # a part without flags counts as not AF
    assert joined.af.tolist() == [*af.tolist(), False, False]


def test_beat_parquet(tmp_path):
    pytest.importorskip("pyarrow")
    import pandas as pd

    pred = _beats()
    df = pd.read_parquet(writers.write_beat_parquet(pred, tmp_path / "r1.parquet"))
    assert df["sample"].tolist() == pred.sample.tolist()
    np.testing.assert_allclose(df["p_N"].to_numpy(), pred.proba[:, 0])
    from dataclasses import replace

    gated = replace(pred, af=np.arange(len(pred)) % 2 == 0)
    df = pd.read_parquet(writers.write_beat_parquet(gated, tmp_path / "r1g.parquet"))
    assert df["af_rhythm"].tolist() == gated.af.tolist()


def test_events_tsv_is_szcore(tmp_path):
    import pandas as pd

    ev = [SeizureEvent(10.0, 40.0, 0.91)]
    path = writers.write_events(
        ev, tmp_path / "x_events.tsv", 3600.0, "2000-01-01 00:00:00", ["FP1-F7", "F7-T7"]
    )
    df = pd.read_csv(path, sep="\t")
    assert list(df.columns) == list(writers.EVENTS_COLUMNS)
    row = df.iloc[0]
    assert (row.onset, row.duration, row.eventType) == (10.0, 40.0, "sz")
    assert row.recordingDuration == 3600.0 and row.channels == "FP1-F7,F7-T7"


def test_events_tsv_without_seizure_has_a_background_row(tmp_path):
    import pandas as pd

    df = pd.read_csv(writers.write_events([], tmp_path / "y_events.tsv", 60.0), sep="\t")
    assert df.shape[0] == 1 and df.eventType[0] == "bckg" and df.duration[0] == 60.0


def test_format_datetime():
    assert writers.format_datetime("2000-01-01 10:20:30+00:00") == "2000-01-01 10:20:30"
    assert writers.format_datetime(None) == "n/a"


def test_manifest_detects_changed_outputs(tmp_path):
    f = writers.write_text_atomic(tmp_path / "a.csv", "x\n1\n")
    writers.write_manifest(tmp_path, "a", [f], {"duration_s": 1.0})
    assert writers.is_complete(tmp_path, "a")
    f.write_text("x\n2\n")  # same size, other bytes
    assert not writers.is_complete(tmp_path, "a")
    f.unlink()
    assert not writers.is_complete(tmp_path, "a")


def test_failed_write_leaves_nothing(tmp_path):
    def boom(tmp):
        tmp.write_text("half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        writers.write_atomic(tmp_path / "out.csv", boom)
    assert list(tmp_path.iterdir()) == []


def test_annotations_of_a_gated_model_mark_where_af_like_rhythm_starts_and_ends(tmp_path):
    from dataclasses import replace

    import wfdb

    af = np.array([1, 1, 0, 0, 1, 1], dtype=bool)  # AF from the start, again to the end
    pred = replace(_beats(), af=af)
    writers.write_annotations(pred, tmp_path / "r1.cla")
    ann = wfdb.rdann(str(tmp_path / "r1"), "cla")
    beats = [i for i, s in enumerate(ann.symbol) if s != "+"]
    np.testing.assert_array_equal(ann.sample[beats], pred.sample)  # every beat, in order
    assert [ann.symbol[i] for i in beats] == list(pred.labels)
    rhythm = [(int(ann.sample[i]), ann.aux_note[i]) for i, s in enumerate(ann.symbol) if s == "+"]
    s = pred.sample
    assert rhythm == [(s[0], "(AFIB"), (s[2], "(N"), (s[4], "(AFIB")]
    # Read back as predictions, the rhythm annotations are not beats.
    from cardioliquid.evaluation.records import read_predictions

    sample, cls = read_predictions(tmp_path, "r1")
    np.testing.assert_array_equal(sample, pred.sample)
    assert list(cls) == list(pred.labels)
