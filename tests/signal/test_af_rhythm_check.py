"""pipelines/af_rhythm_check.py: the AF test against annotated rhythms, beat by beat."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def check(pipeline_script):
    return pipeline_script("af_rhythm_check")


def test_each_beat_takes_the_last_rhythm_change_before_it(check):
    rhythms = [(100, "(N"), (500, "(AFIB"), (900, "(N")]
    got = check.beat_rhythms(rhythms, np.array([50, 100, 499, 500, 899, 2000]))
    # Beats before the first change take the first annotated rhythm.
    assert got.tolist() == ["(N", "(N", "(N", "(AFIB", "(AFIB", "(N"]
    assert check.beat_rhythms([], np.array([1, 2])).tolist() == ["", ""]


def test_pooled_scores_known_counts(check):
    per = {
        "a": {"beats": 100, "af": 60, "af_flagged": 57, "afl": 0, "afl_flagged": 0,
              "other": 40, "other_flagged": 4,
              "af_flagged_atrial": 54, "afl_flagged_atrial": 0, "other_flagged_atrial": 1},
        "b": {"beats": 100, "af": 0, "af_flagged": 0, "afl": 10, "afl_flagged": 5,
              "other": 90, "other_flagged": 6,
              "af_flagged_atrial": 0, "afl_flagged_atrial": 4, "other_flagged_atrial": 0},
    }  # fmt: skip
    q = check.pooled(per)
    assert q["af_se"] == 95.0  # 57 of 60
    assert q["afl_flagged_pct"] == 50.0
    assert q["non_af_specificity"] == 92.3  # 120 of 130
    assert q["ppv_af_or_flutter"] == 86.1  # 62 of 72
    assert q["af_se_atrial"] == 90.0  # 54 of 60
    assert q["afl_flagged_pct_atrial"] == 40.0
    assert q["non_af_specificity_atrial"] == 99.2  # 129 of 130
    assert q["ppv_af_or_flutter_atrial"] == 98.3  # 58 of 59
    assert "af_se_atrial_max" not in q  # counts without the both-lead test score without it


@pytest.mark.realdata
def test_record_201_counts(check, mitdb_dir):
    c = check.record_counts(mitdb_dir / "201")
    assert c["af"] + c["afl"] + c["other"] == c["beats"] > 1900
    assert c["af_flagged"] / c["af"] > 0.95
    # 201's AF has no consistent P wave; most of its flagged non-AF beats (other
    # supraventricular rhythms, ectopy) do.
    assert c["af_flagged_atrial"] / c["af"] > 0.8
    # v9.1's gate keeps a flag only where neither fused lead (MLII, V1) has consistent P
    # waves: never more flags than the first lead's condition, and 201's AF still found.
    for k in ("af", "afl", "other"):
        assert c[f"{k}_flagged_atrial_max"] <= c[f"{k}_flagged_atrial"]
    assert c["af_flagged_atrial_max"] / c["af"] > 0.8
    assert c["other_flagged_atrial"] < 0.5 * c["other_flagged"]
