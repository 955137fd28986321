"""Splits are by patient: train and test never share one (MIT-BIH 201 and 202!)."""

from __future__ import annotations

import pytest

from cardioliquid.data import splits
from cardioliquid.data.splits import (
    DS1,
    DS2,
    PACED,
    carve_validation,
    check_disjoint,
    de_chazal,
    leave_one_patient_out,
    patient_of,
    split_by_patient,
)
from cardioliquid.errors import CardioLiquidError
from cardioliquid.io.wfdb import MITDB_RECORDS


def test_de_chazal_sets():
    assert len(DS1) == len(DS2) == 22
    assert not set(DS1) & set(DS2) and not set(PACED) & (set(DS1) | set(DS2))
    assert set(DS1) | set(DS2) | set(PACED) == set(MITDB_RECORDS)


def test_patient_of():
    assert patient_of("202") == patient_of("201") == "201"
    assert patient_of("chb01_03") == patient_of("chb21_01") == "chb01"
    assert patient_of("100") == "100" and patient_of("bonn_Z001") == "bonn_Z001"


def test_published_split_shares_patient_201_and_is_caught():
    with pytest.raises(CardioLiquidError, match=r"patient leakage.*\['201'\]"):
        check_disjoint(DS1, DS2)
    check_disjoint(DS1, DS2, allow=["201"])  # knowingly accepted


def test_patient_clean_de_chazal_split():
    train, test = de_chazal(exclude_shared_patient=True)
    assert "202" not in test and len(test) == 21
    check_disjoint(train, test)
    assert not {patient_of(r) for r in train} & {patient_of(r) for r in test}


@pytest.mark.parametrize("seed", range(10))
def test_random_patient_split_never_separates_201_and_202(seed):
    train, test = split_by_patient(list(MITDB_RECORDS), test_fraction=0.3, seed=seed)
    assert sorted(train + test) == sorted(MITDB_RECORDS)
    assert ("201" in train) == ("202" in train)
    assert not {patient_of(r) for r in train} & {patient_of(r) for r in test}


def test_leave_patients_out_for_eeg():
    records = [f"chb{p:02d}_{r:02d}" for p in (1, 2, 3, 21) for r in (1, 2, 3)]
    train, test = split_by_patient(records, test_patients=["chb01"])
    assert all(r.startswith("chb02") or r.startswith("chb03") for r in train)
    assert {r[:5] for r in test} == {"chb01", "chb21"}  # chb21 is chb01's subject
    folds = leave_one_patient_out(records)
    assert [p for p, _, _ in folds] == ["chb01", "chb02", "chb03"]
    for _, tr, te in folds:
        check_disjoint(tr, te)


def test_carve_validation_from_training_only():
    fit, val = carve_validation(list(DS1), n_patients=3, seed=1)
    assert set(fit) | set(val) == set(DS1) and len({patient_of(r) for r in val}) == 3
    check_disjoint(fit, val)
    assert not set(val) & set(DS2)
    fit, val = carve_validation(list(DS1), val_patients=["201", "101"])
    assert sorted(val) == ["101", "201"]


def test_bad_requests():
    with pytest.raises(CardioLiquidError, match="have no records"):
        split_by_patient(list(DS1), test_patients=["999"])
    with pytest.raises(CardioLiquidError, match="at least 2 patients"):
        split_by_patient(["201", "202"])
    assert splits.ALL_MITDB == MITDB_RECORDS


def test_ds1_folds_partition_ds1_by_patient():
    flat = [r for fold in splits.DS1_FOLDS for r in fold]
    assert sorted(flat) == sorted(splits.DS1) and len(flat) == len(set(flat))
    for i, fold in enumerate(splits.DS1_FOLDS):
        rest = [r for j, f in enumerate(splits.DS1_FOLDS) if j != i for r in f]
        splits.check_disjoint(rest, fold)
        assert not set(fold) & set(splits.DS2)
