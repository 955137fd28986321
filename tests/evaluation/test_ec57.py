"""EC57 / bxb beat-by-beat scoring on hand-made cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from wfdb.processing import Comparitor

from cardioliquid.evaluation import ec57

FS = 1000  # 1 sample = 1 ms, so window edges read directly


def _pairs(m: ec57.BeatMatch) -> dict[int, int]:
    return dict(zip(m.ref_index.tolist(), m.test_index.tolist(), strict=True))


@pytest.mark.parametrize(
    ("offset_ms", "matched"), [(149, True), (150, True), (151, False), (-149, True), (-151, False)]
)
def test_match_window_edges(offset_ms: int, matched: bool) -> None:
    m = ec57.match_beats([5000], [5000 + offset_ms], FS)
    assert (len(m.ref_index) == 1) is matched
    assert len(m.missed) == len(m.extra) == (0 if matched else 1)


def test_match_window_in_samples_at_360_hz() -> None:
    assert ec57.match_window_samples(360) == 54  # 0.15 s * 360 Hz
    assert len(ec57.match_beats([1000], [1054], 360).ref_index) == 1
    assert len(ec57.match_beats([1000], [1055], 360).ref_index) == 0


def test_contested_test_beat_goes_to_the_closer_reference() -> None:
    # 1060 is within 150 ms of both references but closer to 1100.
    m = ec57.match_beats([1000, 1100], [1060], FS)
    assert _pairs(m) == {1: 0}
    assert m.missed.tolist() == [0]


def test_two_test_beats_near_one_reference_leave_one_extra() -> None:
    m = ec57.match_beats([1000], [980, 1010], FS)
    assert _pairs(m) == {0: 1}  # the closer one
    assert m.extra.tolist() == [0]


def test_unsorted_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="sorted"):
        ec57.match_beats([2000, 1000], [1000], FS)


def test_matching_agrees_with_wfdb_comparitor_except_exact_ties(rng) -> None:
    n_ties = 0
    for _ in range(40):
        ref = np.cumsum(rng.integers(150, 450, 150))
        test = ref + rng.integers(-70, 70, len(ref))
        test = test[rng.random(len(test)) > 0.05]
        test = np.unique(np.concatenate([test, rng.integers(0, ref[-1], 4)]))
        ours = _pairs(ec57.match_beats(ref, test, 360))
        comp = Comparitor(ref, test, ec57.match_window_samples(360) + 1)  # Comparitor: strict <
        comp.compare()
        theirs = {i: int(j) for i, j in enumerate(comp.matching_sample_nums) if j >= 0}
        for k in set(ours) | set(theirs):
            if ours.get(k) != theirs.get(k):
                # bxb's rule (T - t < |T - t'|, strict) gives an exact tie to the later beat.
                assert k in ours and k in theirs
                assert abs(ref[k] - test[ours[k]]) == abs(ref[k] - test[theirs[k]])
                n_ties += 1
        assert len(ours) >= len(theirs) - n_ties
    assert n_ties < 10


def _one_record(
    pairs: list[tuple[str, str]], missed: str = "", extra: str = "", start_s: float = 0.0
) -> ec57.RecordComparison:
    """A record whose matched pairs, missed beats and extra beats are given by class."""
    ref_s, ref_c, test_s, test_c = [], [], [], []
    t = 1000
    for r, a in pairs:
        ref_s.append(t), ref_c.append(r), test_s.append(t + 20), test_c.append(a)
        t += 1000
    for r in missed:
        ref_s.append(t), ref_c.append(r)
        t += 1000
    for a in extra:
        test_s.append(t), test_c.append(a)
        t += 1000
    return ec57.compare_record(ref_s, ref_c, test_s, test_c, FS, "rec", start_s=start_s)


def test_bxb_matrix_rows_reference_columns_algorithm() -> None:
    comp = _one_record([("N", "N"), ("N", "V"), ("V", "N")], missed="S", extra="F")
    m = comp.matrix
    assert m.shape == (6, 6)
    assert m[0, 0] == 1 and m[0, 2] == 1 and m[2, 0] == 1
    assert m[1, 5] == 1  # So: reference S missed by the algorithm
    assert m[5, 3] == 1  # Of: algorithm F with no reference beat
    assert m.sum() == 5


def test_veb_fusion_and_unknown_called_v_are_not_false_positives() -> None:
    comp = _one_record([("V", "V"), ("F", "V"), ("Q", "V"), ("N", "N")])
    veb = ec57.ectopic_stats(comp.matrix, "V")
    assert (veb["tp"], veb["fp"]) == (1, 0)
    assert veb["ppv"] == 100.0


def test_veb_false_positives_are_nv_sv_and_extra_v() -> None:
    comp = _one_record([("V", "V"), ("N", "V"), ("S", "V"), ("N", "N")], extra="V")
    veb = ec57.ectopic_stats(comp.matrix, "V")
    assert (veb["tp"], veb["fp"]) == (1, 3)
    assert veb["ppv"] == pytest.approx(25.0)


def test_veb_false_negatives_include_missed_and_every_other_label() -> None:
    comp = _one_record([("V", "V"), ("V", "N"), ("V", "S"), ("V", "F"), ("V", "Q")], missed="V")
    veb = ec57.ectopic_stats(comp.matrix, "V")
    assert (veb["tp"], veb["fn"]) == (1, 5)
    assert veb["se"] == pytest.approx(100 / 6)


def test_veb_true_negatives_exclude_missed_beats_and_fpr() -> None:
    # TN: Nn, Ns, Sn, Ff, Qq, On (extra N) = 6; No and So are not true negatives.
    comp = _one_record(
        [("N", "N"), ("N", "S"), ("S", "N"), ("F", "F"), ("Q", "Q"), ("N", "V")],
        missed="NS",
        extra="N",
    )
    veb = ec57.ectopic_stats(comp.matrix, "V")
    assert (veb["tn"], veb["fp"]) == (6, 1)
    assert veb["fpr"] == pytest.approx(100 / 7)


def test_sveb_unknown_called_s_is_not_false_positive_but_fusion_is() -> None:
    comp = _one_record([("S", "S"), ("Q", "S"), ("F", "S"), ("V", "S"), ("N", "S")], extra="S")
    sveb = ec57.ectopic_stats(comp.matrix, "S")
    assert (sveb["tp"], sveb["fp"]) == (1, 4)  # Fs, Vs, Ns, Os; not Qs


def test_sveb_false_negatives() -> None:
    comp = _one_record([("S", "S"), ("S", "N"), ("S", "V"), ("S", "F"), ("S", "Q")], missed="S")
    assert ec57.ectopic_stats(comp.matrix, "S")["fn"] == 5


def test_undefined_statistics_are_none() -> None:
    comp = _one_record([("N", "N"), ("N", "N")])
    veb = ec57.ectopic_stats(comp.matrix, "V")
    assert veb["se"] is None and veb["ppv"] is None and veb["fpr"] == 0.0


def test_invalid_class_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="AAMI classes"):
        ec57.compare_record([100], ["A"], [100], ["N"], FS)
    with pytest.raises(ValueError, match="'cls'"):
        ec57.ectopic_stats(np.zeros((6, 6)), "N")


def test_start_time_scores_pairs_by_reference_time() -> None:
    # Reference at 1000 ms and 2000 ms; test for the second sits just before 1.95 s.
    comp = ec57.compare_record([1000, 2000], ["V", "V"], [1000, 1950], ["V", "N"], FS, start_s=1.96)
    assert comp.matrix.sum() == 1 and comp.matrix[2, 0] == 1  # only the 2000 ms pair


def test_lone_test_beats_inside_reference_vf_are_ignored() -> None:
    comp = ec57.compare_record(
        [1000], ["N"], [1000, 5000, 9000], ["N", "V", "V"], FS, ignore_test_in=[(4.0, 6.0)]
    )
    assert comp.matrix[5].sum() == 1  # the extra at 9 s counts, the one in VF does not


def test_vf_intervals_from_rhythm_notes() -> None:
    rhythms = [(0, "(N"), (3600, "(VFL"), (7200, "(N")]
    assert ec57.vf_intervals(rhythms, 360, 36000) == [(10.0, 20.0)]
    assert ec57.vf_intervals([(0, "(VFL")], 360, 3600) == [(0.0, 10.0)]


def test_gross_pools_counts_and_average_means_records() -> None:
    a = _one_record([("V", "V")] * 9 + [("V", "N")])  # VEB Se 90 %, 10 V beats
    b = _one_record([("V", "V"), ("V", "N")])  # VEB Se 50 %, 2 V beats
    a.record, b.record = "a", "b"
    out = ec57.summarize([a, b])
    assert out["veb"]["se"] == pytest.approx(100 * 10 / 12)
    assert out["veb"]["average"]["se"] == pytest.approx(70.0)
    assert out["records"]["a"]["veb"]["se"] == pytest.approx(90.0)
    assert out["veb"]["average"]["ppv"] == pytest.approx(100.0)


def test_average_skips_records_where_a_statistic_is_undefined() -> None:
    a = _one_record([("S", "S"), ("S", "N")])  # SVEB Se 50
    b = _one_record([("N", "N")])  # no S beats: Se undefined
    a.record, b.record = "a", "b"
    out = ec57.summarize([a, b])
    assert out["sveb"]["average"]["se"] == pytest.approx(50.0)
    assert out["records"]["b"]["sveb"]["se"] is None


def test_summary_schema_per_class_accuracy_and_confusion() -> None:
    comp = _one_record(
        [("N", "N")] * 6 + [("N", "S"), ("S", "S"), ("V", "V"), ("F", "N")], missed="V", extra="N"
    )
    out = ec57.summarize([comp], mode="inter-patient")
    assert out["confusion_labels"] == ["N", "S", "V", "F", "Q"]
    conf = np.array(out["confusion"])
    assert conf.shape == (5, 5) and conf.sum() == 10
    assert out["accuracy"] == pytest.approx(80.0)
    assert out["n_beats"] == 11  # reference beats scored, the missed one included
    n = out["classes"]["N"]
    assert n["se"] == pytest.approx(100 * 6 / 7)
    assert n["ppv"] == pytest.approx(100 * 6 / 7)  # column n: 6 Nn + 1 Fn
    assert n["fpr"] == pytest.approx(100 * 1 / 3)  # 1 of the 3 non-N beats called N
    assert out["classes"]["Q"]["se"] is None
    assert set(out["classes"]) == {"N", "S", "V", "F", "Q"}
    assert out["qrs"]["fn"] == 1 and out["qrs"]["fp"] == 1
    assert out["mode"] == "inter-patient"


def test_record_bootstrap_resamples_whole_records() -> None:
    a = _one_record([("V", "V")] * 9 + [("V", "N")])  # VEB Se 90
    b = _one_record([("V", "V"), ("V", "N")])  # VEB Se 50
    # Identical records: every resample gives the same gross value.
    same = ec57.record_bootstrap([a.matrix, a.matrix], n_resamples=200)
    assert same["veb"]["se"] == pytest.approx([90.0, 90.0])
    assert same["sveb"]["se"] is None  # no S beat in any resample
    # Two different records: the interval spans the all-b to the all-a resample.
    ci = ec57.record_bootstrap([a.matrix, b.matrix], n_resamples=400)
    assert ci["veb"]["se"][0] == pytest.approx(50.0) and ci["veb"]["se"][1] == pytest.approx(90.0)
    assert ci == ec57.record_bootstrap([a.matrix, b.matrix], n_resamples=400)  # seeded
    assert ci["n_resamples"] == 400 and ci["level"] == 0.95


def test_record_bootstrap_skips_resamples_without_the_class() -> None:
    s = _one_record([("S", "S")] * 3 + [("S", "N")])  # SVEB Se 75: the only S beats
    n = [_one_record([("N", "N")] * 5) for _ in range(3)]
    ci = ec57.record_bootstrap([s.matrix] + [m.matrix for m in n], n_resamples=500)
    # Resamples holding s (1 - (3/4)**4 = 68 %) all give 75; the rest are undefined.
    assert ci["sveb"]["se"] == pytest.approx([75.0, 75.0])
    assert ci["accuracy"][0] < ci["accuracy"][1] <= 100.0
    out = ec57.summarize([s, *n])
    assert out["ci95"]["sveb"]["se"] == pytest.approx([75.0, 75.0])
    assert "ci95" not in ec57.summarize([s])  # one record: nothing to resample
