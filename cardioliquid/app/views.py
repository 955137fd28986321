"""The Streamlit views: choose, replay, agreement, events, neurons, device.

``app.py`` calls :func:`main`; each panel is one function here and the logic
they draw lives in the package (replay, agreement, charts, card, explain,
device). The page has three fragments: the live replay (trace, decision,
agreement, timeline, events; every :data:`TICK_S` while playing), the neurons
(on demand) and the device panel (every :data:`SLOW_TICK_S` while playing).
The replay's cursor (``ReplaySession.position_s``) is the one source of truth
for where the replay is; the position slider shows it and moves it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from cardioliquid.app import charts
from cardioliquid.app.agreement import (
    Agreement,
    af_specific_flags,
    agreement_notice,
    rhythm_reading,
    running_agreement,
    seizure_agreement,
    seizure_notice,
)
from cardioliquid.app.card import card_limits
from cardioliquid.app.events import (
    default_event_kind,
    event_kinds,
    event_table,
    events_tsv,
    next_event,
    wfdb_annotation_bytes,
)
from cardioliquid.app.neurons import (
    beat_input,
    explain_decision,
    input_attribution,
    stack_inputs,
    strongest_neurons,
    window_input,
)
from cardioliquid.app.provenance import evaluation_label
from cardioliquid.app.replay import (
    FASTEST_CHUNK_S,
    SPEEDS,
    ReplaySession,
    fit_problem,
    windows_view,
)
from cardioliquid.app.sources import (
    list_records,
    save_checkpoint_upload,
    save_uploads,
)
from cardioliquid.app.state import (
    UNTRAINED,
    cached_model,
    cached_profile,
    cached_recording,
    model_modality,
    mtime,
    public_text,
    session_dir,
    untrained_model,
)
from cardioliquid.decision.alerts import seizure_alerts, ventricular_runs
from cardioliquid.errors import CardioLiquidError, RecordingError
from cardioliquid.evaluation.seizure import SzcoreParams
from cardioliquid.explain import (
    active_circuit,
    concentration,
    model_randomization_test,
    neuron_adjacency,
    sensory_adjacency,
    stability,
)
from cardioliquid.explain.states import is_beat_sequence
from cardioliquid.io import load_recording
from cardioliquid.io.recording import Recording
from cardioliquid.models.checkpoint import LoadedModel, list_pretrained
from cardioliquid.scoring.writers import EVENTS_COLUMNS, beat_table_text, events_table
from cardioliquid.signal.leads import fused_leads, select_lead
from cardioliquid.signal.quality import find_bad_segments

TICK_S = 0.5
"""Seconds between live frames while playing."""
SLIDER_STEP_S = 0.1
"""Resolution of the position slider and of the status line's time (s): both show the cursor
rounded down to it (:func:`position_shown`)."""
TIMELINE_SPAN_S = 180.0
"""Seconds on the timeline under the agreement table."""
SLOW_TICK_S = 5.0
"""Seconds between refreshes of the device panel while playing."""
TIMEBASES = {"ecg": [10.0, 20.0, 30.0, 60.0], "eeg": [10.0, 20.0, 30.0, 60.0]}
"""Seconds of signal on screen the user can choose."""
GAINS = {"ecg": [5.0, 10.0, 20.0, 40.0], "eeg": [0.5, 1.0, 2.0, 4.0]}
"""ECG gain in mm/mV (10 standard); EEG gain on top of each channel's auto-scale."""
EEG_CHANNELS = 18
STABILITY_MEMORY = 30
"""Decisions per class kept to measure circuit stability."""
UPLOAD = "Upload a recording…"
UPLOAD_MODEL = "Upload a checkpoint…"


@dataclass
class Choice:
    """What the user picked: a recording, a model, and how to name them."""

    rec: Recording
    rec_key: str
    loaded: LoadedModel
    model_key: str
    model_label: str


def _fail(where: Any, message: str, exc: BaseException | None = None) -> None:
    detail = f"{message}: {exc}" if exc is not None else message
    where.error(public_text(detail), icon=":material/warning:")


# --------------------------------------------------------------------------- choosing
def handle_recording_upload(
    files: list[Any], dest: str | Path
) -> tuple[Recording | None, str | None, str | None]:
    """Save uploaded files (objects with ``name`` and ``getvalue()``) in ``dest`` and read them.

    Returns
    -------
    rec, path, error : Recording or None, str or None, str or None
        The recording and its path, or an error message for the page.
    """
    try:
        pairs = [(f.name, f.getvalue()) for f in files]
        path = save_uploads(pairs, dest)
        return load_recording(path), str(path), None
    except (CardioLiquidError, OSError, ValueError) as e:
        error = f"Could not read the upload: {e}"
    except Exception as e:  # a reader library failing in an unforeseen way: keep the page up
        error = f"Could not read the upload ({type(e).__name__}): {e}"
    return None, None, public_text(error, (dest,))  # the file's name, not the server's folder


def _query(name: str, default: str = "") -> str:
    value = st.query_params.get(name, default)
    return value if isinstance(value, str) else default


def choose_recording() -> tuple[Recording | None, str]:
    """Sidebar: the demo set, any record under the data folder, or an upload."""
    sb = st.sidebar
    sb.subheader("1 · Recording")
    choices = list_records()
    labels = [c.label for c in choices] + [UPLOAD]
    wanted = _query("record")
    index = next((i for i, c in enumerate(choices) if wanted and wanted in c.path), 0)
    label = sb.selectbox("Recording", labels, index=index, key="record_choice",
                         help="Demo records from `make demo`, anything under data/, or your own")
    if not choices:
        sb.info("No recordings under the data folder yet: run `make demo` "
                "(`cardioliquid data pull demo`) or upload one.")  # fmt: skip
    if label == UPLOAD:
        files = sb.file_uploader(
            "WFDB (.hea + .dat [+ .atr]) or EDF/BDF", accept_multiple_files=True,
            type=["hea", "dat", "atr", "edf", "bdf"], key="record_upload",
        )  # fmt: skip
        if not files:
            return None, ""
        rec, path, error = handle_recording_upload(files, session_dir() / "uploads")
        if error:
            _fail(st, error)
            return None, ""
        return rec, str(path)
    path = next(c.path for c in choices if c.label == label)
    try:
        return cached_recording(path, mtime(path)), path
    except CardioLiquidError as e:
        _fail(st, "Could not read this recording", e)
    except Exception as e:
        _fail(st, f"Could not read this recording ({type(e).__name__})", e)
    return None, ""


def replay_problem(rec: Recording, loaded: LoadedModel, model_key: str) -> str | None:
    """Why ``loaded`` cannot replay ``rec`` (:func:`~cardioliquid.app.replay.fit_problem`),
    worked out once per recording and model in this session; None when it can."""
    key = (rec.source, rec.record_id, rec.n_channels, rec.n_samples, model_key,
           mtime(model_key.split("|", 1)[0]))  # fmt: skip
    memo = st.session_state.setdefault("fit_problems", {})
    if key not in memo:
        why = fit_problem(rec, loaded)
        label = f"{rec.source or rec.record_id}: "
        memo[key] = None if why is None else public_text(why.removeprefix(label))
    return memo[key]


def _refusal(rec: Recording, name: str) -> str | None:
    """Why the shipped model ``name`` cannot replay ``rec`` (None: it can, or it cannot be
    loaded, which the page says when it is chosen)."""
    try:
        loaded = cached_model(name)
    except Exception:
        return None
    return replay_problem(rec, loaded, name)


def choose_model(rec: Recording) -> tuple[LoadedModel | None, str, str]:
    """Sidebar: a shipped model, an uploaded checkpoint, or an untrained stand-in.

    Shipped models that cannot replay this recording (another modality, or a
    channel count or montage it does not have) are not offered; a caption says
    which and why.
    """
    sb = st.sidebar
    sb.subheader("2 · Model")
    same = [n for n in list_pretrained() if model_modality(n) in (rec.modality, "")]
    refused = {n: why for n in same
               if model_modality(n) == rec.modality and (why := _refusal(rec, n))}  # fmt: skip
    shipped = [n for n in same if n not in refused]
    options = [*shipped, UPLOAD_MODEL]
    if not same:
        options.insert(0, UNTRAINED)
    prefer = {"ecg": "arrhythmia", "eeg": "seizure"}.get(rec.modality, "")
    if rec.modality == "eeg" and rec.n_channels == 1 and "seizure-1ch" in shipped:
        prefer = "seizure-1ch"
    wanted = _query("model", prefer)
    index = options.index(wanted) if wanted in options else 0
    name = sb.selectbox("Model", options, index=index, key=f"model_choice_{rec.modality}",
                        help=f"Models for {rec.modality.upper()} recordings (shipped, or your own)")
    if refused:
        sb.caption("Not offered for this recording: " + "; ".join(
            f"`{n}` ({why})" for n, why in refused.items()))  # fmt: skip
    try:
        if name == UPLOAD_MODEL:
            up = sb.file_uploader("Model file (.safetensors or Lightning .ckpt)",
                                  type=["safetensors", "ckpt"], key="model_upload")  # fmt: skip
            if up is None:
                return None, "", ""
            path = save_checkpoint_upload(up.name, up.getvalue(), session_dir() / "models")
            return cached_model(str(path), mtime(str(path))), str(path), up.name
        if name == UNTRAINED:
            task = "arrhythmia" if rec.modality == "ecg" else "seizure"
            return untrained_model(task), f"untrained:{task}", UNTRAINED
        return cached_model(name), name, name
    except CardioLiquidError as e:
        _fail(st, "This model cannot be used", e)
    except Exception as e:
        _fail(st, f"This model could not be loaded ({type(e).__name__})", e)
    return None, "", ""


def choose_lead(rec: Recording, loaded: LoadedModel, model_key: str
                ) -> tuple[LoadedModel, str, str | None]:
    """Sidebar: the ECG lead a heartbeat model reads, its own choice first.

    Returns the model (reading the chosen lead), its replay key (a new lead
    rebuilds the replay) and a warning when the lead is not the model's own.
    """
    if loaded.task != "arrhythmia" or rec.n_channels < 2:
        return loaded, model_key, None
    prep = loaded.preprocessing
    own = fused_leads(rec.channel_names, prep.lead_preference, prep.fuse_leads)
    both = " + ".join(own) if len(own) > 1 else None  # the leads it averages
    options = ([both] if both else []) + list(rec.channel_names)
    index = 0 if both else (options.index(own[0]) if own else 0)
    lead = st.sidebar.selectbox(
        "Lead the model reads", options, index=index, key=f"lead_choice_{rec.record_id}",
        help="By default the model's own choice: the first of its preferred leads "
             f"({', '.join(loaded.preprocessing.lead_preference[:3])}, ...) this record has"
             + (", averaged with the next one it has" if both else ""),
    )  # fmt: skip
    if lead == both or (not both and own and lead == own[0]):
        return loaded, model_key, None
    choice = both or (own[0] if own else "")
    warning = (f"The model reads lead {lead} alone, not its own choice"
               f"{' (' + choice + ')' if choice else ''}: it was chosen and evaluated on "
               f"{choice or loaded.preprocessing.lead_preference[0]}, and its calls on one "
               f"lead, or on other leads, are less reliable (model card).")  # fmt: skip
    return loaded.reading_leads([lead]), f"{model_key}|lead={lead}", warning


def _partner_leads(replay: ReplaySession) -> list[str]:
    """The leads a heartbeat model averages with its first one on this recording."""
    prep = replay.loaded.preprocessing
    return fused_leads(replay.rec.channel_names, prep.lead_preference, prep.fuse_leads)[1:]


def _reads_every_lead_p_waves(replay: ReplaySession) -> bool:
    """Whether the AF gate reads the P waves of every lead the model averages on this record."""
    decision = replay.loaded.decision
    return decision.needs_atrial and decision.atrial_leads == "max" and bool(
        _partner_leads(replay))


# --------------------------------------------------------------------------- replay state
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
            ss.playing = _query("autoplay") == "1"
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
    the page last said it was (:func:`live` records it in ``shown_s`` once the
    status line is sent). Without this the paused page was a frame ahead
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
    default_speed = _query("speed", "5×")
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


# --------------------------------------------------------------------------- what is known
def _reference_beats(rec: Recording) -> tuple[np.ndarray, np.ndarray] | None:
    if rec.beats is None or not len(rec.beats):
        return None
    keep = rec.beats.aami != ""
    return rec.beats.sample[keep], rec.beats.aami[keep]


def agreement_now(replay: ReplaySession) -> Agreement | None:
    """Model against expert over the decisions known at the cursor (None without expert beats)."""
    ref = _reference_beats(replay.rec) if replay.task == "arrhythmia" else None
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


def _af_like(replay: ReplaySession) -> np.ndarray | None:
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


def _has_seizure_labels(rec: Recording) -> bool:
    """Whether the recording came with expert seizure labels (an empty list is a label too)."""
    return bool(rec.seizures) or rec.meta.get("seizure_source") is not None


def _alerts(replay: ReplaySession):
    """The model's alerts so far, by the decision rule of its file (``loaded.decision``)."""
    pred, settings = replay.predictions, replay.loaded.decision
    if not len(pred):
        return []
    if replay.task == "arrhythmia":
        return ventricular_runs(pred.time_s, pred.labels, settings)
    _, p = windows_view(pred)
    return seizure_alerts(pred.start_s, pred.end_s, p, replay.rec.seizures, SEIZURE_MATCH_S,
                          settings)  # fmt: skip


def _pred_events(pred, loaded: LoadedModel) -> list[tuple[float, float]]:
    """The seizure events so far: those ``cardioliquid score`` writes for the same windows."""
    if not len(pred):
        return []
    return [(e.onset, e.offset) for e in pred.events(loaded.decision)]


def events_now(replay: ReplaySession, agreement: Agreement | None):
    """The event list at the cursor: expert events, model calls decided, disagreements, alerts."""
    rec, pred = replay.rec, replay.predictions
    if replay.task == "arrhythmia":
        ref = _reference_beats(rec)
        expert = None if ref is None else (ref[0] / rec.fs, ref[1])
        disagree = None if agreement is None else (agreement.disagree_s, agreement.disagree_expert,
                                                   agreement.disagree_model)  # fmt: skip
        return event_table(expert, (pred.time_s, pred.labels), disagree, _alerts(replay))
    return event_table(alerts=_alerts(replay), expert_seizures=rec.seizures)


def window_now(replay: ReplaySession) -> tuple[float, float]:
    """The time range on screen: the timebase ending at the cursor (the first seconds at 0)."""
    rec = replay.rec
    base = float(st.session_state.get("timebase", 20.0))
    speed = speed_s_per_s()
    per_frame = FASTEST_CHUNK_S if speed is None else speed * TICK_S
    span = min(max(base, replay.latency_s + 3.0, per_frame), max(rec.duration_s, 1.0))
    end = max(replay.position_s, span)
    return end - span, min(end, rec.duration_s)


# --------------------------------------------------------------------------- panels
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


BAD_SIGNAL = {"nan": "missing samples", "flat": "flat line", "clipped": "clipped signal"}
"""What the page calls each kind of poor signal (:func:`find_bad_segments`)."""


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
        names = [own] + [n for n in (chosen or rec.channel_names) if n != own]
        leads = {n: rec.signal[rec.channel_names.index(n), a:b] for n in names}
        bad = _bad_spans(leads[own][None], rec.fs, t0, [own])
        ref = _reference_beats(rec)
        ref_view = None if ref is None else (ref[0] / rec.fs, ref[1])
        dis = None if agreement is None else agreement.disagree_s
        explained = st.session_state.get("explained_input")
        attribution = None
        if explained and explained[0] == st.session_state.get("replay_key"):
            attribution = explained[1]
        spec = charts.ecg_trace(leads, rec.fs, t0, (t0, t1), float(st.session_state.get(
            "gain", 10.0)), ref_view, (pred.time_s, pred.labels), dis, pending,
            [(s, e) for s, e, _ in bad], attribution, ahead)  # fmt: skip
        partners = _partner_leads(replay)
        whose = ("the model's, averaged with " + " and ".join(partners)) if partners \
            else "the model's"
        others = f" first, then {', '.join(names[1:])}" if names[1:] else ""
        caption = (f"Lead {own} ({whose}){others}; "
                   "a calibration bar per lead at the left edge (1 mV; less at a high gain, "
                   "as labelled); magenta ticks: the trace is clipped at its row's edge; "
                   "red bands: model and expert differ; grey: "
                   f"received, not decided yet (the stream waits up to {replay.latency_s:.0f} s "
                   "for filter and RR context); orange: what drove the explained beat "
                   "(integrated gradients over its input); light grey: past the cursor, not "
                   "replayed yet. "
                   "Wheel: zoom, drag: scroll.")  # fmt: skip
    else:
        names = list(rec.channel_names)[:EEG_CHANNELS]
        x = rec.signal[: len(names), a:b]
        bad = _bad_spans(x, rec.fs, t0, names)
        spec = charts.eeg_trace(x, rec.fs, t0, names, (t0, t1),
                                float(st.session_state.get("eeg_gain", 1.0)), rec.seizures,
                                _pred_events(pred, replay.loaded),
                                [(s, e) for s, e, _ in bad], pending,
                                ahead)  # fmt: skip
        caption = ("Bipolar montage, each channel auto-scaled to its own amplitude on screen "
                   "(beside its name: µV filling half a row, at this gain); red band: expert "
                   "seizure, orange: model detection, grey: not decided yet.")  # fmt: skip
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
                every_lead=_reads_every_lead_p_waves(replay)).text)
    alerts = _alerts(replay)
    if replay.task == "arrhythmia":
        level, text = agreement_notice(agreement)
        watched = f"runs of {loaded.decision.vt_run_beats} or more ventricular beats"
    else:
        level, text = seizure_notice(seizure_agreement(
            replay.rec.seizures, alerts, replay.decision_frontier(), SEIZURE_MATCH_S),
            _has_seizure_labels(replay.rec), len(replay.rec.seizures))  # fmt: skip
        watched = "seizure events"
    icon = {"warning": ":material/report:", "success": ":material/check_circle:",
            "info": ":material/info:"}[level]  # fmt: skip
    getattr(st, level)(text, icon=icon)
    if not alerts:
        st.markdown(f"No model alert so far (the model alerts on {watched}).")
    for a in alerts[-3:][::-1]:
        st.error(f"**{a.kind}** at {a.time_s:.1f} s: {a.detail}",
                 icon=":material/notifications_active:")
    limits = card_limits(loaded.path, loaded.task, loaded.decision.af_gate,
                         p_waves=loaded.decision.needs_atrial,
                         every_lead=_reads_every_lead_p_waves(replay))  # fmt: skip
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

    As the strip (:func:`window_now`), the timeline shows its whole span from
    the start, not the stretch up to a cursor at 0 s: at 0 s it had one second,
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
        ref = _reference_beats(rec)
        ref_view = None
        if ref is not None:
            t = ref[0] / rec.fs
            upto = t <= replay.decision_frontier() + 1e-9
            ref_view = (t[upto], ref[1][upto])
        af = getattr(pred, "af", None)
        spec = charts.beat_timeline((pred.time_s, pred.labels), ref_view, loaded.classes, window,
                                    None if agreement is None else agreement.disagree_s, af,
                                    _af_like(replay), replay.position_s)  # fmt: skip
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

GAP_LOOKBACK = 30
"""Decisions the neuron panel walks back over to find one outside a signal gap."""


def _decision_input(replay: ReplaySession, i: int) -> tuple[np.ndarray, np.ndarray | None, float]:
    """Model input of decision ``i`` (window, features or None) and its time in seconds.

    Raises :class:`RecordingError` for a decision beside a signal gap (nothing to explain).
    """
    pred = replay.predictions
    if replay.task == "arrhythmia":
        start, reference = replay.stream_of(int(pred.sample[i]))
        x, f = beat_input(replay.rec, replay.loaded, int(pred.sample[i]), pred.sample,
                          stream_start=start, reference=reference)  # fmt: skip
        return x, f, float(pred.sample[i] / replay.rec.fs)
    x = window_input(replay.rec, replay.loaded, float(pred.start_s[i]))
    return x, None, float(pred.end_s[i])


def _explain_latest(replay: ReplaySession, method: str):
    pred = replay.predictions
    if not len(pred):
        return None
    beats = replay.task == "arrhythmia"
    latest = (int(pred.sample[-1]) if beats else float(pred.start_s[-1]), method)
    cache = st.session_state.setdefault("explained", {})
    if latest in cache:
        return cache[latest]
    # The latest decision may sit in a signal gap (no input to explain): the panel then
    # shows the most recent one outside it, whose time it names.
    first_error = None
    for i in range(len(pred) - 1, max(-1, len(pred) - 1 - GAP_LOOKBACK), -1):
        try:
            x, f, time_s = _decision_input(replay, i)
        except RecordingError as e:
            first_error = first_error or e
            continue
        view = explain_decision(replay.loaded, x, f, time_s, method)
        _remember_input_attribution(replay, x, f, time_s, view.label)
        reported = replay.loaded.classes[int(np.argmax(pred.proba[i]))]
        if reported != view.label:  # the AF gate settled this beat's S as N
            view = replace(view, reported=reported)
        break
    else:  # every decision looked at touches a gap (pred is not empty, so one was)
        raise first_error
    cache.clear()
    cache[latest] = view
    memory = st.session_state.setdefault("circuit_memory", {})
    shares = memory.setdefault(view.label, [])
    shares.append(view.attribution.share[0])
    del shares[:-STABILITY_MEMORY]
    return view


def _remember_input_attribution(replay: ReplaySession, x: np.ndarray, f: np.ndarray | None,
                                time_s: float, label: str) -> None:
    """Integrated gradients over the explained beat's input, placed on the trace's time axis."""
    loaded = replay.loaded
    weights = input_attribution(loaded, x, f, loaded.classes.index(label))
    prep = loaded.preprocessing
    if replay.task == "arrhythmia":
        times = time_s - prep.pre_s + np.arange(weights.shape[-1]) / prep.fs
        st.session_state.explained_input = (st.session_state.get("replay_key"),
                                            (times, weights), time_s, label)  # fmt: skip
    else:  # per channel: the share of each EEG channel in the window's decision
        share = weights.sum(axis=1) if weights.ndim == 2 else weights
        share = share / share.sum() if share.sum() > 0 else share
        st.session_state.explained_input = (st.session_state.get("replay_key"), None, time_s,
                                            label, share)  # fmt: skip


@st.fragment
def neurons_panel(choice: Choice) -> None:
    """On demand: the liquid states, the neurons by role, the wiring, the circuit of a decision."""
    import matplotlib.pyplot as plt  # lazy: the page starts without matplotlib

    from cardioliquid.app import plots  # lazy: matplotlib, loaded when the panel is opened

    replay = st.session_state.replay
    st.markdown("### The neurons behind a decision")
    names = {"integrated_gradients": "integrated gradients",
             "grad_x_activation": "gradient × activation"}  # fmt: skip
    c0, c1 = st.columns([2, 1])
    method = c0.radio("Attribution", list(names), horizontal=True, key="attr_method",
                      format_func=names.__getitem__)
    asked = c1.button("Explain the latest decision at the cursor", key="explain", type="primary",
                      icon=":material/neurology:")  # fmt: skip
    if not asked and not st.session_state.get("explained"):
        st.caption("On demand (about half a second of compute): the beat's or window's input "
                   "attribution is then drawn on the trace in orange.")  # fmt: skip
        return
    before = st.session_state.get("explained_input")
    try:
        view = _explain_latest(replay, method)
    except CardioLiquidError as e:
        _fail(st, "This model's neurons cannot be shown", e)
        return
    if view is None:
        st.info("The neuron view appears with the first decision: press Play.")
        return
    if asked and st.session_state.get("explained_input") is not before:
        st.rerun()  # the whole page: the trace draws the new attribution
    model = replay.loaded.model
    roles = view.trajectory.roles
    share = view.attribution.share[0]
    signed = view.attribution.scores[0] if hasattr(view.attribution, "scores") else share
    k = 3
    neurons, _ = active_circuit(share, neuron_adjacency(model, len(roles)), k)
    what = "beat" if replay.task == "arrhythmia" else "EEG window"
    st.markdown(f"Explained: the {what} at **{view.time_s:.1f} s**, predicted **{view.label}** "
                f"(attribution by {names[method]}).")  # fmt: skip
    partners = _partner_leads(replay) if replay.task == "arrhythmia" else []
    if partners:
        own = select_lead(replay.rec, replay.loaded.preprocessing.lead_preference)
        st.caption(f"The model averages its calls on {own} and {' and '.join(partners)}; the "
                   f"neurons explain its run on {own}, which alone calls this beat "
                   f"{view.label}.")  # fmt: skip
    if view.reported is not None:
        why = (f"averaged with {' and '.join(partners)}, then the AF gate" if partners
               else "the AF gate: this beat lies in irregular rhythm")
        st.caption(f"This beat is reported as **{view.reported}** ({why}); the neurons explain "
                   f"the network's own call, {view.label}.")  # fmt: skip
    explained = st.session_state.get("explained_input")
    if explained and len(explained) > 4:
        chans = charts.display_names(list(replay.rec.channel_names)[: len(explained[4])])
        top = np.argsort(explained[4])[::-1][:5]
        st.markdown("**EEG channels that drove it** (integrated gradients over the input): "
                    + ", ".join(f"{chans[i]} {100 * explained[4][i]:.0f} %" for i in top))
    c1, c2, c3 = st.columns([1.15, 0.85, 1.0])
    with c1:
        over = (f"the last {len(view.trajectory.states)} beats (one step per beat)"
                if is_beat_sequence(model) else "the decided window")
        st.markdown(f"**Liquid state of all {len(roles)} neurons** over {over}")
        fig = plots.neuron_heatmap(view.trajectory.states, roles, view.trajectory.step_s,
                                   per_beat=is_beat_sequence(model))
        st.pyplot(fig)
        plt.close(fig)
    with c2:
        st.markdown(f"**Strongest neurons of each role for “{view.label}”**")
        rows = strongest_neurons(share, signed, list(roles), view.label)
        cfg = st.column_config
        st.dataframe(rows, hide_index=True, width="stretch", column_config={
            "neuron": cfg.TextColumn("neuron", width=50),
            "role": cfg.TextColumn("role", width=70),
            "effect": cfg.TextColumn("effect", width=80, help=(
                f"→ {view.label}: pushes the decision towards {view.label}; against "
                f"{view.label}: pushes it away")),
            "share %": cfg.ProgressColumn("share", min_value=0.0, format="%.0f %%", width=80,
                                          max_value=max(100 * float(share.max()), 1.0),
                                          help="Share of |attribution| (%), as in the wiring"),
        })  # fmt: skip
        conc = concentration(share, k)
        memory = st.session_state.get("circuit_memory", {}).get(view.label, [])
        stab = stability(np.array(memory), k) if len(memory) > 1 else None
        st.metric(f"Top-{k} share (concentration)", f"{100 * conc.top_k_share:.0f} %",
                  help="Share of the attribution held by the 3 strongest neurons")  # fmt: skip
        st.metric("Effective neurons", f"{conc.effective_neurons:.1f} of {len(roles)}",
                  help="exp(entropy of the shares): 1 = one neuron decides, N = all equally")
        if stab is not None:
            st.metric(f"Stability over {stab.n_decisions} “{view.label}” decisions",
                      f"{100 * stab.top_k_jaccard:.0f} % same top-{k}")  # fmt: skip
    with c3:
        st.markdown("**Wiring** (sensory → inter → command → motor; active circuit in bold)")
        fig = plots.wiring_graph(roles, neuron_adjacency(model, len(roles)), share, neurons,
                                 sensory_adjacency(model))  # fmt: skip
        st.pyplot(fig)
        plt.close(fig)
    sanity_check(replay, method)
    st.caption("Motor neurons are the outputs, so their ranking restates the prediction; inter "
               "and command neurons show the circuit that computes it. Shares of |attribution| "
               "of the predicted class's logit to each neuron's state trajectory, summing to "
               "100 % over all neurons.")  # fmt: skip


def _energy_lines(report: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """Energy estimates split into this machine's, microcontroller projections, lower bounds."""
    here, projections, bounds = [], [], []
    for e in report.get("energy_estimates") or []:
        value, method = e.get("value_uj"), str(e.get("method", ""))
        if not isinstance(value, int | float):
            continue
        text = (f"{value / 1000:.2f} mJ" if value >= 1000 else f"{value:.3g} µJ")
        line = f"**{text}** per decision, {e.get('target', '?')}: {method}"
        if "lower bound" in method:
            bounds.append(line)
        elif e.get("kind") == "projection":
            projections.append(line)
        else:
            here.append(line)
    return here, projections, bounds


def _profile_view(report: dict[str, Any]) -> None:
    lat = report.get("latency_ms") or {}
    p50, p95 = _number(lat, "p50"), _number(lat, "p95")
    device = report.get("device") if isinstance(report.get("device"), dict) else {}
    here, projections, bounds = _energy_lines(report)
    power = report.get("power_mw") if isinstance(report.get("power_mw"), dict) else {}
    c1, c2, c3 = st.columns(3)
    c1.metric("Model latency per decision (measured, p50, batch 1)",
              "—" if p50 is None else f"{p50:.2f} ms",
              help=None if p95 is None else f"p95 {p95:.2f} ms; on {device.get('name', '?')}, "
                                             f"{device.get('threads', '?')} thread(s)")  # fmt: skip
    pw = _number(power)
    c2.metric("Power on this CPU (assumed, not measured)",
              "—" if pw is None else f"{pw / 1000:.2f} W", help=str(power.get("method", "")))
    first = here[0].split("**")[1] if here else "—"
    c3.metric("Energy per decision on this CPU (estimate)", first,
              help=here[0] if here else "no estimate for this machine")
    unavailable = report.get("unavailable") or []
    if unavailable:
        st.caption("No measured energy: " + "; ".join(map(str, unavailable)))
    with st.expander("Projections and lower bounds (not measurements of this machine)"):
        if projections:
            st.markdown("**Projections** for microcontrollers (cycle counts × datasheet power):\n"
                        + "\n".join(f"- {p}" for p in projections))  # fmt: skip
        if bounds:
            st.markdown("**Lower bounds** (arithmetic only, memory access excluded; real chips "
                        "spend several times more):\n" + "\n".join(f"- {b}" for b in bounds))
        targets = report.get("targets") or []
        if targets:
            st.markdown("**Targets**, each with the figure it was judged on:\n" + "\n".join(
                f"- {t.get('name')}: {t.get('value'):.4g} {t.get('unit', '')} "
                f"({'met' if t.get('met') else 'missed'}"
                f"{' on a lower bound only' if 'lower bound' in str(t.get('basis')) else ''}"
                f"; {t.get('basis', '')})" for t in targets
                if isinstance(t.get("value"), int | float)))  # fmt: skip
    macs = report.get("macs_per_decision")
    params = report.get("params")
    wired = _number(macs, "effective")
    wired_text = (f" ({wired:,.0f} counting wired synapses only: the energy figures count "
                  f"these)" if wired else "")
    st.caption(f"{_number(params, 'effective') or 0:,.0f} wired parameters, "
               f"{_number(macs, 'value') or 0:,.0f} MACs per decision as executed{wired_text}. "
               "Profiled on: "
               + ", ".join(f"{k} {v}" for k, v in device.items()
                           if isinstance(v, str | int | float)))  # fmt: skip
    with st.expander("Full profile report (JSON, as `cardioliquid profile --json`)"):
        st.json(report, expanded=False)


def device_panel(choice: Choice) -> None:
    """This machine first: model latency, live compute, and the three delays told apart."""
    replay = st.session_state.replay
    st.markdown("### Device: what this machine does")
    live = replay.latency_ms()
    rtf = replay.realtime_factor()
    c1, c2, c3 = st.columns(3)
    c1.metric("Live compute per decision in this replay (p50)",
              "—" if not live["n_chunks"] else f"{live['p50']:.2f} ms",
              help="Wall time of each pushed chunk (filtering, beat windows, features, model) "
                   "over its decisions")  # fmt: skip
    c2.metric("Compute headroom (could run at)",
              "—" if not np.isfinite(rtf) else f"{rtf:,.0f}× real time",
              help="How fast this machine could run the stream: seconds of signal scored per "
                   "second of compute in this replay. Not the replay speed you chose (1×, 5×, "
                   "25×), which the page paces; above 1× the model keeps up with a live "
                   "patient.")  # fmt: skip
    c3.metric("Stream delay (worst case)", f"{replay.latency_s:.0f} s of signal",
              help="A decision waits for filter and RR context after its beat or window")
    st.caption(
        "Three different delays: **model latency** is one forward pass of the network "
        "(profiled, batch 1); **live compute** adds the preprocessing the stream does per "
        "decision on this page; the **stream delay** is signal the stream waits for before it "
        f"decides (up to {replay.latency_s:.0f} s), which is why the strip's last seconds are "
        "grey: it is not compute time.")  # fmt: skip
    if not st.toggle("Show the profile report (runs `cardioliquid profile` once per model)",
                     value=True, key="show_profile"):  # fmt: skip
        return
    try:
        untrained = choice.model_key.split(":", 1)[1] if choice.model_key.startswith(
            "untrained:") else ""  # fmt: skip
        report = cached_profile(choice.model_key.split("|", 1)[0],
                                mtime(choice.model_key.split("|", 1)[0]), untrained)  # fmt: skip
    except Exception as e:  # the profile is informative; the replay goes on without it
        _fail(st, f"Profile unavailable ({type(e).__name__})", e)
        return
    _profile_view(report)


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
    sb.download_button("Event list (TSV)", lambda: events_tsv(events_now(replay, agreement_fn())),
                       file_name=f"{rid}_event_list.tsv", mime="text/tab-separated-values",
                       key="dl_events", on_click="ignore", width="stretch",
                       icon=":material/download:")  # fmt: skip
    sb.caption("The decisions known at the cursor, written when you click.")


# --------------------------------------------------------------------------- page
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
        # freezes here, where the page now says it is (:func:`_toggle_play`).
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
        _fail(st, f"Model {model_label!r} does not fit recording {rec.record_id!r}: {why}")
        return
    choice = Choice(rec, rec_key, loaded, model_key, model_label)
    header(choice)
    if lead_warning:
        st.warning(lead_warning, icon=":material/swap_vert:")
    try:
        replay = ensure_replay(choice)
    except CardioLiquidError as e:
        _fail(st, "The model cannot score this recording", e)
        return
    replay_controls(choice)
    downloads(replay, lambda: _agreement_unsafe(replay))
    playing = bool(st.session_state.get("playing"))
    st.fragment(run_every=TICK_S if playing else None)(live)(choice)
    st.divider()
    neurons_panel(choice)
    st.divider()
    st.fragment(run_every=SLOW_TICK_S if playing else None)(device_panel)(choice)


def _agreement_unsafe(replay: ReplaySession) -> Agreement | None:
    """Agreement outside a script run (a download): no session-state cache."""
    ref = _reference_beats(replay.rec) if replay.task == "arrhythmia" else None
    if ref is None:
        return None
    pred = replay.predictions
    return running_agreement(pred.sample, pred.labels, ref[0], ref[1], replay.rec.fs,
                             replay.loaded.classes, replay.decision_frontier(),
                             replay.scored_spans_s)  # fmt: skip
def sanity_check(replay: ReplaySession, method: str, n_beats: int = 12) -> None:
    """On demand: the model-randomisation test on the latest decisions of this replay."""
    key = (st.session_state.get("replay_key"), method)
    if st.button("Sanity-check these attributions (model randomisation, Adebayo et al. 2018)",
                 key="sanity", icon=":material/fact_check:",
                 help=f"Attributes the last {n_beats} decisions twice, with the trained and "
                      "with randomised weights: several seconds, more for the beat model, "
                      "which runs its 32-beat history each time"):  # fmt: skip
        pred = replay.predictions
        if len(pred) < 2:
            st.info("Needs at least two decisions: play a little first.")
            return
        with st.spinner("Attributing with trained and with random weights…"):
            inputs = []
            for i in range(max(0, len(pred) - n_beats), len(pred)):
                try:
                    inputs.append(_decision_input(replay, i))
                except RecordingError:  # beside a signal gap: no decision to explain
                    continue
            if len(inputs) < 2:
                st.info("Too few decisions outside signal gaps: play a little further.")
                return
            x, f = stack_inputs([(x, f) for x, f, _ in inputs])
            result = model_randomization_test(replay.loaded.model, x, f, method=method, steps=8)
        st.session_state.sanity_result = (key, result, len(x))
    saved = st.session_state.get("sanity_result")
    if saved and saved[0] == key:
        _, result, n = saved
        verdict = "passed" if result.passed else "FAILED"
        text = (f"Sanity check {verdict} on the last {n} decisions: rank correlation of neuron "
                f"importance between trained and randomised weights "
                f"{result.rank_correlation:.2f} (pass below {result.threshold:g}); "
                f"top-3 overlap {100 * result.top_k_overlap:.0f} %.")  # fmt: skip
        (st.success if result.passed else st.warning)(text)


def _number(value: Any, key: str = "value") -> float | None:
    if isinstance(value, dict):
        value = value.get(key)
    return float(value) if isinstance(value, int | float) else None


