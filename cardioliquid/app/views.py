"""The Streamlit views: choose, replay, predictions, neurons, device.

``app.py`` calls :func:`main`; each panel is one function here and the logic
they draw lives in the package (replay, alerts, explain, device).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import streamlit as st

from cardioliquid.app import plots
from cardioliquid.app.alerts import seizure_alerts, ventricular_runs
from cardioliquid.app.provenance import evaluation_label
from cardioliquid.app.replay import FASTEST_CHUNK_S, SPEEDS, ReplaySession, windows_view
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
    mtime,
    session_dir,
    untrained_model,
)
from cardioliquid.errors import CardioLiquidError, RecordingError
from cardioliquid.io.recording import Recording
from cardioliquid.models.checkpoint import LoadedModel

TICK_S = 1.0
"""Seconds between live updates while playing."""
TRACE_S = {"ecg": 8.0, "eeg": 10.0}
"""Seconds of signal on screen."""
UPLOAD = "Upload a recording…"
UPLOAD_MODEL = "Upload a checkpoint…"
STABILITY_MEMORY = 30
"""Decisions per class kept to measure circuit stability."""


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
    where.error(detail, icon=":material/warning:")


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
    from cardioliquid.io import load_recording

    try:
        pairs = [(f.name, f.getvalue()) for f in files]
        path = save_uploads(pairs, dest)
        return load_recording(path), str(path), None
    except (CardioLiquidError, OSError, ValueError) as e:
        return None, None, f"Could not read the upload: {e}"
    except Exception as e:  # a reader library failing in an unforeseen way: keep the page up
        return None, None, f"Could not read the upload ({type(e).__name__}): {e}"


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


def choose_model(rec: Recording) -> tuple[LoadedModel | None, str, str]:
    """Sidebar: a shipped model, an uploaded checkpoint, or an untrained stand-in."""
    from cardioliquid.models.checkpoint import list_pretrained

    sb = st.sidebar
    sb.subheader("2 · Model")
    shipped = list_pretrained()
    options = [*shipped, UPLOAD_MODEL]
    if not shipped:
        options.insert(0, UNTRAINED)
    prefer = {"ecg": "arrhythmia", "eeg": "seizure"}.get(rec.modality, "")
    if rec.modality == "eeg" and rec.n_channels == 1 and "seizure-1ch" in shipped:
        prefer = "seizure-1ch"
    wanted = _query("model", prefer)
    index = options.index(wanted) if wanted in options else 0
    name = sb.selectbox("Model", options, index=index, key=f"model_choice_{rec.modality}")
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
    from cardioliquid.signal.leads import listed_leads

    own = listed_leads(rec.channel_names, loaded.preprocessing.lead_preference)
    options = list(rec.channel_names)
    index = options.index(own[0]) if own else 0
    lead = st.sidebar.selectbox(
        "Lead the model reads", options, index=index, key=f"lead_choice_{rec.record_id}",
        help="By default the first of the model's preferred leads "
             f"({', '.join(loaded.preprocessing.lead_preference[:3])}, ...) this record has",
    )  # fmt: skip
    if own and lead == own[0]:
        return loaded, model_key, None
    warning = (f"The model reads lead {lead}, not its own choice"
               f"{' (' + own[0] + ')' if own else ''}: it was chosen and evaluated on "
               f"{loaded.preprocessing.lead_preference[0]}, and its calls on other leads are "
               f"less reliable (model card).")  # fmt: skip
    return loaded.reading_leads([lead]), f"{model_key}|lead={lead}", warning


def replay_controls(choice: Choice) -> None:
    """Sidebar: play/pause, speed, jump."""
    sb = st.sidebar
    sb.subheader("3 · Replay")
    playing = st.session_state.get("playing", False)
    if sb.button("Pause" if playing else "Play", key="play", type="primary", width="stretch",
                 icon=":material/pause:" if playing else ":material/play_arrow:"):  # fmt: skip
        st.session_state.playing = not playing
        st.session_state.last_tick = time.perf_counter()
        st.rerun()
    default_speed = _query("speed", "5×")
    speeds = list(SPEEDS)
    sb.radio("Speed", speeds, index=speeds.index(default_speed) if default_speed in speeds else 1,
             key="speed", horizontal=True)  # fmt: skip
    duration = max(choice.rec.duration_s, 1.0)

    def jump() -> None:
        replay = st.session_state.get("replay")
        if replay is not None:
            replay.seek(float(st.session_state.jump))
            st.session_state.explained = {}

    sb.slider("Jump to (s)", 0.0, float(np.floor(duration)), 0.0, step=1.0, key="jump",
              on_change=jump, help="Restart the replay here (predictions before it are cleared)")
    if sb.button("Restart", key="restart", width="stretch", icon=":material/replay:"):
        st.session_state.replay.seek(0.0)
        st.session_state.explained = {}


# --------------------------------------------------------------------------- session
def ensure_replay(choice: Choice) -> ReplaySession:
    """The user's replay, rebuilt when the recording or the model changes."""
    key = (choice.rec_key, choice.model_key)
    if st.session_state.get("replay_key") != key or "replay" not in st.session_state:
        st.session_state.replay = ReplaySession(choice.rec, choice.loaded)
        st.session_state.replay_key = key
        st.session_state.explained = {}
        st.session_state.circuit_memory = {}
        st.session_state.playing = _query("autoplay") == "1"
        st.session_state.last_tick = time.perf_counter()
    return st.session_state.replay


def tick(replay: ReplaySession) -> None:
    """Advance the replay by the wall time since the last tick times the speed."""
    now = time.perf_counter()
    elapsed = min(max(now - st.session_state.get("last_tick", now), 0.0), 5.0)
    st.session_state.last_tick = now
    if replay.finished:
        st.session_state.playing = False
    if not st.session_state.get("playing"):
        return
    speed = SPEEDS.get(st.session_state.get("speed", "5×"), 5.0)
    seconds = FASTEST_CHUNK_S if speed is None else max(speed * elapsed, 0.25 * speed)
    replay.advance(seconds)
    if replay.finished:  # stop the timer and show Play again: a full rerun
        st.session_state.playing = False
        st.rerun()


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


def decision_frontier(replay: ReplaySession) -> float:
    """Where the trace ends: just after the latest decision (the stream answers with a delay)."""
    pred = replay.predictions
    if not len(pred):
        return replay.position_s
    last = pred.time_s[-1] if replay.task == "arrhythmia" else pred.end_s[-1]
    return float(min(replay.position_s, last + 1.0))


def _bad_spans(x: np.ndarray, fs: float, start_s: float, names: list[str]):
    from cardioliquid.signal.quality import find_bad_segments

    spans = []
    for row, name in zip(x, names, strict=True):
        for b in find_bad_segments(row, fs, name, min_flat_s=0.5):
            spans.append((start_s + b.start_s, start_s + b.end_s, b.kind))
    return spans


def waveform(replay: ReplaySession) -> None:
    """The last seconds of signal, annotated, the way clinicians read it."""
    rec = replay.rec
    span = TRACE_S[rec.modality]
    now = decision_frontier(replay)
    t0 = max(0.0, now - span)
    a, b = int(t0 * rec.fs), max(int(now * rec.fs), int(t0 * rec.fs) + 2)
    if rec.modality == "ecg":
        from cardioliquid.signal.leads import select_lead

        lead = select_lead(rec, replay.loaded.preprocessing.lead_preference)
        i = rec.channel_names.index(lead)
        x = rec.signal[i, a:b]
        bad = _bad_spans(x[None], rec.fs, t0, [lead])
        ref = None
        if rec.beats is not None and len(rec.beats):
            keep = rec.beats.aami != ""
            ref = (rec.beats.sample[keep] / rec.fs, rec.beats.aami[keep])
        pred = replay.predictions
        fig = plots.ecg_paper(x, rec.fs, t0, lead, ref, (pred.time_s, pred.labels),
                              [(s, e) for s, e, _ in bad], scale=0.85)  # fmt: skip
        st.pyplot(fig, width="content")
        plt.close(fig)
        caption = (f"Trace up to the latest decision ({replay.position_s - now:.0f} s behind the "
                   "signal received: the stream waits for filter and RR context). "
                   "Paper 25 mm/s, 10 mm/mV (small squares 0.04 s × 0.1 mV, large 0.2 s × 0.5 mV). "
                   "Upper row: expert beat labels; lower row: model predictions (AAMI N S V F Q).")
    else:
        names = list(rec.channel_names)[:18]
        x = rec.signal[: len(names), a:b]
        bad = _bad_spans(x, rec.fs, t0, names)
        pred = replay.predictions
        events = _pred_events(pred)
        fig = plots.eeg_stacked(x, rec.fs, t0, names, rec.seizures, events,
                                [(s, e) for s, e, _ in bad], plots.eeg_scale(x))  # fmt: skip
        st.pyplot(fig)
        plt.close(fig)
        caption = ("Bipolar montage, one channel per row, scale bar at top right; red band: "
                   "expert-marked seizure, orange bar: model detection.")
    if bad:
        kinds = sorted({k for _, _, k in bad})
        st.warning(f"Poor signal quality on screen ({', '.join(kinds)}): predictions here are "
                   "unreliable.", icon=":material/monitor_heart:")  # fmt: skip
    st.caption(caption)


def _pred_events(pred) -> list[tuple[float, float]]:
    if not len(pred):
        return []
    end, p = windows_view(pred)
    return [(a.time_s, a.end_s) for a in seizure_alerts(end, p, [], min_windows=1)]


def predictions_panel(replay: ReplaySession) -> None:
    """Current probabilities, running counts, alerts and the timeline."""
    rec, pred, loaded = replay.rec, replay.predictions, replay.loaded
    left, right = st.columns([1, 2.2])
    with left:
        st.markdown("#### Current decision")
        if not len(pred):
            st.info(f"Waiting for the first decision (the stream answers within "
                    f"{replay.latency_s:.0f} s of signal). Press Play.")  # fmt: skip
        else:
            proba = pred.proba[-1]
            when = pred.time_s[-1] if replay.task == "arrhythmia" else pred.end_s[-1]
            unit = "beat" if replay.task == "arrhythmia" else "window ending"
            st.markdown(f"Last {unit} at **{when:.1f} s**: "
                        f"**{loaded.classes[int(np.argmax(proba))]}**")  # fmt: skip
            if getattr(pred, "af", None) is not None:
                st.caption(_rhythm_caption(pred.af))
            st.dataframe(
                {"class": loaded.classes, "probability": [float(p) for p in proba]},
                column_config={"probability": st.column_config.ProgressColumn(
                    "probability", min_value=0.0, max_value=1.0, format="%.2f")},
                hide_index=True, width="stretch",
            )  # fmt: skip
        st.markdown("#### Alerts")
        alerts = _alerts(replay)
        if not alerts:
            st.success("No alert so far.", icon=":material/check_circle:")
        for a in alerts[-4:][::-1]:
            st.error(f"**{a.kind}** at {a.time_s:.1f} s: {a.detail}",
                     icon=":material/notifications_active:")
    with right:
        st.markdown("#### Timeline: model vs expert")
        if replay.task == "arrhythmia":
            ref = None
            if rec.beats is not None and len(rec.beats):
                keep = rec.beats.aami != ""
                t = rec.beats.sample[keep] / rec.fs
                upto = t <= decision_frontier(replay)
                ref = (t[upto], rec.beats.aami[keep][upto])
            fig = plots.beat_timeline((pred.time_s, pred.labels), ref, loaded.classes,
                                      decision_frontier(replay), af=pred.af)  # fmt: skip
        else:
            end, p = windows_view(pred)
            fig = plots.seizure_timeline(end, p, rec.seizures, replay.position_s)
        st.pyplot(fig)
        plt.close(fig)
        st.markdown("#### Running counts (beats decided so far)" if replay.task == "arrhythmia"
                    else "#### Running counts (windows decided so far)")
        counts = pred.counts() if len(pred) else {c: 0 for c in loaded.classes}
        row: dict[str, list[Any]] = {"": ["model"], **{c: [n] for c, n in counts.items()}}
        if replay.task == "arrhythmia" and rec.beats is not None and len(rec.beats):
            start = replay._start
            last = pred.sample[-1] if len(pred) else start - 1
            seen = (rec.beats.sample >= start) & (rec.beats.sample <= last)
            ref_counts = rec.beats.select(seen).counts()
            row[""].append("expert")
            for c in loaded.classes:
                row[c].append(ref_counts.get(c, 0))
        st.dataframe(row, hide_index=True, width="stretch")


def _rhythm_caption(af: np.ndarray) -> str:
    """What the AF gate says of the rhythm at the latest beat."""
    from cardioliquid.signal.rhythm import AF_WINDOW_BEATS

    if af[-1]:
        return (f"Rhythm: **AF-like** (irregular RR intervals over the last {AF_WINDOW_BEATS} "
                f"beats); supraventricular beats are reported as N: in AF an early beat "
                f"is not premature.")
    if len(af) <= AF_WINDOW_BEATS:
        return f"Rhythm: judged once {AF_WINDOW_BEATS} beats have been replayed."
    return f"Rhythm: not AF-like over the last {AF_WINDOW_BEATS} beats."


def _alerts(replay: ReplaySession):
    pred = replay.predictions
    if not len(pred):
        return []
    if replay.task == "arrhythmia":
        return ventricular_runs(pred.time_s, pred.labels)
    end, p = windows_view(pred)
    return seizure_alerts(end, p, replay.rec.seizures)


GAP_LOOKBACK = 30
"""Decisions the neuron panel walks back over to find one outside a signal gap."""


def _decision_input(replay: ReplaySession, i: int) -> tuple[np.ndarray, np.ndarray | None, float]:
    """Model input of decision ``i`` (window, features or None) and its time in seconds.

    Raises :class:`RecordingError` for a decision beside a signal gap (nothing to explain).
    """
    from cardioliquid.app.neurons import beat_input, window_input

    pred = replay.predictions
    if replay.task == "arrhythmia":
        x, f = beat_input(replay.rec, replay.loaded, int(pred.sample[i]), pred.sample)
        return x, f, float(pred.sample[i] / replay.rec.fs)
    x = window_input(replay.rec, replay.loaded, float(pred.start_s[i]))
    return x, None, float(pred.end_s[i])


def _explain_latest(replay: ReplaySession, method: str):
    from cardioliquid.app.neurons import explain_decision

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


def neurons_panel(replay: ReplaySession) -> None:
    """Heatmap of the liquid states, the neurons behind the decision, the wiring, the circuit."""
    from cardioliquid.explain import (
        active_circuit,
        concentration,
        neuron_adjacency,
        sensory_adjacency,
        stability,
    )

    st.markdown("### The neurons behind the latest decision")
    names = {"integrated_gradients": "integrated gradients",
             "grad_x_activation": "gradient × activation"}  # fmt: skip
    method = st.radio("Attribution", list(names), horizontal=True, key="attr_method",
                      format_func=names.__getitem__)
    try:
        view = _explain_latest(replay, method)
    except CardioLiquidError as e:
        _fail(st, "This model's neurons cannot be shown", e)
        return
    if view is None:
        st.info("The neuron view appears with the first decision.")
        return
    model = replay.loaded.model
    roles = view.trajectory.roles
    share = view.attribution.share[0]
    k = 3
    neurons, _ = active_circuit(share, neuron_adjacency(model, len(roles)), k)
    c1, c2, c3 = st.columns([1.15, 0.8, 1.05])
    with c1:
        st.markdown(f"**Liquid state of all {len(roles)} neurons** over the decided window "
                    f"({'beat' if replay.task == 'arrhythmia' else 'EEG window'} at "
                    f"{view.time_s:.1f} s, predicted **{view.label}**)")  # fmt: skip
        if view.reported is not None:
            st.caption(f"This beat lies in AF-like rhythm and is reported as "
                       f"**{view.reported}** (in atrial fibrillation an early beat is not "
                       f"premature); the neurons explain the network's own "
                       f"call, {view.label}.")  # fmt: skip
        fig = plots.neuron_heatmap(view.trajectory.states, roles, view.trajectory.step_s)
        st.pyplot(fig)
        plt.close(fig)
    with c2:
        st.markdown(f"**Top neurons for “{view.label}”** ({method.replace('_', ' ')})")
        top = view.attribution.top(5)
        st.dataframe(
            {"neuron": [f"n{i} ({'+' if v > 0 else '−'})" for i, _, v in top],
             "role": [roles[i] for i, _, _ in top], "share": [s for _, s, _ in top]},
            column_config={"share": st.column_config.ProgressColumn(
                "share", min_value=0.0, max_value=1.0, format="%.2f")},
            hide_index=True, width="stretch",
        )  # fmt: skip
        conc = concentration(share, k)
        memory = st.session_state.get("circuit_memory", {}).get(view.label, [])
        stab = stability(np.array(memory), k) if len(memory) > 1 else None
        st.metric(f"Top-{k} share (concentration)", f"{100 * conc.top_k_share:.0f} %",
                  help="Share of the attribution held by the 3 strongest neurons")  # fmt: skip
        st.metric("Effective neurons", f"{conc.effective_neurons:.1f} of {len(roles)}",
                  help="exp(entropy of the shares): 1 = one neuron decides, N = all equally")
        if stab is None:
            st.caption(f"Stability across “{view.label}” decisions: needs 2 or more.")
        else:
            st.metric(f"Stability over {stab.n_decisions} “{view.label}” decisions",
                      f"{100 * stab.top_k_jaccard:.0f} % same top-{k}",
                      help=f"Mean pairwise overlap of top-{k} sets; cosine similarity of "
                           f"attribution vectors {stab.cosine:.2f}")  # fmt: skip
    with c3:
        st.markdown("**Wiring** (sensory → inter → command → motor; active circuit in bold)")
        fig = plots.wiring_graph(roles, neuron_adjacency(model, len(roles)), share, neurons,
                                 sensory_adjacency(model))  # fmt: skip
        st.pyplot(fig)
        plt.close(fig)
    sanity_check(replay, method)
    st.caption(
        "(+) pushes towards the predicted class, (−) against it. "
        "Attribution of the predicted class's logit to each neuron's state trajectory: "
        "integrated gradients scale all states together from silenced to trained (shares of "
        "|attribution|, summing to 100 %). Wiring: synapses of the active neurons dark "
        "(red: inhibitory)."
    )


def sanity_check(replay: ReplaySession, method: str, n_beats: int = 12) -> None:
    """On demand: the model-randomisation test on the latest decisions of this replay."""
    from cardioliquid.explain import model_randomization_test

    key = (st.session_state.get("replay_key"), method)
    if st.button("Sanity-check these attributions (model randomisation, Adebayo et al. 2018)",
                 key="sanity", icon=":material/fact_check:"):  # fmt: skip
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
            x = np.stack([x for x, _, _ in inputs])
            f = None if inputs[0][1] is None else np.stack([f for _, f, _ in inputs])
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


def device_panel(replay: ReplaySession, choice: Choice) -> None:
    """The profile report of the running model and the latency measured live."""
    st.markdown("### Device: latency and energy on this machine")
    live = replay.latency_ms()
    c1, c2, c3 = st.columns(3)
    c1.metric("Live compute per decision (p50)",
              "—" if not live["n_chunks"] else f"{live['p50']:.2f} ms",
              help="Measured during this replay: preprocessing + model, per decision")  # fmt: skip
    rtf = replay.realtime_factor()
    c2.metric("Live speed", "—" if not np.isfinite(rtf) else f"{rtf:,.0f}× real time")
    c3.metric("Stream delay (worst case)", f"{replay.latency_s:.0f} s of signal",
              help="A decision waits for filter and RR context after its beat or window")
    if not st.toggle("Show the profile report (runs `cardioliquid profile` once per model)",
                     value=True, key="show_profile"):  # fmt: skip
        return
    try:
        untrained = choice.model_key.split(":", 1)[1] if choice.model_key.startswith(
            "untrained:") else ""  # fmt: skip
        report = cached_profile(choice.model_key, mtime(choice.model_key), untrained)
    except Exception as e:  # the profile is informative; the replay goes on without it
        _fail(st, f"Profile unavailable ({type(e).__name__})", e)
        return
    _profile_view(report)


def _fmt_figure(fig: Any, unit: str) -> tuple[str, str]:
    if isinstance(fig, dict):
        value = fig.get("value")
        method = str(fig.get("method", ""))
        text = "—" if value is None else f"{float(value):.3g} {unit}"
        return text, method
    return ("—" if fig is None else f"{fig} {unit}"), ""


def _number(value: Any, key: str = "value") -> float | None:
    if isinstance(value, dict):
        value = value.get(key)
    return float(value) if isinstance(value, int | float) else None


def _profile_view(report: dict[str, Any]) -> None:
    params = report.get("params")
    macs = report.get("macs_per_decision")
    lat = report.get("latency_ms") or {}
    c1, c2, c3, c4 = st.columns(4)
    eff, dense = _number(params, "effective"), _number(params, "dense")
    c1.metric("Parameters (real synapses)", "—" if eff is None else f"{eff:,.0f}",
              help=None if dense is None else f"{dense:,.0f} stored densely")  # fmt: skip
    m_eff, m_all = _number(macs, "effective"), _number(macs, "value")
    c2.metric("MACs per decision", "—" if m_eff is None else f"{m_eff:,.0f}",
              help=None if m_all is None else f"{m_all:,.0f} with the dense masks")  # fmt: skip
    p50, p95 = _number(lat, "p50"), _number(lat, "p95")
    c3.metric("Latency per decision (p50, batch 1)", "—" if p50 is None else f"{p50:.2f} ms",
              help=None if p95 is None else f"p95 {p95:.2f} ms")  # fmt: skip
    energy, method = _fmt_figure(report.get("energy_uj_per_decision"), "µJ")
    c4.metric("Energy per decision", energy, help=method)
    if method:
        st.caption(f"Energy method: {method}")
    device = report.get("device")
    if isinstance(device, dict):
        st.caption("Profiled on: " + ", ".join(f"{k} {v}" for k, v in device.items()
                                               if isinstance(v, str | int | float)))  # fmt: skip
    with st.expander("Full profile report (JSON, as `cardioliquid profile --json`)"):
        st.json(report, expanded=False)


# --------------------------------------------------------------------------- page
def live(choice: Choice) -> None:
    """Everything that moves with the replay; re-run every tick while playing."""
    replay = ensure_replay(choice)
    try:
        tick(replay)
    except CardioLiquidError as e:
        st.session_state.playing = False
        _fail(st, "The model cannot score this recording", e)
        return
    rec = replay.rec
    n = len(replay.predictions)
    unit = "beats" if replay.task == "arrhythmia" else "windows"
    state = ("playing" if st.session_state.get("playing") else
             ("finished" if replay.finished else "paused"))  # fmt: skip
    st.progress(min(replay.position_s / max(rec.duration_s, 1e-9), 1.0),
                text=f"{state} · {replay.position_s:,.1f} s of {rec.duration_s:,.0f} s · "
                     f"{n} {unit} classified")  # fmt: skip
    waveform(replay)
    predictions_panel(replay)
    st.divider()
    neurons_panel(replay)
    st.divider()
    device_panel(replay, choice)


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
    try:
        from cardioliquid.scoring.inference import check_fits

        check_fits(rec, loaded)
    except CardioLiquidError as e:
        st.title("CardioLiquid · clinic replay")
        _fail(st, f"Model {model_label!r} does not fit recording {rec.record_id!r}", e)
        return
    choice = Choice(rec, rec_key, loaded, model_key, model_label)
    header(choice)
    if lead_warning:
        st.warning(lead_warning, icon=":material/swap_vert:")
    try:
        ensure_replay(choice)
    except CardioLiquidError as e:
        _fail(st, "The model cannot score this recording", e)
        return
    replay_controls(choice)
    every = TICK_S if st.session_state.get("playing") else None
    st.fragment(run_every=every)(live)(choice)
