"""The Streamlit page: choose, replay, agreement, events, neurons, device.

``app.py`` calls :func:`main`, which wires the parts together: the sidebar's
choices (:mod:`~cardioliquid.app.choosing`), the replay and its controls
(:mod:`~cardioliquid.app.playback`), the panels that move with it
(:mod:`~cardioliquid.app.live_panels`, fed by :mod:`~cardioliquid.app.at_cursor`),
the neurons (:mod:`~cardioliquid.app.neurons_panel`) and the device
(:mod:`~cardioliquid.app.device_panel`). The logic they draw lives in the
package (replay, agreement, charts, card, explain, device). The page has three
fragments: the live replay (trace, decision, agreement, timeline, events; every
:data:`~cardioliquid.app.playback.TICK_S` while playing), the neurons (on
demand) and the device panel (every :data:`SLOW_TICK_S` while playing). The
replay's cursor (``ReplaySession.position_s``) is the one source of truth for
where the replay is; the position slider shows it and moves it.
"""

from __future__ import annotations

import time

import streamlit as st

from cardioliquid.app.at_cursor import agreement_for_download, agreement_now, events_now
from cardioliquid.app.choosing import (
    Choice,
    choose_lead,
    choose_model,
    choose_recording,
    replay_problem,
    show_failure,
)
from cardioliquid.app.device_panel import device_panel
from cardioliquid.app.events import events_tsv, events_until, wfdb_annotation_bytes
from cardioliquid.app.live_panels import agreement_panel, decision_panel, events_panel, waveform
from cardioliquid.app.neurons_panel import neurons_panel
from cardioliquid.app.playback import (
    TICK_S,
    ensure_replay,
    position_shown,
    position_slider,
    replay_controls,
    stop_on_error,
    tick,
)
from cardioliquid.app.replay import ReplaySession
from cardioliquid.errors import CardioLiquidError
from cardioliquid.models.provenance import evaluation_label
from cardioliquid.scoring.writers import EVENTS_COLUMNS, beat_table_text, events_table

SLOW_TICK_S = 5.0
"""Seconds between refreshes of the device panel while playing."""


def header(choice: Choice) -> None:
    """Title, what is replayed, with which model, and how honest the comparison is."""
    rec, loaded = choice.rec, choice.loaded
    st.title("CardioLiquid · clinic replay")
    label = evaluation_label(rec.record_id, rec.patient_id, loaded.task, loaded.metadata)
    kind = "ECG" if rec.modality == "ecg" else "EEG"
    st.markdown(
        f"**{kind} record `{rec.record_id}`** (patient `{rec.patient_id}`) · "
        f"{rec.n_channels} channel(s) at {rec.fs:g} Hz · {rec.duration_s / 60:.1f} min  \n"
        f"**Model `{choice.model_label}`** ({loaded.model_name}, task {loaded.task}, classes "
        f"{' '.join(loaded.classes)}) · **{label}**"
    )
    if "UNTRAINED" in label:
        st.warning("No trained model ships yet: this replay runs an untrained network.",
                   icon=":material/warning:")


def downloads(replay: ReplaySession, agreement_fn) -> None:
    """Sidebar: the decisions known at the cursor as files (made when clicked)."""
    sb = st.sidebar
    sb.subheader("5 · Download")
    rid = replay.rec.record_id
    if replay.task == "arrhythmia":
        sb.download_button("Beat table (CSV)", lambda: beat_table_text(replay.predictions),
                           file_name=f"{rid}_beats.csv", mime="text/csv", key="dl_beats",
                           on_click="ignore", width="stretch", icon=":material/download:")
        sb.download_button("WFDB annotations (.cl)",
                           lambda: wfdb_annotation_bytes(replay.predictions),
                           file_name=f"{rid}.cl", mime="application/octet-stream",
                           key="dl_wfdb", on_click="ignore", width="stretch",
                           icon=":material/download:")  # fmt: skip
    else:
        def szcore() -> str:
            pred = replay.predictions
            rows = events_table(pred.events() if len(pred) else [], replay.rec.duration_s)
            return "\n".join("\t".join(r) for r in [EVENTS_COLUMNS, *rows]) + "\n"

        sb.download_button("Seizure events (SzCORE TSV)", szcore, file_name=f"{rid}_events.tsv",
                           mime="text/tab-separated-values", key="dl_szcore", on_click="ignore",
                           width="stretch", icon=":material/download:")  # fmt: skip
    def known_events() -> str:
        return events_tsv(events_until(events_now(replay, agreement_fn()), replay.position_s))

    sb.download_button("Event list (TSV)", known_events,
                       file_name=f"{rid}_event_list.tsv", mime="text/tab-separated-values",
                       key="dl_events", on_click="ignore", width="stretch",
                       icon=":material/download:")  # fmt: skip
    sb.caption("The decisions known at the cursor, written when you click.")


def live(choice: Choice) -> None:
    """Everything that moves with the replay; re-run every frame while playing."""
    replay = ensure_replay(choice)
    t0 = time.perf_counter()
    try:
        tick(replay)
    except Exception as e:  # (st.rerun's exception is not an Exception: it passes)
        was_playing = st.session_state.get("playing")
        stop_on_error(e)
        if was_playing:
            st.rerun()  # the whole page: the button says Play and the frame timer stops
    error = st.session_state.get("replay_error")
    if error:
        st.error(error, icon=":material/error:")
    rec = replay.rec
    n = len(replay.predictions)
    unit = "beats" if replay.task == "arrhythmia" else "windows"
    state = ("playing" if st.session_state.get("playing") else "stopped by an error" if error
             else "finished" if replay.finished else "paused")  # fmt: skip
    frame = st.session_state.setdefault("frames", 0) + 1
    st.session_state.frames = frame
    position_slider(replay)
    agreement = agreement_now(replay)
    left, right = st.columns([3.2, 1.3])
    with left:
        st.markdown(f"**{state}** · **{position_shown(replay.position_s):,.1f} s** of "
                    f"{rec.duration_s:,.0f} s · "
                    f"{n} {unit} decided · frame {frame}")  # fmt: skip
        # This line is out (Streamlit stops a run only before it sends an element): Pause
        # freezes here, where the page now says it is
        # (:func:`~cardioliquid.app.playback._toggle_play`).
        st.session_state.shown_s = replay.position_s
        waveform(replay, agreement)
    with right:
        decision_panel(replay, agreement)
    c1, c2 = st.columns([1.6, 1])
    with c1:
        agreement_panel(replay, agreement)
    with c2:
        events_panel(replay, agreement)
    st.session_state.frame_ms = 1e3 * (time.perf_counter() - t0)


def main() -> None:
    """Compose the page."""
    st.set_page_config(page_title="CardioLiquid · clinic replay", layout="wide")
    st.sidebar.title("CardioLiquid")
    st.sidebar.caption("Replay a recording through a liquid neural network")
    rec, rec_key = choose_recording()
    if rec is None:
        st.title("CardioLiquid · clinic replay")
        st.info("Choose a recording in the sidebar.")
        return
    loaded, model_key, model_label = choose_model(rec)
    if loaded is None:
        st.title("CardioLiquid · clinic replay")
        st.info("Choose a model in the sidebar.")
        return
    loaded, model_key, lead_warning = choose_lead(rec, loaded, model_key)
    why = replay_problem(rec, loaded, model_key)  # refused up front, not on Play
    if why:
        st.title("CardioLiquid · clinic replay")
        show_failure(st, f"Model {model_label!r} does not fit recording {rec.record_id!r}: {why}")
        return
    choice = Choice(rec, rec_key, loaded, model_key, model_label)
    header(choice)
    if lead_warning:
        st.warning(lead_warning, icon=":material/swap_vert:")
    try:
        replay = ensure_replay(choice)
    except CardioLiquidError as e:
        show_failure(st, "The model cannot score this recording", e)
        return
    replay_controls(choice)
    downloads(replay, lambda: agreement_for_download(replay))
    playing = bool(st.session_state.get("playing"))
    st.fragment(run_every=TICK_S if playing else None)(live)(choice)
    st.divider()
    neurons_panel(choice)
    st.divider()
    st.fragment(run_every=SLOW_TICK_S if playing else None)(device_panel)(choice)
