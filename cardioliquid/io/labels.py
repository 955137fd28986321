"""One table of labels: MIT-BIH beat codes to AAMI EC57 classes, seizure labels.

ANSI/AAMI EC57:2012 groups the MIT-BIH beat codes into five classes:

=====  ==========================================  =====================
class  meaning                                     MIT-BIH codes
=====  ==========================================  =====================
N      normal and bundle branch block beats        N L R e j
S      supraventricular ectopic beats (SVEB)       A a J S
V      ventricular ectopic beats (VEB)             V E
F      fusion of ventricular and normal            F
Q      paced, fusion of paced and normal, unknown  / f Q
=====  ==========================================  =====================

Every other annotation code (rhythm changes ``+``, noise ``~``, comments ``"``,
non-conducted P waves ``x``, ...) is not a beat.
"""

from __future__ import annotations

import numpy as np

AAMI_CLASSES: tuple[str, ...] = ("N", "S", "V", "F", "Q")
"""The five EC57 heartbeat classes, in the order models output them."""

BEAT_TO_AAMI: dict[str, str] = {
    "N": "N", "L": "N", "R": "N", "e": "N", "j": "N",
    "A": "S", "a": "S", "J": "S", "S": "S",
    "V": "V", "E": "V",
    "F": "F",
    "/": "Q", "f": "Q", "Q": "Q",
}  # fmt: skip
"""MIT-BIH beat annotation code -> AAMI EC57 class (the only such table)."""

AAMI_TO_SYMBOL: dict[str, str] = {"N": "N", "S": "S", "V": "V", "F": "F", "Q": "Q"}
"""AAMI class -> the annotation symbol we write for it (``wfdb.wrann``)."""

SEIZURE_LABELS: tuple[str, ...] = ("bckg", "sz")
"""Window labels for seizure detection, in model output order (SzCORE eventType)."""


def is_beat(symbol: str) -> bool:
    """Return True if an annotation code is a heartbeat in the EC57 sense."""
    return symbol in BEAT_TO_AAMI


def aami_class(symbols: np.ndarray | list[str]) -> np.ndarray:
    """Map beat codes to AAMI classes; non-beat codes map to ``""``.

    Parameters
    ----------
    symbols : array-like of str
        MIT-BIH annotation codes.

    Returns
    -------
    classes : ndarray of str, shape (n,)
        ``"N"``, ``"S"``, ``"V"``, ``"F"``, ``"Q"`` or ``""`` for non-beats.
    """
    return np.array([BEAT_TO_AAMI.get(s, "") for s in symbols], dtype="<U1")
