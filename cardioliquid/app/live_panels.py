"""The panels that move with the replay: the strip, the decision, the agreement, the events.

:func:`~cardioliquid.app.views.live` draws them each frame while playing, from
what is known at the cursor (:mod:`cardioliquid.app.at_cursor`); the charts
themselves are built in :mod:`cardioliquid.app.charts`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from cardioliquid.app import charts
from cardioliquid.app.agreement import (
    Agreement,
    agreement_notice,
    rhythm_reading,
    seizure_agreement,
    seizure_notice,
    vt_run_notice,
)
from cardioliquid.app.at_cursor import (
    SEIZURE_MATCH_S,
    af_like_beats,
    alerts_now,
    events_now,
    has_seizure_labels,
    predicted_events,
    reference_beats,
    window_now,
)
from cardioliquid.app.card import card_limits
from cardioliquid.app.choosing import partner_leads, reads_every_lead_p_waves
from cardioliquid.app.events import default_event_kind, event_kinds, next_event
from cardioliquid.app.playback import seek_to
from cardioliquid.app.replay import ReplaySession, windows_view
from cardioliquid.errors import RecordingError
from cardioliquid.scoring.segments import slice_recording
from cardioliquid.signal.leads import select_lead
from cardioliquid.signal.montage import channels_read
from cardioliquid.signal.quality import find_bad_segments
from cardioliquid.signal.windows import model_channels

if TYPE_CHECKING:
    from cardioliquid.io.recording import Recording
    from cardioliquid.signal.config import WindowPreprocessing

TIMELINE_SPAN_S = 180.0
"""Seconds on the timeline under the agreement table."""
EEG_CHANNELS = 18
"""EEG rows the strip draws at most (a full bipolar montage)."""
BAD_SIGNAL = {"nan": "missing samples", "flat": "flat line", "clipped": "clipped signal"}
"""What the page calls each kind of poor signal (:func:`find_bad_segments`)."""


def eeg_rows(rec: Recording, prep: WindowPreprocessing, a: int, b: int,
             limit: int = EEG_CHANNELS) -> tuple[np.ndarray, list[str], int, list[str]]:
    """The EEG rows the strip draws for samples ``[a, b)``.

    The model's channels first, as it reads them (picked or derived,
    :func:`~cardioliquid.signal.windows.model_channels`), then the file's channels it
    does not read, up to ``limit`` rows (the model's input is always drawn whole).

    Returns
    -------
    x : ndarray, shape (n_rows, b - a)
    names : list of str
    n_model : int
        How many of the rows are the model's input (the first ones).
    left_out : list of str
        The file's channels not drawn.
    """
    names = list(rec.channel_names)
    if not prep.channels:  # the model reads the file's own channels, all drawn
        return rec.signal[:, a:b], names, len(names), []
    try:
        read = model_channels(slice_recording(rec, a, b), prep)
    except RecordingError:  # the replay refuses such a file; draw it as it is
        return rec.signal[:limit, a:b], names[:limit], 0, names[limit:]
    used = set(channels_read(names, prep.channels))
    others = [i for i in range(len(names)) if i not in used]
    n_model = len(read.channel_names)
    limit = max(limit, n_model)
    x = np.concatenate([read.signal, rec.signal[others, a:b]])
    shown = list(read.channel_names) + [names[i] for i in others]
    return x[:limit], shown[:limit], n_model, shown[limit:]


def _bad_spans(x: np.ndarray, fs: float, start_s: float, names: list[str]):
    spans = []
    for row, name in zip(x, names, strict=True):
        for b in find_bad_segments(row, fs, name, min_flat_s=0.5):
            spans.append((start_s + b.start_s, start_s + b.end_s, b.kind))
    return spans


def trace_spec(replay: ReplaySession, agreement: Agreement | None,
               window: tuple[float, float]) -> tuple[dict, list, str]:
    """The trace chart at the cursor, the poor-signal stretches on it, and its caption."""
    rec = replay.rec
    t0, t1 = window
    a, b = int(t0 * rec.fs), max(int(t1 * rec.fs), int(t0 * rec.fs) + 2)
    pred = replay.predictions
    frontier = replay.decision_frontier() if len(pred) else t0
    pending = (max(frontier, t0), replay.position_s)
    ahead = (replay.position_s, t1)
    if rec.modality == "ecg":
        own = select_lead(rec, replay.loaded.preprocessing.lead_preference)
        chosen = st.session_state.get(f"leads_{st.session_state.get('replay_key', ('',))[0]}")
        if chosen is None:  # the sidebar's default
            chosen = list(rec.channel_names)[:4]
        # the leads the viewer chose, the model's first; none chosen: the model's alone
        if own in chosen or not chosen:
            names = [own, *(n for n in chosen if n != own)]
        else:
            names = list(chosen)
        leads = {n: rec.signal[rec.channel_names.index(n), a:b] for n in names}
        own_x = rec.signal[rec.channel_names.index(own), a:b]
        bad = _bad_spans(own_x[None], rec.fs, t0, [own])
        ref = reference_beats(rec)
        ref_view = None if ref is None else (ref[0] / rec.fs, ref[1])
        dis = None if agreement is None else agreement.disagree_s
        explained = st.session_state.get("explained_input")
        attribution = None
        if explained and explained[0] == st.session_state.get("replay_key") and own in leads:
            attribution = explained[1]  # drawn on the first lead: the model's own
        spec = charts.ecg_trace(leads, rec.fs, t0, (t0, t1), float(st.session_state.get(
            "gain", 10.0)), ref_view, (pred.time_s, pred.labels), dis, pending,
            [(s, e) for s, e, _ in bad], attribution, ahead)  # fmt: skip
        partners = partner_leads(replay)
        whose = ("the model's, averaged with " + " and ".join(partners)) if partners \
            else "the model's"
        if names[0] == own:
            others = f" first, then {', '.join(names[1:])}" if names[1:] else ""
            shown = f"Lead {own} ({whose}){others}"
        else:
            fused = f", averaged with {' and '.join(partners)}" if partners else ""
            shown = (f"Lead{'s' * (len(names) > 1)} {', '.join(names)} (not shown: the "
                     f"model's lead {own}{fused})")
        caption = (f"{shown}; "
                   "a calibration bar per lead at the left edge (1 mV; less at a high gain, "
                   "as labelled); magenta ticks: the trace is clipped at its row's edge; "
                   "red bands: model and expert differ; grey: "
                   f"received, not decided yet (the stream waits up to {replay.latency_s:.0f} s "
                   "for filter and RR context); orange: what drove the explained beat "
                   "(integrated gradients over its input); light grey: past the cursor, not "
                   "replayed yet. "
                   "Wheel: zoom, drag: scroll.")  # fmt: skip
    else:
        x, names, n_model, left_out = eeg_rows(rec, replay.loaded.preprocessing, a, b)
        # a file's duplicate names (T8-P8-0, T8-P8-1) as the viewer writes them
        shown = dict(zip(rec.channel_names, charts.display_names(rec.channel_names), strict=True))
        names, left_out = ([shown.get(n, n) for n in ns] for ns in (names, left_out))
        bad = _bad_spans(x, rec.fs, t0, names)
        spec = charts.eeg_trace(x, rec.fs, t0, names, (t0, t1),
                                float(st.session_state.get("eeg_gain", 1.0)), rec.seizures,
                                predicted_events(pred, replay.loaded),
                                [(s, e) for s, e, _ in bad], pending,
                                ahead)  # fmt: skip
        read = ("The model's input" if n_model == len(names)
                else f"The model's input (the first {n_model} rows) and the file's other "
                     "channels" if n_model else "The file's channels")
        caption = (f"{read}, each channel auto-scaled to its own amplitude on screen "
                   "(beside its name: µV filling half a row, at this gain); red band: expert "
                   "seizure, orange: model detection, grey: not decided yet.")  # fmt: skip
        if left_out:
            caption += (f" Not drawn: {len(left_out)} more of the file's channels, which the "
                        f"model does not read ({', '.join(left_out)}).")
    return spec, bad, caption


def waveform(replay: ReplaySession, agreement: Agreement | None) -> None:
    """The strip: the last seconds up to the cursor, every lead, annotated and zoomable."""
    spec, bad, caption = trace_spec(replay, agreement, window_now(replay))
    st.vega_lite_chart(spec, width="stretch", key="trace_chart")
    if bad:
        kinds = sorted({BAD_SIGNAL.get(k, k) for _, _, k in bad})
        st.warning(f"Poor signal quality on screen ({', '.join(kinds)}): predictions here are "
                   "unreliable.", icon=":material/monitor_heart:")  # fmt: skip
    st.caption(caption)


def decision_panel(replay: ReplaySession, agreement: Agreement | None) -> None:
    """The latest decision, the rhythm, agreement with the expert, alerts, the model's limits."""
    pred, loaded = replay.predictions, replay.loaded
    st.markdown("#### Current decision")
    if not len(pred):
        st.info(f"Waiting for the first decision (the stream answers within "
                f"{replay.latency_s:.0f} s of signal). Press Play.")  # fmt: skip
    else:
        proba = pred.proba[-1]
        when = pred.time_s[-1] if replay.task == "arrhythmia" else pred.end_s[-1]
        unit = "beat" if replay.task == "arrhythmia" else "window ending"
        st.markdown(f"Last {unit} at **{when:.1f} s**: "
                    f"**{loaded.classes[int(np.argmax(proba))]}** "
                    f"(p {float(np.max(proba)):.2f})")  # fmt: skip
        if getattr(pred, "af", None) is not None:
            decision = loaded.decision
            st.caption(rhythm_reading(
                pred.af, pred.labels, pred.time_s, p_waves=decision.needs_atrial,
                af_specific=decision.af_gate_rule.startswith("af_specific"),
                every_lead=reads_every_lead_p_waves(replay)).text)
    alerts = alerts_now(replay)
    if replay.task == "arrhythmia":
        level, text = agreement_notice(agreement)
        watched = f"runs of {loaded.decision.vt_run_beats} or more ventricular beats"
    else:
        level, text = seizure_notice(seizure_agreement(
            replay.rec.seizures, alerts, replay.decision_frontier(), SEIZURE_MATCH_S),
            has_seizure_labels(replay.rec), len(replay.rec.seizures))  # fmt: skip
        watched = "seizure events"
    icon_of = {"warning": ":material/report:", "success": ":material/check_circle:",
               "info": ":material/info:"}  # fmt: skip
    icon = icon_of[level]
    getattr(st, level)(text, icon=icon)
    ref = reference_beats(replay.rec) if replay.task == "arrhythmia" else None
    vt = None if ref is None else vt_run_notice(
        ref[0] / replay.rec.fs, ref[1], alerts, replay.decision_frontier(), loaded.decision)
    if vt is not None:  # a missed run of V beats shows here, not only as beat counts
        getattr(st, vt[0])(vt[1], icon=icon_of[vt[0]])
    if not alerts:
        st.markdown(f"No model alert so far (the model alerts on {watched}).")
    elif len(alerts) > 3:
        st.caption(f"{len(alerts)} alerts so far; the last 3:")
    for a in alerts[-3:][::-1]:
        st.error(f"**{a.kind}** at {a.time_s:.1f} s: {a.detail}",
                 icon=":material/notifications_active:")
    limits = card_limits(loaded.path, loaded.task, loaded.decision.af_gate,
                         p_waves=loaded.decision.needs_atrial,
                         every_lead=reads_every_lead_p_waves(replay))  # fmt: skip
    with st.expander("Known limits of this model (model card)", expanded=True):
        if limits.held_out:
            st.markdown("Measured on patients it never saw:\n" + "\n".join(
                f"- {line}" for line in limits.held_out))  # fmt: skip
        else:
            st.markdown("No held-out evaluation on file for this model file: its accuracy on "
                        "new patients is unknown.")  # fmt: skip
        if limits.rhythm:
            st.markdown(limits.rhythm)
    if limits.limits_text:
        with st.expander("The model card's Limits section, in full"):
            st.markdown(limits.limits_text)


def timeline_window(position_s: float, duration_s: float,
                    span_s: float = TIMELINE_SPAN_S) -> tuple[float, float]:
    """The time range of the timeline: the last ``span_s`` up to the cursor, the first at 0.

    As the strip (:func:`~cardioliquid.app.at_cursor.window_now`), the timeline shows
    its whole span from the start, not the stretch up to a cursor at 0 s: at 0 s it had one second,
    with nothing decided in it and the expert's seizure bands out of view, so
    it drew a blank.

    Parameters
    ----------
    position_s : float
        The replay's cursor (s).
    duration_s : float
        The recording's length (s): a shorter recording is shown whole.
    span_s : float
        Seconds on the timeline.

    Returns
    -------
    (float, float)
        Start and end (s).
    """
    end = max(position_s, min(span_s, duration_s), 1.0)
    return max(0.0, end - span_s), end


def agreement_panel(replay: ReplaySession, agreement: Agreement | None) -> None:
    """Per-class Se and +P against the expert, and the timeline of every decided beat."""
    rec, pred, loaded = replay.rec, replay.predictions, replay.loaded
    window = timeline_window(replay.position_s, rec.duration_s)
    if replay.task == "arrhythmia":
        st.markdown("#### Agreement with the expert (beats decided so far)")
        if agreement is None:
            st.info("This recording has no expert beat labels.")
        else:
            st.dataframe(agreement.table(), hide_index=True, width="stretch")
            spans = [(a, b) for a, b in replay.scored_spans_s if b > a]
            covered = (f" Counted over the stretches replayed in this session "
                       f"({', '.join(f'{a:.0f}–{b:.0f} s' for a, b in spans[:4])}"
                       f"{', ...' if len(spans) > 4 else ''}): a jump or a lead change starts "
                       "a new stretch, on the lead now read."
                       if spans and (len(spans) > 1 or spans[0][0] > 1.0) else "")
            st.caption("Se: share of the expert's beats of a class the model calls so; +P: share "
                       "of the model's calls of a class the expert agrees with (beat matching "
                       f"as EC57's bxb, 150 ms).{covered}")  # fmt: skip
        ref = reference_beats(rec)
        ref_view = None
        if ref is not None:
            t = ref[0] / rec.fs
            upto = t <= replay.decision_frontier() + 1e-9
            ref_view = (t[upto], ref[1][upto])
        af = getattr(pred, "af", None)
        spec = charts.beat_timeline((pred.time_s, pred.labels), ref_view, loaded.classes, window,
                                    None if agreement is None else agreement.disagree_s, af,
                                    af_like_beats(replay), replay.position_s)  # fmt: skip
        st.markdown("#### Timeline: model (●) against expert (|)")
    else:
        st.markdown("#### Timeline: seizure probability")
        end, p = windows_view(pred)
        spec = charts.seizure_timeline(end, p, rec.seizures, window, cursor_s=replay.position_s)
        counts = pred.counts() if len(pred) else {c: 0 for c in loaded.classes}
        st.caption("Windows decided so far: " + ", ".join(f"{c} {n}" for c, n in counts.items()))
    st.vega_lite_chart(spec, width="stretch", key="timeline_chart")


def _go(table, choice: str, forward: bool, latency_s: float) -> None:
    replay = st.session_state.replay
    prev = st.session_state.get("nav_at")
    moved = not prev or abs(prev[1] - replay.position_s) > 1e-6
    here = replay.position_s - latency_s - 1.0 if moved else prev[0]
    t = next_event(table, choice, here, forward)
    if t is None:
        st.session_state.nav_note = (f"No {'later' if forward else 'earlier'} {choice} "
                                     f"{'decided yet: play on' if forward else 'here'}.")
        return
    st.session_state.nav_note = f"{choice} at {t:.2f} s"
    seek_to(min(t + latency_s + 1.0, replay.rec.duration_s))
    st.session_state.nav_at = (t, replay.position_s)


def _recording_key() -> str:
    """The replayed recording's key (its path), for controls kept per recording."""
    return str(st.session_state.get("replay_key", ("",))[0])


def events_panel(replay: ReplaySession, agreement: Agreement | None) -> None:
    """The event list with previous/next by kind, and the position slider."""
    table = events_now(replay, agreement)
    st.markdown("#### Events")
    kinds = event_kinds(table) if len(table) else []
    if not kinds:
        st.caption("No events yet.")
        return
    c1, c2, c3 = st.columns([2.2, 1, 1], vertical_alignment="bottom")
    # one choice per recording (a kind picked on another one is not carried over); at first
    # the recording's main finding (default_event_kind), not the first kind by name
    choice = c1.selectbox("Go to events of kind", kinds, index=kinds.index(
        default_event_kind(table)), key=f"nav_kind_{_recording_key()}",
        help="◀ Previous / Next ▶ jump to the events of this kind")  # fmt: skip
    c2.button("◀ Previous", key="nav_prev", width="stretch", on_click=_go,
              args=(table, choice, False, replay.latency_s))  # fmt: skip
    c3.button("Next ▶", key="nav_next", width="stretch", on_click=_go,
              args=(table, choice, True, replay.latency_s))  # fmt: skip
    note = st.session_state.get("nav_note")
    if note:
        st.caption(f"Jumped to {note} (the cursor waits for its decision)"
                   if " at " in note else note)  # fmt: skip
    shown = table[table["time_s"] <= replay.position_s + 1e-9]
    st.dataframe(shown.iloc[::-1].head(200), hide_index=True, width="stretch", height=220,
                 column_config={"time_s": st.column_config.NumberColumn("time (s)", format="%.2f"),
                                "end_s": None})  # fmt: skip
