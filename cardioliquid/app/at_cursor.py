"""What is known at the replay's cursor: agreement, alerts, events, the time on screen.

What a monitor would have known at the cursor: the decisions made by then
(:mod:`cardioliquid.app.replay`), against the expert's labels. The panels and
the downloads read these; the agreement and the AF-like flags are kept in
``st.session_state`` until the cursor or the decisions change.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from cardioliquid.app.agreement import Agreement, af_specific_flags, running_agreement
from cardioliquid.app.events import event_table
from cardioliquid.app.playback import TICK_S, speed_s_per_s
from cardioliquid.app.replay import FASTEST_CHUNK_S, ReplaySession, windows_view
from cardioliquid.decision.alerts import seizure_alerts, ventricular_runs
from cardioliquid.evaluation.seizure import SzcoreParams
from cardioliquid.io.recording import Recording
from cardioliquid.models.checkpoint import LoadedModel


def reference_beats(rec: Recording) -> tuple[np.ndarray, np.ndarray] | None:
    """The expert's beat samples and AAMI classes (classified beats only), or None."""
    if rec.beats is None or not len(rec.beats):
        return None
    keep = rec.beats.aami != ""
    return rec.beats.sample[keep], rec.beats.aami[keep]


def agreement_now(replay: ReplaySession) -> Agreement | None:
    """Model against expert over the decisions known at the cursor (None without expert beats)."""
    ref = reference_beats(replay.rec) if replay.task == "arrhythmia" else None
    if ref is None:
        return None
    pred = replay.predictions
    key = (id(replay), replay.position_s, len(pred))
    cached = st.session_state.get("_agreement")
    if cached and cached[0] == key:
        return cached[1]
    result = running_agreement(pred.sample, pred.labels, ref[0], ref[1], replay.rec.fs,
                               replay.loaded.classes, replay.decision_frontier(),
                               replay.scored_spans_s)  # fmt: skip
    st.session_state._agreement = (key, result)
    return result


def agreement_for_download(replay: ReplaySession) -> Agreement | None:
    """Agreement outside a script run (a download): no session-state cache."""
    ref = reference_beats(replay.rec) if replay.task == "arrhythmia" else None
    if ref is None:
        return None
    pred = replay.predictions
    return running_agreement(pred.sample, pred.labels, ref[0], ref[1], replay.rec.fs,
                             replay.loaded.classes, replay.decision_frontier(),
                             replay.scored_spans_s)  # fmt: skip


def af_like_beats(replay: ReplaySession) -> np.ndarray | None:
    """Beats whose RR context the AF-specific test flags (cached per replay position), or None."""
    pred = replay.predictions
    if getattr(pred, "af", None) is None:
        return None
    key = (id(replay), len(pred), pred.sample[-1] if len(pred) else -1)
    cached = st.session_state.get("_af_like")
    if cached and cached[0] == key:
        return cached[1]
    flags = af_specific_flags(pred.af, pred.labels, pred.time_s)
    st.session_state._af_like = (key, flags)
    return flags


SEIZURE_MATCH_S = (SzcoreParams().tolerance_start_s, SzcoreParams().tolerance_end_s)
"""An alert matches an expert seizure as the evaluation matches a detection (SzCORE)."""


def has_seizure_labels(rec: Recording) -> bool:
    """Whether the recording came with expert seizure labels (an empty list is a label too)."""
    return bool(rec.seizures) or rec.meta.get("seizure_source") is not None


def alerts_now(replay: ReplaySession):
    """The model's alerts so far, by the decision rule of its file (``loaded.decision``)."""
    pred, settings = replay.predictions, replay.loaded.decision
    if not len(pred):
        return []
    if replay.task == "arrhythmia":
        return ventricular_runs(pred.time_s, pred.labels, settings)
    _, p = windows_view(pred)
    return seizure_alerts(pred.start_s, pred.end_s, p, replay.rec.seizures, SEIZURE_MATCH_S,
                          settings)  # fmt: skip


def predicted_events(pred, loaded: LoadedModel) -> list[tuple[float, float]]:
    """The seizure events so far: those ``cardioliquid score`` writes for the same windows."""
    if not len(pred):
        return []
    return [(e.onset, e.offset) for e in pred.events(loaded.decision)]


def events_now(replay: ReplaySession, agreement: Agreement | None):
    """The event list at the cursor: expert events, model calls decided, disagreements, alerts."""
    rec, pred = replay.rec, replay.predictions
    if replay.task == "arrhythmia":
        ref = reference_beats(rec)
        expert = None if ref is None else (ref[0] / rec.fs, ref[1])
        disagree = None if agreement is None else (agreement.disagree_s, agreement.disagree_expert,
                                                   agreement.disagree_model)  # fmt: skip
        return event_table(expert, (pred.time_s, pred.labels), disagree, alerts_now(replay))
    return event_table(alerts=alerts_now(replay), expert_seizures=rec.seizures)


def window_now(replay: ReplaySession) -> tuple[float, float]:
    """The time range on screen: the timebase ending at the cursor (the first seconds at 0)."""
    rec = replay.rec
    base = float(st.session_state.get("timebase", 20.0))
    speed = speed_s_per_s()
    per_frame = FASTEST_CHUNK_S if speed is None else speed * TICK_S
    span = min(max(base, replay.latency_s + 3.0, per_frame), max(rec.duration_s, 1.0))
    end = max(replay.position_s, span)
    return end - span, min(end, rec.duration_s)
