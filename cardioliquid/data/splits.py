"""Splits by patient, never by window or beat.

MIT-BIH follows de Chazal, O'Dwyer and Reilly (IEEE TBME 51(7), 2004): DS1 for
training and model selection, DS2 for the final test only, the four paced
records excluded. Records 201 and 202 come from one patient (201 is in DS1,
202 in DS2): :func:`patient_of` maps both to ``"201"``, and a split that puts
the same patient on both sides is refused by :func:`check_disjoint`.
EEG is split leave-patients-out with :func:`split_by_patient`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence

from cardioliquid.errors import CardioLiquidError
from cardioliquid.io.eeg import eeg_patient_id
from cardioliquid.io.wfdb import MITDB_RECORDS, mitdb_patient

PACED: tuple[str, ...] = ("102", "104", "107", "217")
"""MIT-BIH records with paced beats, excluded from the inter-patient split."""

DS1: tuple[str, ...] = (
    "101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122",
    "124", "201", "203", "205", "207", "208", "209", "215", "220", "223", "230",
)  # fmt: skip
"""de Chazal 2004 training set (22 records): training and model selection."""

DS2: tuple[str, ...] = (
    "100", "103", "105", "111", "113", "117", "121", "123", "200", "202", "210",
    "212", "213", "214", "219", "221", "222", "228", "231", "232", "233", "234",
)  # fmt: skip
"""de Chazal 2004 test set (22 records): final evaluation only, never tuned on."""

ALL_MITDB: tuple[str, ...] = MITDB_RECORDS

DS1_FOLDS: tuple[tuple[str, ...], ...] = (
    ("209", "106", "109", "115", "122", "230"),
    ("201", "208", "124", "112", "101"),
    ("207", "220", "119", "116", "114"),
    ("223", "118", "203", "215", "205", "108"),
)  # fmt: skip
"""Four leave-patients-out folds of DS1, for cross-validated model selection.

Built from DS1's own reference labels only: each fold holds 100-400 SVEB and
500-1,200 VEB beats, and the bundle-branch-block records (LBBB 109, 207; RBBB
118, 124, 207) are spread so that every training side keeps some of each.
"""

SVDB_TRAIN: tuple[str, ...] = (
    "803", "804", "807", "809", "811", "812", "820", "821", "825", "826", "827", "829",
    "840", "841", "843", "844", "848", "850", "852", "853", "854", "855", "856", "857",
    "859", "862", "863", "864", "865", "866", "867", "868", "870", "874", "875", "881",
    "883", "884", "888",
)  # fmt: skip
"""The 39 MIT-BIH Supraventricular Arrhythmia Database records available for training.

Each SVDB record is one patient. SVDB's other 39 records are held back from
this project: the shipped model is judged on them.
"""

SVDB_FOLDS: tuple[tuple[str, ...], ...] = (
    ("865", "855", "868", "826", "829", "883", "857", "812", "856"),
    ("881", "852", "820", "841", "859", "840", "848", "827", "874", "804"),
    ("821", "863", "866", "809", "888", "853", "807", "864", "850", "803"),
    ("854", "870", "825", "867", "844", "884", "862", "843", "875", "811"),
)  # fmt: skip
"""Four patient folds of :data:`SVDB_TRAIN`, paired with :data:`DS1_FOLDS` by index.

Built from the records' own reference labels only, by a fixed rule: records
sorted by their number of SVEB beats (most first) and dealt to the folds in
snake order (0, 1, 2, 3, 3, 2, 1, 0, ...), so each fold holds some records
rich in SVEB beats. Fold ``k`` of the cross-database cross-validation holds
out ``DS1_FOLDS[k]`` and ``SVDB_FOLDS[k]`` together.
"""


def patient_of(record_id: str) -> str:
    """Patient of a record: MIT-BIH 202 -> ``"201"``, CHB-MIT ``chb01_03`` -> ``"chb01"``
    (``chb21`` -> ``"chb01"``, the same subject), otherwise the record id itself."""
    rid = str(record_id)
    if rid in MITDB_RECORDS:
        return mitdb_patient(rid)
    return eeg_patient_id(rid) if rid.lower().startswith(("chb", "sub-")) else rid


def patients(records: Iterable[str], key: Callable[[str], str] = patient_of) -> set[str]:
    """The set of patients of ``records``."""
    return {key(r) for r in records}


def check_disjoint(train: Iterable[str], test: Iterable[str],
                   key: Callable[[str], str] = patient_of, allow: Iterable[str] = ()) -> None:
    """Raise :class:`CardioLiquidError` if a patient has records on both sides.

    Parameters
    ----------
    allow : iterable of str
        Patients knowingly shared (the standard de Chazal split shares 201/202;
        pass ``allow=("201",)`` to accept it explicitly).
    """
    shared = (patients(train, key) & patients(test, key)) - set(allow)
    if shared:
        raise CardioLiquidError(
            f"patient leakage: expected disjoint train/test patients, got {sorted(shared)} "
            f"on both sides"
        )


def de_chazal(exclude_shared_patient: bool = False) -> tuple[list[str], list[str]]:
    """The DS1 / DS2 record lists.

    Parameters
    ----------
    exclude_shared_patient : bool
        Drop record 202 from DS2 so no patient is on both sides (201 is in DS1).
        The published split keeps it; reports should say which was used.
    """
    test = [r for r in DS2 if not (exclude_shared_patient and r == "202")]
    return list(DS1), test


def split_by_patient(
    records: Sequence[str],
    test_patients: Iterable[str] | None = None,
    test_fraction: float = 0.25,
    seed: int = 0,
    key: Callable[[str], str] = patient_of,
) -> tuple[list[str], list[str]]:
    """Leave-patients-out split of ``records``.

    Parameters
    ----------
    records : sequence of str
        Record ids (``chb01_03``...); ``key`` gives each one's patient.
    test_patients : iterable of str, optional
        Patients held out; default a seeded random ``test_fraction`` of them
        (at least one, and at least one left for training).
    seed : int
    key : callable
        Record id -> patient id.

    Returns
    -------
    train, test : list of str
        Record ids, in input order; no patient is in both.
    """
    all_patients = sorted(patients(records, key))
    if test_patients is None:
        if len(all_patients) < 2:
            raise CardioLiquidError(f"split_by_patient: expected at least 2 patients, got "
                                    f"{all_patients}")
        n_test = min(len(all_patients) - 1, max(1, round(test_fraction * len(all_patients))))
        held = set(random.Random(seed).sample(all_patients, n_test))
    else:
        held = {str(p) for p in test_patients}
        unknown = held - set(all_patients)
        if unknown:
            raise CardioLiquidError(f"split_by_patient: test patients {sorted(unknown)} have no "
                                    f"records among {all_patients}")
    train = [r for r in records if key(r) not in held]
    test = [r for r in records if key(r) in held]
    check_disjoint(train, test, key)
    return train, test


def leave_one_patient_out(records: Sequence[str], key: Callable[[str], str] = patient_of
                          ) -> list[tuple[str, list[str], list[str]]]:
    """Every ``(patient, train, test)`` fold holding out one patient."""
    return [(p, *split_by_patient(records, [p], key=key))
            for p in sorted(patients(records, key))]


def carve_validation(
    train_records: Sequence[str],
    n_patients: int = 2,
    val_patients: Iterable[str] | None = None,
    seed: int = 0,
    key: Callable[[str], str] = patient_of,
) -> tuple[list[str], list[str]]:
    """Carve validation patients out of the training records (model selection stays in DS1).

    Returns
    -------
    fit, val : list of str
        Record ids; the validation patients' records are all in ``val``.
    """
    if val_patients is None:
        pool = sorted(patients(train_records, key))
        if len(pool) <= n_patients:
            raise CardioLiquidError(f"carve_validation: expected more than {n_patients} "
                                    f"training patients, got {len(pool)}")
        val_patients = random.Random(seed).sample(pool, n_patients)
    return split_by_patient(train_records, val_patients, key=key)
