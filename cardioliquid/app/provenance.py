"""Honest labels: was this recording's patient seen in training?"""

from __future__ import annotations

import json
import re
from typing import Any

from cardioliquid.data.splits import DS1, DS2


def _ids_under(metadata: dict[str, Any], words: tuple[str, ...]) -> set[str]:
    found: set[str] = set()
    for key, value in metadata.items():
        if any(w in key.lower() for w in words) and isinstance(value, list | tuple):
            found |= {str(v) for v in value}
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
            return "held-out patient (never seen in training)"
        if "train" in low or "validation" in low:
            return "in-sample patient (seen in training): expect optimistic results"
    return None


def evaluation_label(record_id: str, patient_id: str, task: str, metadata: dict[str, Any]) -> str:
    """Say whether a recording is in-sample or a held-out patient for a model.

    Uses lists in the model card metadata whose keys name training
    (``train_records``, ``train_patients``...) or test data (``test_...``,
    ``held_out...``); for MIT-BIH arrhythmia models that name the de Chazal
    split, DS1 records are in-sample and DS2 records held out.

    Returns
    -------
    str
        ``"UNTRAINED model"``, ``"in-sample patient ..."``,
        ``"held-out patient ..."`` or ``"provenance unknown ..."``.
    """
    if metadata.get("untrained"):
        return "UNTRAINED model (random weights): predictions are meaningless"
    ids = {str(record_id), str(patient_id)}
    if ids & _ids_under(metadata, ("train", "fit")):
        return "in-sample patient (seen in training): expect optimistic results"
    if ids & _ids_under(metadata, ("test", "held")):
        return "held-out patient (never seen in training)"
    verdict = _from_split_text(ids, metadata)
    if verdict:
        return verdict
    if task == "arrhythmia" and "DS1" in json.dumps(metadata, default=str):
        if str(record_id) in DS1:
            return "in-sample patient (MIT-BIH DS1, the training set): expect optimistic results"
        if str(record_id) in DS2:
            return "held-out patient (MIT-BIH DS2, never seen in training)"
    return "provenance unknown: the model card does not say whether this patient was in training"
