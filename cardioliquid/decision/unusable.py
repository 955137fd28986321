"""Calls where the signal cannot carry one: a beat or window that touches a gap.

A beat inside or beside a dropout or lead-off has no reliable shape or RR
interval; an EEG window over a gap shows no seizure. The model's output there
is replaced by a fixed call: AAMI's Q (unclassifiable) for beats, background
for windows.
"""

from __future__ import annotations

import numpy as np


def call_where_unusable(proba: np.ndarray, usable: np.ndarray, index: int) -> np.ndarray:
    """A copy of ``proba`` with every row that is not ``usable`` one-hot on class ``index``.

    ``proba`` itself when every row is usable.
    """
    if usable.all():
        return proba
    proba = np.array(proba, dtype=np.float32, copy=True)
    proba[~usable] = 0.0
    proba[~usable, index] = 1.0
    return proba


def mark_unclassifiable(proba: np.ndarray, usable: np.ndarray, classes: list[str]) -> np.ndarray:
    """Give beats that touch a signal gap (not ``usable``) all their probability on ``Q``.

    AAMI's Q is the class of unclassifiable beats. A model without a Q output
    keeps its own call.
    """
    if "Q" not in classes:
        return proba
    return call_where_unusable(proba, usable, list(classes).index("Q"))


def mark_background(proba: np.ndarray, usable: np.ndarray, classes: list[str]) -> np.ndarray:
    """Give windows that touch a signal gap (not ``usable``) all their probability on background.

    No seizure is detected where the signal has a gap. The background class
    is ``bckg``, else the first class.
    """
    background = list(classes).index("bckg") if "bckg" in classes else 0
    return call_where_unusable(proba, usable, background)
