"""Honest labels: was this recording's patient seen in training?

The app labels each replay with :func:`evaluation_label`; ``cardioliquid
evaluate`` counts its records by the same rule (:func:`provenance_summary`), so
figures on patients a model trained on are never read as inter-patient ones.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from cardioliquid.data.splits import DS1, DS2, SVDB_TRAIN, patient_of
from cardioliquid.io.wfdb import MITDB_RECORDS

IN_SAMPLE = "in-sample patient ({}): expect optimistic results"
HELD_OUT = "held-out patient ({})"
UNTRAINED = "UNTRAINED model (random weights): predictions are meaningless"
UNKNOWN = "provenance unknown: the model card does not say whether this patient was in training"


def _ids_under(metadata: dict[str, Any], words: tuple[str, ...]) -> set[str]:
    """Ids in the card's lists whose keys hold one of ``words``, as given and without a
    database prefix (``svdb/803`` is also ``803``)."""
    found: set[str] = set()
    for key, value in metadata.items():
        if any(w in key.lower() for w in words) and isinstance(value, list | tuple):
            found |= {str(v) for v in value} | {str(v).rsplit("/", 1)[-1] for v in value}
    return found


def _from_split_text(ids: set[str], metadata: dict[str, Any]) -> str | None:
    """Read clauses such as "train chb01+chb02" or "test patient chb03" in ``split``/``data``."""
    text = " , ".join(str(metadata.get(k, "")) for k in ("split", "data"))
    for clause in re.split(r"[,;]", text):
        named = any(re.search(rf"(?<![\w-]){re.escape(i)}(?![\w-])", clause) for i in ids if i)
        if not named:
            continue
        low = clause.lower()
        if "test" in low or "held" in low:
            return HELD_OUT.format("never seen in training")
        if "train" in low or "validation" in low:
            return IN_SAMPLE.format("seen in training")
    return None


def evaluation_label(record_id: str, patient_id: str, task: str, metadata: dict[str, Any]) -> str:
    """Say whether a recording is in-sample or a held-out patient for a model.

    Uses lists in the model card metadata whose keys name training
    (``train_records``, ``train_patients``, ``val_records``...) or test data
    (``test_...``, ``held_out...``); a card that lists its training data is
    held to that list. Without lists, clauses of its ``split``/``data`` text; for
    arrhythmia models whose card names the splits of
    :mod:`cardioliquid.data.splits`, DS1 and :data:`SVDB_TRAIN` records are
    in-sample, DS2 and other SVDB records held out, and NSTDB records are
    judged as the MIT-BIH records they add noise to (:func:`nstdb_source`).

    Returns
    -------
    str
        ``"UNTRAINED model"``, ``"in-sample patient ..."``,
        ``"held-out patient ..."`` or ``"provenance unknown ..."``.
    """
    if metadata.get("untrained"):
        return UNTRAINED
    source = nstdb_source(str(record_id))
    rid = source or str(record_id)
    noisy = f"NSTDB record made from MIT-BIH {source} with noise added; " if source else ""
    ids = {str(record_id), str(patient_id), rid, str(patient_id).rsplit("/", 1)[-1]}
    trained = _ids_under(metadata, ("train", "fit", "val_"))
    if ids & trained:
        return IN_SAMPLE.format(f"{noisy}seen in training")
    # Another record of the same patient (MIT-BIH 202 is 201's patient) is in-sample too,
    # whatever the test list says: the split lists records, the question is the patient.
    same_patient = sorted(t for t in trained if patient_of(t) == patient_of(rid))
    if same_patient:
        return IN_SAMPLE.format(
            f"{noisy}record {rid}'s patient's record {same_patient[0]} was in training")
    if ids & _ids_under(metadata, ("test", "held")):
        return HELD_OUT.format(f"{noisy}never seen in training")
    if trained:
        # The card lists what it trained on: that list, not the recipe's prose (which a run
        # with its records overridden still carries), says what was seen.
        n = len({t.rsplit("/", 1)[-1] for t in trained})
        return HELD_OUT.format(f"{noisy}not among the {n} records or patients it trained on")
    verdict = _from_split_text(ids, metadata)
    if verdict:
        return verdict
    if task == "arrhythmia":
        verdict = _arrhythmia_label(str(record_id), metadata)
        if verdict:
            return verdict
    return UNKNOWN


def nstdb_source(record_id: str) -> str | None:
    """The MIT-BIH record a Noise Stress Test Database record was made from, else None.

    NSTDB names each stress-test record after the clean MIT-BIH record it adds
    noise to and the signal-to-noise ratio (``118e06``: record 118 at 6 dB,
    ``119e_6``: record 119 at -6 dB).
    """
    m = re.fullmatch(r"(\d{3})e_?\d+", str(record_id))
    return m.group(1) if m and m.group(1) in MITDB_RECORDS else None


def _arrhythmia_label(record_id: str, metadata: dict[str, Any]) -> str | None:
    """In-sample or held out, for a model whose card names the splits of
    :mod:`cardioliquid.data.splits` it trained on (de Chazal DS1, SVDB); None otherwise.

    A NSTDB record is judged as the MIT-BIH record it was made from; MIT-BIH
    202 (DS2) as its patient's record 201 (DS1); an SVDB record is held out
    only when the card says it trained on the :data:`SVDB_TRAIN` records (by their count).
    """
    card = json.dumps(metadata, default=str)
    source = nstdb_source(record_id)
    noisy = f"NSTDB record made from MIT-BIH {source} with noise added; " if source else ""
    rid = source or record_id
    if "DS1" in card:
        first = patient_of(rid)
        if rid in DS1:
            return IN_SAMPLE.format(f"{noisy}MIT-BIH DS1, the training set")
        if rid in DS2 and first != rid and first in DS1:
            return IN_SAMPLE.format(
                f"{noisy}record {rid} is in MIT-BIH DS2, but the same "
                f"patient's record {first} is in DS1, the training set"
            )
        if rid in DS2:
            return HELD_OUT.format(f"{noisy}MIT-BIH DS2, never seen in training")
    if re.search(r"svdb", card, re.IGNORECASE):
        n = len(SVDB_TRAIN)
        if rid in SVDB_TRAIN:
            return IN_SAMPLE.format(f"SVDB, one of the {n} training records")
        said = " ".join(str(metadata.get(k, "")) for k in ("data", "split"))
        if re.fullmatch(r"8\d\d", rid) and re.search(rf"\b{n}\s+svdb\b", said, re.IGNORECASE):
            return HELD_OUT.format(f"SVDB, not among the {n} records it trained on")
    return None


PROVENANCE_KINDS = ("held_out", "in_sample", "unknown", "untrained")
"""What :func:`provenance_kind` makes of an :func:`evaluation_label`."""


def provenance_kind(label: str) -> str:
    """``"held_out"``, ``"in_sample"``, ``"untrained"`` or ``"unknown"`` for an
    :func:`evaluation_label`."""
    if label == UNTRAINED:
        return "untrained"
    for kind, template in (("in_sample", IN_SAMPLE), ("held_out", HELD_OUT)):
        if label.startswith(template.split("{}")[0]):
            return kind
    return "unknown"


def provenance_summary(labels: Mapping[str, str]) -> dict[str, Any]:
    """The records of an evaluation grouped by whether the model saw their patient.

    Parameters
    ----------
    labels : mapping
        Record name -> its :func:`evaluation_label`.

    Returns
    -------
    dict
        One sorted list of record names per kind of :data:`PROVENANCE_KINDS`, and
        ``labels`` (the mapping itself).
    """
    out: dict[str, Any] = {kind: [] for kind in PROVENANCE_KINDS}
    for name in sorted(labels):
        out[provenance_kind(labels[name])].append(name)
    out["labels"] = dict(sorted(labels.items()))
    return out


def provenance_line(summary: Mapping[str, Any]) -> str:
    """One line saying how many records were held out, in-sample or of unknown provenance."""
    counts = {kind: len(summary.get(kind) or []) for kind in PROVENANCE_KINDS}
    total = sum(counts.values())
    if counts["untrained"]:
        return f"patients: the model is UNTRAINED (random weights); {total} records"
    parts = [f"{counts['held_out']} held out"]
    if counts["in_sample"]:
        named = list(summary["in_sample"])
        which = ", ".join(named[:5]) + (", ..." if len(named) > 5 else "")
        parts.append(f"{counts['in_sample']} in-sample ({which}: seen in training, expect "
                     "optimistic figures)")
    if counts["unknown"]:
        parts.append(f"{counts['unknown']} unknown (the model card does not say)")
    return f"patients: {', '.join(parts)} of {total} records"
