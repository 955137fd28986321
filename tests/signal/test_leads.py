"""Lead selection by name (MIT-BIH 102/104 lack MLII; 114 has it second)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cardioliquid.errors import RecordingError
from cardioliquid.signal.config import BeatPreprocessing
from cardioliquid.signal.leads import fused_leads, select_lead

PREF = BeatPreprocessing().lead_preference


@pytest.mark.parametrize(("names", "expected"), [
    (["MLII", "V1"], "MLII"), (["V5", "MLII"], "MLII"), (["V5", "V2"], "V5"),
    (["ml2", "V1"], "ml2"), (["EKG"], "EKG"),
])  # fmt: skip
def test_select_lead(ecg, names, expected):
    rec = replace(ecg, signal=ecg.signal[: len(names)], channel_names=names)
    assert select_lead(rec, PREF) == expected


def test_no_usable_lead(ecg):
    rec = replace(ecg, channel_names=["RESP", "PLETH"])
    with pytest.raises(RecordingError, match="no usable ECG lead"):
        select_lead(rec, PREF)


@pytest.mark.realdata
def test_mitdb_leads(mitdb_dir):
    from cardioliquid.io import load_ecg

    picked = {r: select_lead(load_ecg(mitdb_dir / r), PREF) for r in ("100", "102", "104", "114")}
    assert picked == {"100": "MLII", "102": "V5", "104": "V5", "114": "MLII"}


def test_fused_leads_are_the_first_listed_ones_in_preference_order():
    pref = ["MLII", "II", "V5", "V1"]
    assert fused_leads(["V1", "MLII"], pref, 2) == ["MLII", "V1"]
    assert fused_leads(["V1", "MLII"], pref, 1) == ["MLII"]
    assert fused_leads(["MLII", "X"], pref, 2) == ["MLII"]  # an unlisted lead is not read
    assert fused_leads(["X"], pref, 2) == []
