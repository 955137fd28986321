"""Model against expert, as the replay goes (no Streamlit here).

- :func:`running_agreement`: per-class sensitivity (Se) and positive
  predictivity (+P) of the beats decided so far against the expert's beat
  labels, with every disagreement's time (EC57's ``bxb`` beat matching).
- :func:`agreement_notice`: the sentence the page shows beside the alerts;
  there is always an agreement figure where expert labels exist.
- :func:`seizure_agreement` and :func:`seizure_notice`: the same for EEG, by
  event: the model's seizure alerts against the expert-marked seizures in the
  signal decided so far (matched as the evaluation matches them, SzCORE).
- :func:`rhythm_reading`: what the AF gate's flag means at the latest beat.
  The AF test (Dash et al. 2009) fires on any irregular RR sequence, including
  frequent ventricular ectopy such as bigeminy, so the page says "irregular
  rhythm" unless the irregularity persists between normal-looking beats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from cardioliquid.decision.alerts import ventricular_runs
from cardioliquid.evaluation.ec57 import match_beats
from cardioliquid.signal.atrial import ATRIAL_WINDOW_BEATS
from cardioliquid.signal.rhythm import AF_MIN_NN, AF_NN_NRMSSD, AF_WINDOW_BEATS, af_specific_beats

NOTICE_MIN_BEATS = 10
"""Expert beats of a class before its Se/+P may raise a disagreement notice."""
NOTICE_BELOW = 50.0
"""Se or +P (%) under which the notice says model and expert disagree."""

AGREE_MIN = 95.0
"""Share of beats (%) with the expert's class below which the notice is never green (a
class too rare so far to be named can still leave a fifth of the beats wrong)."""


@dataclass(frozen=True)
class ClassAgreement:
    """One class: expert count, model count, beats both call it, Se and +P (%)."""

    cls: str
    n_expert: int
    n_model: int
    both: int

    @property
    def se(self) -> float | None:
        """Sensitivity: share of the expert's beats of this class the model calls so (%)."""
        return 100.0 * self.both / self.n_expert if self.n_expert else None

    @property
    def ppv(self) -> float | None:
        """Positive predictivity: share of the model's calls of this class the expert agrees (%)."""
        return 100.0 * self.both / self.n_model if self.n_model else None


@dataclass
class Agreement:
    """Model against expert over the beats decided so far.

    Attributes
    ----------
    classes : dict of str to ClassAgreement
    n_compared : int
        Expert beats with a model decision.
    n_same : int
        Of those, beats where both give the same class.
    disagree_s : ndarray
        Time (s) of each beat where the classes differ, with ``disagree_expert``
        and ``disagree_model`` the two labels; unmatched beats (a detector's
        extra or missed beats) count as disagreements with label ``"-"``.
    """

    classes: dict[str, ClassAgreement]
    n_compared: int
    n_same: int
    disagree_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    disagree_expert: np.ndarray = field(default_factory=lambda: np.zeros(0, "<U2"))
    disagree_model: np.ndarray = field(default_factory=lambda: np.zeros(0, "<U2"))

    @property
    def accuracy(self) -> float | None:
        """Share of compared beats with the same class (%)."""
        return 100.0 * self.n_same / self.n_compared if self.n_compared else None

    def table(self) -> dict[str, list]:
        """Rows for the page: class, expert, model, both, Se %, +P % (text; "—" when undefined)."""
        rows = list(self.classes.values())
        return {
            "class": [r.cls for r in rows],
            "expert": [r.n_expert for r in rows],
            "model": [r.n_model for r in rows],
            "both": [r.both for r in rows],
            "Se %": ["—" if r.se is None else f"{r.se:.1f}" for r in rows],
            "+P %": ["—" if r.ppv is None else f"{r.ppv:.1f}" for r in rows],
        }


def _inside(t: np.ndarray, spans: Sequence[tuple[float, float]]) -> np.ndarray:
    keep = np.zeros(t.shape, dtype=bool)
    for a, b in spans:
        keep |= (t >= a) & (t < b)
    return keep


def running_agreement(
    pred_sample: np.ndarray,
    pred_labels: np.ndarray,
    ref_sample: np.ndarray,
    ref_labels: np.ndarray,
    fs: float,
    classes: Sequence[str],
    upto_s: float,
    spans_s: Sequence[tuple[float, float]] | None = None,
) -> Agreement:
    """Per-class Se and +P of the model's beats against the expert's, up to ``upto_s``.

    Parameters
    ----------
    pred_sample, pred_labels : ndarray, shape (n,)
        Model decisions (R-peak samples, classes), sorted.
    ref_sample, ref_labels : ndarray, shape (m,)
        Expert beats (samples, AAMI classes), sorted; unlabelled beats removed.
    fs : float
        Sampling rate of both.
    classes : sequence of str
        Classes in display order.
    upto_s : float
        Expert beats after this time (s) are not compared yet (not decided).
    spans_s : sequence of (start, stop), optional
        Stretches whose beats are all decided; expert beats outside them (a
        stretch jumped over) are not compared. Default: everything up to ``upto_s``.

    Returns
    -------
    Agreement
    """
    ref_sample = np.asarray(ref_sample, dtype=np.int64)
    ref_labels = np.asarray(ref_labels).astype(str)
    t_ref = ref_sample / fs
    keep = t_ref <= upto_s + 1e-9
    if spans_s is not None:
        keep &= _inside(t_ref, spans_s) | np.isin(ref_sample, pred_sample)
    ref_sample, ref_labels = ref_sample[keep], ref_labels[keep]
    pred_sample = np.asarray(pred_sample, dtype=np.int64)
    pred_labels = np.asarray(pred_labels).astype(str)
    m = match_beats(ref_sample, pred_sample, fs)
    r_lab, p_lab = ref_labels[m.ref_index], pred_labels[m.test_index]
    per = {}
    for c in classes:
        per[c] = ClassAgreement(c, int(np.sum(ref_labels == c)), int(np.sum(pred_labels == c)),
                                int(np.sum((r_lab == c) & (p_lab == c))))  # fmt: skip
    differ = r_lab != p_lab
    times = np.concatenate([ref_sample[m.ref_index][differ], ref_sample[m.missed],
                            pred_sample[m.extra]]) / fs  # fmt: skip
    expert = np.concatenate([r_lab[differ], ref_labels[m.missed], np.full(len(m.extra), "-")])
    model = np.concatenate([p_lab[differ], np.full(len(m.missed), "-"), pred_labels[m.extra]])
    order = np.argsort(times, kind="stable")
    return Agreement(per, len(m.ref_index), int(np.sum(~differ)), times[order],
                     expert[order].astype("<U2"), model[order].astype("<U2"))  # fmt: skip


def agreement_notice(agreement: Agreement | None) -> tuple[str, str]:
    """The level (``"warning"``, ``"success"``, ``"info"``) and sentence for the alert panel.

    Names each class where model and expert disagree (Se or +P under
    :data:`NOTICE_BELOW` % over at least :data:`NOTICE_MIN_BEATS` beats), with
    both counts; warns too when fewer than :data:`AGREE_MIN` % of the beats have
    the expert's class; green only past :data:`NOTICE_MIN_BEATS` beats.
    """
    if agreement is None:
        return "info", "No expert labels for this recording: nothing to compare the model with."
    if not agreement.n_compared:
        return "info", "Agreement with the expert appears with the first decided beats."
    worst = []
    for c in agreement.classes.values():
        if c.n_expert >= NOTICE_MIN_BEATS and (c.se or 0.0) < NOTICE_BELOW:
            worst.append(f"the expert marked **{c.n_expert} {c.cls}** beats so far, the model "
                         f"called {c.both} of them {c.cls} (Se {c.se:.0f} %)")  # fmt: skip
        elif c.n_model >= NOTICE_MIN_BEATS and (c.ppv or 0.0) < NOTICE_BELOW:
            worst.append(f"the model called **{c.n_model} {c.cls}** beats, the expert agrees "
                         f"on {c.both} (+P {c.ppv:.0f} %)")  # fmt: skip
    figure = (f"{agreement.accuracy:.1f} % of {agreement.n_compared:,} beats decided so far "
              f"have the expert's class")  # fmt: skip
    if worst:
        return "warning", ("**Model and expert disagree**: " + "; ".join(worst)
                           + f". Overall {figure}.")  # fmt: skip
    if agreement.accuracy < AGREE_MIN:
        return "warning", f"**Model and expert disagree** on more beats than usual: {figure}."
    if agreement.n_compared < NOTICE_MIN_BEATS:
        return "info", f"Too few beats to judge yet: {figure}."
    return "success", f"Model agrees with the expert: {figure}."


VT_MATCH_S = 2.0
"""Seconds around an expert's run of ventricular beats within which a model alert matches it."""


def vt_run_notice(ref_time_s: np.ndarray, ref_labels: np.ndarray, alerts: Sequence,
                  upto_s: float, settings=None) -> tuple[str, str] | None:
    """The expert's runs of ventricular beats decided so far against the model's alerts.

    A run is what the model alerts on (:func:`cardioliquid.decision.alerts.ventricular_runs`
    with the model's settings) read from the expert's labels; it is matched when an alert
    overlaps it, :data:`VT_MATCH_S` either side. None when the expert marked no such run so
    far; else the level and sentence (a warning naming the runs no alert matched).
    """
    runs = [r for r in ventricular_runs(ref_time_s, ref_labels, settings) if r.end_s <= upto_s]
    if not runs:
        return None
    missed = [r for r in runs if not any(a.time_s <= r.end_s + VT_MATCH_S
                                         and a.end_s >= r.time_s - VT_MATCH_S for a in alerts)]
    n = len(runs)
    found = f"the model alerted on **{n - len(missed)} of the {n}** the expert marked so far"
    if not missed:
        return "success", f"Runs of ventricular beats: {found}."
    at = ", ".join(f"{r.time_s:.1f} s" for r in missed[:6]) + (", ..." if len(missed) > 6 else "")
    return "warning", f"Runs of ventricular beats: {found}; **missed** at {at}."


@dataclass(frozen=True)
class SeizureAgreement:
    """The model's seizure alerts against the expert's seizures decided so far.

    Attributes
    ----------
    latencies : tuple of float or None
        One per expert seizure whose onset is decided: the first matching
        alert's time minus the onset (s), None when no alert matches it yet.
    missed : tuple of bool
        One per expert seizure: no alert matches it and its matching time (up
        to ``tolerance_s[1]`` after the offset) is all decided: missed for good.
    false_alarms : int
        Alerts that match no expert seizure.
    tolerance_s : (float, float)
        How long before an onset and after an offset an alert still matches.
    onsets : tuple of float
        The onset (s) of each seizure of ``latencies``; one at 0 is under way when the
        recording starts (an ictal excerpt), so its latency is time into the recording.
    """

    latencies: tuple[float | None, ...]
    missed: tuple[bool, ...]
    false_alarms: int
    tolerance_s: tuple[float, float]
    onsets: tuple[float, ...]

    @property
    def n_expert(self) -> int:
        """Expert seizures whose onset is in the signal decided so far."""
        return len(self.latencies)

    @property
    def detected(self) -> int:
        """Expert seizures with a matching alert."""
        return sum(lat is not None for lat in self.latencies)


def seizure_agreement(
    reference: Sequence[tuple[float, float]],
    alerts: Sequence,
    upto_s: float,
    tolerance_s: tuple[float, float],
) -> SeizureAgreement:
    """Match the alerts known so far with the expert seizures whose onset is decided.

    Parameters
    ----------
    reference : sequence of (onset, offset)
        Expert seizures (s).
    alerts : sequence of Alert
        The model's seizure alerts so far (:func:`cardioliquid.decision.alerts.seizure_alerts`:
        ``time_s`` is when each is raised).
    upto_s : float
        End of the signal decided so far (s): later onsets are not compared yet.
    tolerance_s : (float, float)
        An alert matches a seizure when raised from ``tolerance_s[0]`` before its
        onset to ``tolerance_s[1]`` after its offset (the evaluation's SzCORE tolerance).
    """
    before, after = tolerance_s
    raised = sorted(float(a.time_s) for a in alerts)
    latencies: list[float | None] = []
    missed: list[bool] = []
    onsets: list[float] = []
    matched = np.zeros(len(raised), dtype=bool)
    for on, off in sorted(reference):
        if on > upto_s + 1e-9:
            continue
        hits = [i for i, t in enumerate(raised) if on - before <= t <= off + after]
        matched[hits] = True
        latencies.append(raised[hits[0]] - on if hits else None)
        missed.append(not hits and upto_s >= off + after)
        onsets.append(float(on))
    return SeizureAgreement(tuple(latencies), tuple(missed), int((~matched).sum()), tolerance_s,
                            tuple(onsets))  # fmt: skip


def seizure_notice(agreement: SeizureAgreement, labelled: bool, n_expert_total: int
                   ) -> tuple[str, str]:
    """The level and sentence for the alert panel of an EEG replay (:func:`agreement_notice`).

    Parameters
    ----------
    agreement : SeizureAgreement
    labelled : bool
        The recording comes with expert seizure labels (possibly none marked).
    n_expert_total : int
        Expert seizures in the whole recording.
    """
    fa = agreement.false_alarms
    alarms = f"{fa} false alarm{'s' if fa != 1 else ''}" if fa else "no false alarm"
    if not labelled:
        return "info", ("No expert seizure labels for this recording: nothing to compare the "
                        "model's alerts with.")  # fmt: skip
    if not n_expert_total:
        return ("warning" if fa else "success"), (
            f"The expert marked no seizure in this recording; the model raised {alarms} so far.")
    if not agreement.n_expert:
        return ("warning" if fa else "info"), (
            f"No expert-marked seizure in the signal decided so far; {alarms}.")
    before, after = agreement.tolerance_s
    def when(lat: float, onset: float) -> str:
        if onset <= 0:  # no onset recorded: say how far in, not a latency
            return f"detected {lat:.0f} s into the recording (under way when it starts)"
        return f"detected {lat:+.0f} s from the expert-marked onset"

    each = "; ".join(
        f"seizure {i + 1}: " + ("missed" if gone else "not detected yet" if lat is None
                                else when(lat, on))
        for i, (lat, gone, on) in enumerate(zip(agreement.latencies, agreement.missed,
                                                agreement.onsets, strict=True))
    )  # fmt: skip
    n = agreement.n_expert
    text = (f"The model detected **{agreement.detected} of the {n}** expert-marked "
            f"seizure{'s' if n != 1 else ''} decided so far ({each}); {alarms}. An alert "
            f"matches a seizure when raised from {before:g} s before its onset to {after:g} s "
            f"after its end (SzCORE).")  # fmt: skip
    if any(agreement.missed) or fa:
        return "warning", text
    return ("success" if agreement.detected == n else "info"), text


@dataclass(frozen=True)
class RhythmReading:
    """The rhythm at the latest beat: a short name and a sentence of evidence."""

    name: str
    text: str
    af_specific: bool


def rhythm_reading(
    af: np.ndarray, labels: np.ndarray, time_s: np.ndarray, window: int | None = None,
    p_waves: bool = False, af_specific: bool = True, every_lead: bool = False,
) -> RhythmReading:
    """What the AF gate's flag at the latest beat says, in words a clinician can check.

    Parameters
    ----------
    af : ndarray of bool, shape (n,)
        The gate's AF flag of each decided beat.
    labels : ndarray of str, shape (n,)
        The model's (reported) class of each beat.
    time_s : ndarray, shape (n,)
        Beat times.
    window : int, optional
        Beats the AF test looks back over (default: the gate's 128).
    p_waves : bool
        The gate also needs the recent beats to have no consistent P wave (an
        ``"atrial"`` rule): an unflagged beat may lie in an irregular rhythm
        whose P waves were there, and a flagged one had none.
    af_specific : bool
        With ``p_waves``: the gate's rule also needs the intervals between the
        network's own N calls to be irregular (``"af_specific_atrial"``), so a
        flagged beat had them irregular; False (``"atrial"``): the RR test and
        the P waves alone decide.
    every_lead : bool
        With ``p_waves``: the P waves are read on every lead the model averages
        (``atrial_leads="max"``), so a flagged beat had none on any of them.

    Returns
    -------
    RhythmReading
        ``"irregular rhythm"`` when the AF test fires but the irregularity is
        not AF-specific (too few normal-to-normal intervals, or regular ones:
        ectopy), ``"AF-like"`` when the intervals between normal beats are
        irregular too, otherwise ``"regular"`` or ``"not judged yet"``.
    """
    window = window or AF_WINDOW_BEATS
    n = len(af)
    if n <= window:
        text = f"Rhythm: judged once {window} beats have been replayed."
        return RhythmReading("not judged yet", text, False)
    if not af[-1]:
        if p_waves:
            return RhythmReading("regular", (
                f"Rhythm: not AF-like over the last {window} beats: the AF test (Dash et al. "
                f"2009) did not fire, or the recent beats keep a consistent P wave, as sinus "
                f"rhythm with premature beats does; S calls stand."), False)  # fmt: skip
        return RhythmReading("regular", f"Rhythm: no irregular rhythm over the last {window} "
                                        "beats (AF test of Dash et al. 2009).", False)  # fmt: skip
    lab = np.asarray(labels)[-window - 1:]
    t = np.asarray(time_s, dtype=float)[-window - 1:]
    ventricular = float(np.mean(np.isin(lab, ["V", "F"])))
    nn = (lab[1:] == "N") & (lab[:-1] == "N")
    rr = np.diff(t)[nn]
    nrmssd = (float(np.sqrt(np.mean(np.diff(rr) ** 2)) / np.mean(rr))
              if rr.size > 3 else float("nan"))  # fmt: skip
    gate = "supraventricular beats here are reported as N (the AF gate)"
    leads = " on any lead" if every_lead else ""
    no_p = (f", and no consistent P wave{leads} over the last {ATRIAL_WINDOW_BEATS} beats"
            if p_waves else "")
    nn_irregular = bool(nn.sum() >= AF_MIN_NN and nrmssd >= AF_NN_NRMSSD)
    if p_waves or nn_irregular:
        between = (f", irregular between normal beats too (RMSSD/mean of {int(nn.sum())} N-N "
                   f"intervals {nrmssd:.2f}, at or above {AF_NN_NRMSSD:g})" if nn_irregular
                   else ", the network's own N calls irregular" if af_specific else "")
        return RhythmReading("AF-like", (
            f"Rhythm: **AF-like**: irregular RR intervals over the last {window} beats"
            f"{between}{no_p}; {gate}."), True)  # fmt: skip
    why = (f"{100 * ventricular:.0f} % of them are ventricular and "
           + (f"the {int(nn.sum())} intervals between normal beats are regular "
              f"(RMSSD/mean {nrmssd:.2f}, under {AF_NN_NRMSSD:g})" if nn.sum() >= AF_MIN_NN
              else f"only {int(nn.sum())} intervals run from a normal beat to the next")
           )  # fmt: skip
    return RhythmReading("irregular rhythm", (
        f"Rhythm: **irregular rhythm** over the last {window} beats, not AF-specific: {why}, "
        f"as with frequent ectopy (e.g. bigeminy). The AF test fires on it all the same, so "
        f"{gate}."), False)  # fmt: skip


def af_specific_flags(af: np.ndarray, labels: np.ndarray, time_s: np.ndarray,
                      window: int | None = None) -> np.ndarray:
    """Per beat: the AF flag is set and the irregularity is AF-specific (:func:`rhythm_reading`).

    Computed over each beat's trailing ``window`` beats, so a timeline can shade
    AF-like stretches apart from other irregular rhythm.
    """
    # Beat times in seconds are positions at a rate of 1 Hz.
    return af_specific_beats(af, np.asarray(time_s, dtype=float), 1.0,
                             np.asarray(labels) == "N", causal=True,
                             window=window or AF_WINDOW_BEATS)  # fmt: skip
