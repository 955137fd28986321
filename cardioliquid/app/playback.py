"""The user's replay in session state, and the controls that move it (sidebar 3 and 4).

:func:`ensure_replay` keeps one :class:`~cardioliquid.app.replay.ReplaySession`
per user in ``st.session_state``. Its cursor is moved only here: Play/Pause
and each frame's :func:`tick`, Restart, the position slider and the event
navigation's jumps (:func:`seek_to`), all under :func:`replay_lock`. The
viewer's timebase, gain and leads are chosen here too.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import streamlit as st

from cardioliquid.app.choosing import Choice, query_param
from cardioliquid.app.replay import FASTEST_CHUNK_S, SPEEDS, ReplaySession
from cardioliquid.app.state import public_text
from cardioliquid.errors import CardioLiquidError

TICK_S = 0.5
"""Seconds between live frames while playing."""
SLIDER_STEP_S = 0.1
"""Resolution of the position slider and of the status line's time (s): both show the cursor
rounded down to it (:func:`position_shown`)."""
TIMEBASES = {"ecg": [10.0, 20.0, 30.0, 60.0], "eeg": [10.0, 20.0, 30.0, 60.0]}
"""Seconds of signal on screen the user can choose."""
GAINS = {"ecg": [5.0, 10.0, 20.0, 40.0], "eeg": [0.5, 1.0, 2.0, 4.0]}
"""ECG gain in mm/mV (10 standard); EEG gain on top of each channel's auto-scale."""


def _same_replay_other_lead(old_key: Any, key: tuple[str, str]) -> bool:
    """Whether ``key`` replays the recording and model of ``old_key`` on another lead."""
    return (isinstance(old_key, tuple) and len(old_key) == 2 and old_key[0] == key[0]
            and old_key[1].split("|lead=", 1)[0] == key[1].split("|lead=", 1)[0])  # fmt: skip


def ensure_replay(choice: Choice) -> ReplaySession:
    """The user's replay, rebuilt when the recording or the model changes.

    A new lead for the same model is a new replay that lands where the old one
    was (as a jump does: the decisions of the :data:`~cardioliquid.app.replay.LEAD_IN_S`
    before it are made on the new lead), playing on if it was playing.
    """
    key = (choice.rec_key, choice.model_key)
    ss = st.session_state
    if ss.get("replay_key") != key or "replay" not in ss:
        old = ss.get("replay")
        relead = old is not None and _same_replay_other_lead(ss.get("replay_key"), key)
        replay = ReplaySession(choice.rec, choice.loaded)
        if relead and old.position_s > 0:
            replay.seek(old.position_s)
        ss.replay = replay
        ss.replay_key = key
        ss.explained = {}
        ss.circuit_memory = {}
        ss.pop("replay_error", None)
        replay_lock()
        if not relead:
            ss.playing = query_param("autoplay") == "1"
        ss.shown_s = replay.position_s
        ss.last_tick = time.perf_counter()
    return ss.replay


def replay_lock() -> threading.RLock:
    """This session's lock on the replay's cursor and the play flag.

    A click reruns the page at once on a new thread (Streamlit's fast reruns),
    while the frame it interrupts may still be inside
    :meth:`ReplaySession.advance` on the old one: Streamlit stops that run only
    at its next element. Play/Pause, seeks and the frame's advance take this
    lock, so they never move the cursor at the same time and a Pause is not
    undone by a frame that finishes after it.
    """
    ss = st.session_state
    lock = ss.get("replay_lock")
    if lock is None:  # made by the first page run, before any click or frame
        lock = ss.replay_lock = threading.RLock()
    return lock


def seek_to(position_s: float) -> None:
    """Move the replay's cursor (the one way the page changes the position besides playing)."""
    ss = st.session_state
    replay = ss.get("replay")
    if replay is None:
        return
    with replay_lock():
        try:
            replay.seek(float(position_s))
        except Exception as e:  # scoring the signal there failed: stop, and say why
            stop_on_error(e)
            return
        ss.pop("replay_error", None)
        ss.shown_s = replay.position_s
        ss.last_tick = time.perf_counter()


def stop_on_error(e: Exception) -> None:
    """Stop playing and keep the error on screen until Play, a seek or a new replay."""
    ss = st.session_state
    what = ("The model cannot score this recording" if isinstance(e, CardioLiquidError)
            else f"The replay stopped on an error ({type(e).__name__})")  # fmt: skip
    ss.replay_error = public_text(f"{what}: {e}")
    ss.playing = False


def _on_slide(key: str, shown: float) -> None:
    value = float(st.session_state[key])
    if abs(value - shown) > 1e-9:  # moved by the user, not the browser re-reading the value
        seek_to(value)


def _on_restart() -> None:
    seek_to(0.0)


def _toggle_play() -> None:
    """Play or pause. Pause freezes the replay where the page said it was at the press.

    A press reruns the page at once on a new thread, while the frame it
    interrupts may still be advancing the replay on the old one; Streamlit
    stops that frame before it shows the new position. So Pause first waits
    for that advance (:func:`replay_lock`), then moves the cursor back to where
    the page last said it was (:func:`~cardioliquid.app.views.live` records it in
    ``shown_s`` once the status line is sent). Without this the paused page was a frame ahead
    (12.5 s at 25×) of the one on screen at the press. The decisions made on the
    way are kept, so playing on costs nothing for that stretch.
    """
    ss = st.session_state
    with replay_lock():  # after a frame still advancing on another thread (replay_lock)
        replay = ss.get("replay")
        if ss.get("playing") and replay is not None:
            shown = ss.get("shown_s")
            if shown is not None and shown < replay.position_s:
                seek_to(shown)  # signal already scored: moves the cursor only
        ss.playing = not ss.get("playing", False)
        ss.last_tick = time.perf_counter()
        if not ss.playing or replay is None:
            return
        ss.pop("replay_error", None)  # try again
        if replay.finished:
            seek_to(0.0)  # Play at the end starts again (history kept)


def speed_s_per_s() -> float | None:
    """Seconds of signal per wall second at the chosen speed (None: as fast as possible)."""
    return SPEEDS.get(st.session_state.get("speed", "5×"), 5.0)


def tick(replay: ReplaySession) -> None:
    """Advance the replay by the wall time since the last frame times the speed.

    Under :func:`replay_lock`, and only if still playing once it holds it: a Pause
    pressed meanwhile wins.
    """
    ss = st.session_state
    with replay_lock():
        now = time.perf_counter()
        elapsed = min(max(now - ss.get("last_tick", now), 0.0), 2.0)
        ss.last_tick = now
        if not ss.get("playing"):
            return
        if not replay.finished:
            speed = speed_s_per_s()
            seconds = FASTEST_CHUNK_S if speed is None else max(speed * elapsed, 0.05 * speed)
            replay.advance(seconds)
        if not replay.finished:
            return
        ss.playing = False
    st.rerun()  # finished: stop the timer and show Play again (a full rerun)


def replay_controls(choice: Choice) -> None:
    """Sidebar: play/pause, speed, restart; viewer gain, timebase and leads."""
    sb = st.sidebar
    sb.subheader("3 · Replay")
    playing = st.session_state.get("playing", False)
    sb.button("Pause" if playing else "Play", key="play", type="primary", width="stretch",
              icon=":material/pause:" if playing else ":material/play_arrow:",
              on_click=_toggle_play)  # fmt: skip
    default_speed = query_param("speed", "5×")
    speeds = list(SPEEDS)
    sb.radio("Speed", speeds, index=speeds.index(default_speed) if default_speed in speeds else 1,
             key="speed", horizontal=True)  # fmt: skip
    sb.button("Restart from 0 s", key="restart", width="stretch", icon=":material/replay:",
              on_click=_on_restart, help="Back to the start; decisions made are kept")
    sb.subheader("4 · Viewer")
    modality = choice.rec.modality
    sb.select_slider("Timebase (s on screen)", TIMEBASES[modality], value=20.0, key="timebase",
                     help="At least the stream's delay plus 3 s, so decided beats are in view; "
                          "zoom the chart with the mouse wheel, drag to scroll, double click "
                          "to reset")  # fmt: skip
    if modality == "ecg":
        sb.select_slider("Gain (mm/mV)", GAINS["ecg"], value=10.0, key="gain",
                         help="10 mm/mV is the standard ECG gain")  # fmt: skip
        sb.multiselect("Leads shown", list(choice.rec.channel_names),
                       default=list(choice.rec.channel_names)[:4], key=f"leads_{choice.rec_key}")
    else:
        sb.select_slider("Gain (× each channel's auto-scale)", GAINS["eeg"], value=1.0,
                         key="eeg_gain", help="Each channel is scaled to its own amplitude on "
                                              "screen; the gain multiplies all")  # fmt: skip


def position_shown(position_s: float, duration_s: float | None = None) -> float:
    """The cursor as the page shows it: rounded down to :data:`SLIDER_STEP_S`.

    The position slider and the status line both show this value, so they never
    disagree (they did when each rounded its own way: the slider down to 0.5 s,
    the status line to the nearest 0.1 s, 7.5 s against 7.8 s). Rounding down
    keeps the value a step of the slider, which the browser keeps as is, and
    never past the cursor or the end.

    Parameters
    ----------
    position_s : float
        The replay's cursor (s).
    duration_s : float, optional
        The recording's length (s): the value is at most this.

    Returns
    -------
    float
        A multiple of :data:`SLIDER_STEP_S` (to float precision).
    """
    if duration_s is not None:
        position_s = min(position_s, duration_s)
    steps = np.floor(max(position_s, 0.0) / SLIDER_STEP_S + 1e-6)  # 0.3 / 0.1 is 2.999...
    return round(float(steps * SLIDER_STEP_S), 6)


def position_slider(replay: ReplaySession) -> None:
    """The replay position: follows playback, and moving it seeks (history kept).

    The slider is keyed by the cursor, so each frame draws a fresh one at the
    cursor (:func:`position_shown`, as the status line): a browser still holding
    an older frame's slider can never send its stale value back as a seek, and
    only a value the user moved seeks.
    """
    duration = float(max(replay.rec.duration_s, 1.0))
    shown = position_shown(replay.position_s, duration)
    key = f"pos@{replay.position_s:.3f}"
    st.slider("Position (s)", 0.0, duration, shown, step=SLIDER_STEP_S, key=key,
              on_change=_on_slide, args=(key, shown), format="%.1f s",
              help="Drag to move the replay; decisions already made are kept")  # fmt: skip
