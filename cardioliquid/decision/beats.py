"""Beat probabilities -> settled calls: the AF gate and the S floor, batch and stream.

In an irregular rhythm an early beat is not premature: the MIT-BIH
cardiologists labelled the conducted beats of atrial fibrillation normal (N).
With ``af_gate`` on (:class:`~cardioliquid.decision.settings.DecisionSettings`)
beats in AF-like rhythm (:func:`cardioliquid.signal.rhythm.af_beats`) have their
S probability moved to N; under the ``"af_specific"`` rule only where the
intervals between the network's own N calls are irregular too, under the
``"atrial"`` rules only where the recent beats have no consistent P wave either
(:func:`cardioliquid.signal.atrial.atrial_features`), which frequent premature
atrial beats keep. Then an S call weaker than ``sveb_min_proba`` is reported N.
:func:`settle_calls` settles a whole recording's beats, :class:`StreamSettler`
the beats of a stream as they come; both give the same flags on the same beats
when the batch is judged causally.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cardioliquid.decision.settings import DecisionSettings
from cardioliquid.signal.atrial import ATRIAL_AF_MAX
from cardioliquid.signal.rhythm import AFTracker, af_beats, af_specific_beats


def own_normal_calls(proba: np.ndarray, classes: list[str]) -> np.ndarray:
    """Which beats the network itself calls N (before any gate)."""
    if "N" not in classes or not len(proba):
        return np.zeros(len(proba), dtype=bool)
    return np.asarray(proba).argmax(-1) == list(classes).index("N")


def sveb_to_normal(proba: np.ndarray, af: np.ndarray, classes: list[str]) -> np.ndarray:
    """Move the S probability of the beats ``af`` marks (AF rhythm, weak S calls) to N.

    A model without both classes keeps its calls (``proba`` itself).
    """
    classes = list(classes)
    if not np.any(af) or "S" not in classes or "N" not in classes:
        return proba
    n, s = classes.index("N"), classes.index("S")
    proba = np.array(proba, dtype=np.float32, copy=True)
    proba[af, n] += proba[af, s]
    proba[af, s] = 0.0
    return proba


def weak_sveb_calls(proba: np.ndarray, classes: list[str], min_proba: float) -> np.ndarray:
    """Which beats are called S with an S probability below ``min_proba``."""
    classes = list(classes)
    if min_proba <= 0 or "S" not in classes or not len(proba):
        return np.zeros(len(proba), dtype=bool)
    s = classes.index("S")
    proba = np.asarray(proba)
    return (proba.argmax(-1) == s) & (proba[:, s] < min_proba)


def without_p_waves(atrial: np.ndarray | None, n: int, settings: DecisionSettings) -> np.ndarray:
    """Which of ``n`` beats the settings' gate may settle for their atrial activity.

    All of them unless the rule reads it (:attr:`DecisionSettings.needs_atrial`);
    then those whose atrial consistency ``atrial`` is below :data:`ATRIAL_AF_MAX`.

    Raises
    ------
    ValueError
        The rule reads the atrial consistency and ``atrial`` is missing or of
        another length.
    """
    if not settings.needs_atrial:
        return np.ones(n, dtype=bool)
    if atrial is None or np.shape(atrial) != (n,):
        got = None if atrial is None else np.shape(atrial)
        raise ValueError(f"the {settings.af_gate_rule!r} AF gate needs the atrial consistency "
                         f"of each of the {n} beats, got {got}")
    return np.asarray(atrial) < ATRIAL_AF_MAX


def settle_calls(
    fs: float,
    sample: np.ndarray,
    proba: np.ndarray,
    classes: list[str],
    settings: DecisionSettings,
    causal: bool = False,
    atrial: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Beat probabilities after the settings' AF gate.

    Parameters
    ----------
    fs : float
        Rate of ``sample``.
    sample : ndarray of int, shape (n,)
        Beat positions, in order.
    proba : ndarray, shape (n, n_classes)
        The network's probabilities (unusable beats already unclassifiable).
    classes : list of str
        Class order of ``proba``.
    settings : DecisionSettings
    causal : bool
        Judge each beat by the rhythm before it (what a stream knows), not
        the rhythm around it.
    atrial : ndarray of float, shape (n,), optional
        Each beat's atrial consistency (the second of
        :data:`cardioliquid.signal.atrial.ATRIAL_FEATURE_NAMES`); needed by the
        ``"atrial"`` rules only.

    Returns
    -------
    proba : ndarray
        Settled probabilities: after the AF gate, S calls weaker than the
        settings' ``sveb_min_proba`` have their S probability moved to N.
    af : ndarray of bool or None
        Per-beat AF flags; None without the gate.
    """
    af = None
    if settings.af_gate:
        af = af_beats(sample, fs, causal=causal)
        if settings.af_gate_rule.startswith("af_specific"):
            normal = own_normal_calls(proba, classes)
            af = af_specific_beats(af, sample, fs, normal, causal=causal)
    return _settle(proba, af, atrial, classes, settings)


def _settle(proba: np.ndarray, af: np.ndarray | None, atrial: np.ndarray | None,
            classes: list[str], settings: DecisionSettings
            ) -> tuple[np.ndarray, np.ndarray | None]:
    """What batch and stream share once the RR test has flagged ``af`` (None: no gate):
    the P-wave condition, S moved to N where flagged, then the S floor."""
    if af is not None:
        af &= without_p_waves(atrial, len(af), settings)
        proba = sveb_to_normal(proba, af, classes)
    weak = weak_sveb_calls(proba, classes, settings.sveb_min_proba)
    return sveb_to_normal(proba, weak, classes), af


class StreamSettler:
    """:func:`settle_calls` with ``causal=True`` for beats arriving block by block.

    Parameters
    ----------
    fs : float
        Rate of the beat positions.
    classes : list of str
        Class order of the probabilities.
    settings : DecisionSettings
    """

    def __init__(self, fs: float, classes: list[str], settings: DecisionSettings) -> None:
        self.classes = list(classes)
        self.settings = settings
        self.gated = bool(settings.af_gate)
        specific = settings.af_gate_rule.startswith("af_specific")
        self._rhythm = AFTracker(fs, specific=specific) if self.gated else None

    def recall(self, earlier_beats: Sequence[int]) -> None:
        """Tell the gate the beats before the stream's start (their calls unknown: not N)."""
        if self._rhythm is not None and len(earlier_beats):
            self._rhythm.push(np.asarray(earlier_beats, dtype=np.int64))

    def settle(self, sample: np.ndarray, proba: np.ndarray, atrial: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray | None]:
        """Settled probabilities and AF flags of the next beats (None without the gate).

        ``atrial``: their atrial consistency, for an ``"atrial"`` rule (see
        :func:`settle_calls`).
        """
        af = None
        if self._rhythm is not None:
            af = self._rhythm.push(sample, own_normal_calls(proba, self.classes))
        return _settle(proba, af, atrial, self.classes, self.settings)
