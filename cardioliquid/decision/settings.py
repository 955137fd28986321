"""The decision settings: how probabilities become calls, events and alerts.

One dataclass, one set of defaults. A model file carries its settings as their
own section (``"decision"`` beside ``"preprocessing"`` in the safetensors
header, :mod:`cardioliquid.models.checkpoint`); command-line flags only
override them (:meth:`DecisionSettings.override`). A model file written before
the section existed gets the defaults, which are what ``cardioliquid score``
and ``cardioliquid evaluate`` always applied, plus the AF gate its
preprocessing named (:meth:`DecisionSettings.from_legacy`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from cardioliquid._check import check_option, check_positive

AF_GATE_RULES = ("rhythm", "af_specific", "atrial", "af_specific_atrial")
ATRIAL_LEADS = ("first", "max")


@dataclass(frozen=True)
class DecisionSettings:
    """How a model's probabilities are turned into decisions.

    Attributes
    ----------
    threshold : float
        A window is seizure-positive when its smoothed seizure probability is
        at or above it.
    smooth_windows : int
        Causal moving average, in windows, applied before the threshold (1:
        none). Causal, so a live display and offline scoring agree.
    min_duration_s : float
        Seizure events shorter than this (seconds) are dropped.
    af_gate : bool
        Beats in atrial-fibrillation-like rhythm have their S probability
        moved to N (in AF an early beat is not premature).
    af_gate_rule : {"rhythm", "af_specific", "atrial", "af_specific_atrial"}
        Which beats the gate settles: every beat the RR test flags
        (``"rhythm"``), only those where the intervals between the model's own
        N calls are irregular too (``"af_specific"``,
        :func:`cardioliquid.signal.rhythm.af_specific_beats`), only those where
        the recent beats have no consistent P wave (``"atrial"``, atrial
        consistency below :data:`cardioliquid.signal.atrial.ATRIAL_AF_MAX`), or
        both (``"af_specific_atrial"``).
    atrial_leads : {"first", "max"}
        Whose atrial consistency the ``*atrial`` rules read in a model that
        averages leads (``preprocessing.fuse_leads``): the first lead's, or the
        highest of its leads' (``"max"``: the gate acts only where no lead shows
        a consistent P wave).
    sveb_min_proba : float
        A beat is reported S only if its S probability is at least this; a
        weaker S call has its S probability moved to N, as the AF gate does
        (0: every S call stands). The class weights of training lift the
        minority classes' probabilities; this floor takes part of that back.
    vt_run_beats : int
        Shortest run of consecutive ventricular beats that raises an alert
        (three or more is ventricular tachycardia).
    """

    threshold: float = 0.5
    smooth_windows: int = 3
    min_duration_s: float = 0.0
    af_gate: bool = False
    af_gate_rule: str = "rhythm"
    atrial_leads: str = "first"
    sveb_min_proba: float = 0.0
    vt_run_beats: int = 3

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.threshold) <= 1.0:
            raise ValueError(
                f"Invalid value for the 'threshold' parameter. Expected a probability in "
                f"[0, 1], but got {self.threshold!r} instead."
            )
        check_positive("smooth_windows", self.smooth_windows)
        if float(self.min_duration_s) < 0:
            raise ValueError(
                f"Invalid value for the 'min_duration_s' parameter. Expected a duration >= 0, "
                f"but got {self.min_duration_s!r} instead."
            )
        check_option("af_gate_rule", self.af_gate_rule, AF_GATE_RULES)
        check_option("atrial_leads", self.atrial_leads, ATRIAL_LEADS)
        if not 0.0 <= float(self.sveb_min_proba) <= 1.0:
            raise ValueError(
                f"Invalid value for the 'sveb_min_proba' parameter. Expected a probability in "
                f"[0, 1], but got {self.sveb_min_proba!r} instead."
            )
        check_positive("vt_run_beats", self.vt_run_beats)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (the model file's ``"decision"`` section)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DecisionSettings:
        """Settings from a ``"decision"`` section; missing keys take the defaults.

        Raises
        ------
        ValueError
            A key is unknown or a value is invalid.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(
                f"unknown decision settings {unknown}; known are {sorted(known)}"
            )
        return cls(**d)

    @classmethod
    def from_legacy(cls, preprocessing: Any) -> DecisionSettings:
        """Settings of a model file without a ``"decision"`` section.

        The defaults, with the AF gate its preprocessing spec named (the gate
        lived there before the section existed).
        """
        return cls(
            af_gate=bool(getattr(preprocessing, "af_gate", False)),
            af_gate_rule=str(getattr(preprocessing, "af_gate_rule", "rhythm")),
        )

    @property
    def needs_atrial(self) -> bool:
        """Whether the AF gate reads the beats' atrial consistency (an ``*atrial`` rule)."""
        return bool(self.af_gate) and self.af_gate_rule.endswith("atrial")

    def override(self, **values: Any) -> DecisionSettings:
        """These settings with the given values replaced; None leaves a value as it is.

        What a command-line flag does: an option not given (None) keeps the
        model's setting.
        """
        return replace(self, **{k: v for k, v in values.items() if v is not None})

    def event_rule(self) -> dict[str, Any]:
        """The seizure event rule: ``threshold``, ``smooth_windows``, ``min_duration_s``."""
        return {
            "threshold": self.threshold,
            "smooth_windows": self.smooth_windows,
            "min_duration_s": self.min_duration_s,
        }
