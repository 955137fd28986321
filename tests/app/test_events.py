"""The event list's kinds: their order, and the one the page offers first."""

from __future__ import annotations

import numpy as np

from cardioliquid.app.events import default_event_kind, event_kinds, event_table
from cardioliquid.decision.alerts import Alert


def _beats(labels: str, start: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    return start + 0.8 * np.arange(len(labels)), np.array(list(labels))


def test_the_kind_offered_first_is_the_recordings_main_finding():
    # as in MIT-BIH 208: more ventricular than fusion beats, a few S and Q. By name, F came
    # first (the default of the control was the fusion beats)
    like_208 = event_table(expert=_beats("NVNVNFNVNVSNFQNV"))
    kinds = event_kinds(like_208)
    assert kinds == ["expert S", "expert V", "expert F", "expert Q"]  # the AAMI order
    assert default_event_kind(like_208) == "expert V"
    like_232 = event_table(expert=_beats("SSNSSSVSN"), model=_beats("NNNVNNNNN"))
    assert default_event_kind(like_232) == "expert S"  # the expert's, before the model's
    tie = event_table(expert=_beats("NFVNVF"))
    assert default_event_kind(tie) == "expert V"  # a tie: the kind listed first


def test_the_kind_offered_first_without_expert_beats():
    run = Alert(12.0, 14.0, "ventricular run", "3 beats")
    model_only = event_table(model=_beats("NVVVNSSSS"), alerts=[run])
    assert event_kinds(model_only) == ["model S", "model V", "model ventricular run"]
    assert default_event_kind(model_only) == "model ventricular run"  # an alert first
    assert default_event_kind(event_table(model=_beats("NVSSN"))) == "model S"
    only_disagreements = event_table(disagree=(np.array([3.0]), np.array(["N"]),
                                               np.array(["V"])))  # fmt: skip
    assert default_event_kind(only_disagreements) == "disagreement"
    assert default_event_kind(event_table(expert=_beats("NNN"))) is None  # no events


def test_an_eeg_offers_the_expert_seizures_first():
    alert = Alert(300.0, 340.0, "seizure", "model seizure")
    table = event_table(alerts=[alert], expert_seizures=[(40.0, 70.0), (500.0, 530.0)])
    assert event_kinds(table) == ["expert seizure", "model seizure"]
    assert default_event_kind(table) == "expert seizure"


def test_the_downloaded_event_list_stops_at_the_cursor():
    """The download said "known at the cursor" but held every later expert event."""
    from cardioliquid.app.events import events_until

    table = event_table(expert=(np.array([1.0, 5.0, 9.0]), np.array(["S", "V", "S"])),
                        model=(np.array([1.0]), np.array(["S"])))
    kept = events_until(table, 5.0)
    assert list(kept["time_s"]) == [1.0, 1.0, 5.0] and kept.index.tolist() == [0, 1, 2]
