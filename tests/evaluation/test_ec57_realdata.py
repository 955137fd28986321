"""Reference annotations of real MIT-BIH records scored against themselves."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import wfdb

from cardioliquid.evaluation import cli, ec57
from cardioliquid.io import load_ecg

# Beat counts published in the MIT-BIH Arrhythmia Database Directory (Moody & Mark).
PUBLISHED = {
    "100": {"N": 2239, "S": 33, "V": 1, "F": 0, "Q": 0},
    "119": {"N": 1543, "S": 0, "V": 444, "F": 0, "Q": 0},
}


@pytest.mark.realdata
def test_reference_against_itself_is_perfect(mitdb_dir: Path, tmp_path: Path) -> None:
    pred = tmp_path / "pred"
    pred.mkdir()
    for r in PUBLISHED:  # what `cardioliquid score` would write if it were perfect
        rec = load_ecg(mitdb_dir / r)
        wfdb.wrann(
            r, "cla", rec.beats.sample, symbol=list(rec.beats.aami), fs=rec.fs, write_dir=str(pred)
        )
    out = tmp_path / "self.json"
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(
        [
            "arrhythmia",
            "--data",
            str(mitdb_dir),
            "--records",
            "100,119",
            "--predictions",
            str(pred),
            "--json",
            str(out),
            "--no-progress",
        ]
    )
    assert cli.run(args) == 0
    res = json.loads(out.read_text())
    assert res["n_beats"] == sum(sum(c.values()) for c in PUBLISHED.values()) == 4260
    for r, counts in PUBLISHED.items():
        assert res["records"][r]["counts"] == counts
    for key in ("veb", "sveb", "qrs"):
        assert res[key]["se"] == res[key]["ppv"] == 100.0
    assert res["veb"]["fpr"] == res["sveb"]["fpr"] == 0.0
    assert res["accuracy"] == 100.0
    assert np.trace(np.array(res["confusion"])) == 4260


@pytest.mark.realdata
def test_shifted_reference_still_matches_within_window(mitdb_dir: Path) -> None:
    rec = load_ecg(mitdb_dir / "119")
    comp = ec57.compare_recording(rec, rec.beats.sample + 50, rec.beats.aami)  # 139 ms late
    assert comp.matrix[:5, :5].trace() == len(rec.beats)
    comp = ec57.compare_recording(rec, rec.beats.sample + 60, rec.beats.aami)  # 167 ms late
    assert comp.matrix[:5, :5].sum() == 0 and comp.matrix[5].sum() == len(rec.beats)


DS2 = (
    "100",
    "103",
    "105",
    "111",
    "113",
    "117",
    "121",
    "123",
    "200",
    "202",
    "210",
    "212",
    "213",
    "214",
    "219",
    "221",
    "222",
    "228",
    "231",
    "232",
    "233",
    "234",
)  # de Chazal 2004


@pytest.mark.realdata
def test_ds2_beat_counts_match_de_chazal_2004(mitdb_dir: Path) -> None:
    comps = []
    for r in DS2:
        rec = load_ecg(mitdb_dir / r)
        comps.append(ec57.compare_recording(rec, rec.beats.sample, rec.beats.aami))
    res = ec57.summarize(comps)
    # de Chazal et al. 2004, Table I (DS2): 44,259 N, 1,837 S, 3,221 V, 388 F, 7 Q.
    assert res["n_beats"] == 49712
    assert [c["n"] for c in res["classes"].values()] == [44259, 1837, 3221, 388, 7]
