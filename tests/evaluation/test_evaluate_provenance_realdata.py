"""`cardioliquid evaluate` with the shipped model on real records says which it trained on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cardioliquid.cli import main


@pytest.mark.realdata
def test_shipped_model_names_its_training_patients(shared_data: Path, tmp_path: Path,
                                                   capsys) -> None:
    out = tmp_path / "mitdb.json"
    # 101 is DS1; 202 is DS2 but the patient of DS1's 201; 100 is DS2.
    assert main(["evaluate", "arrhythmia", "--data", str(shared_data / "mitdb"), "--records",
                 "100,101,202", "--json", str(out), "--no-progress"]) == 0
    prov = json.loads(out.read_text())["provenance"]
    assert (prov["held_out"], prov["in_sample"], prov["unknown"]) == (["100"], ["101", "202"], [])
    assert "201" in prov["labels"]["202"]
    assert "patients: 1 held out, 2 in-sample (101, 202:" in capsys.readouterr().out
    svdb = tmp_path / "svdb.json"
    first = (shared_data / "svdb" / "RECORDS").read_text().split()[0]
    assert main(["evaluate", "arrhythmia", "--data", str(shared_data / "svdb"), "--records",
                 first, "--json", str(svdb), "--no-progress"]) == 0
    # The mirror's SVDB records are the model's training records: not inter-patient figures.
    assert json.loads(svdb.read_text())["provenance"]["in_sample"] == [first]
