"""The neurons behind a decision: the on-demand explanation panel and its sanity check.

The work (the decision's input, the liquid states, the attributions) is done
without Streamlit in :mod:`cardioliquid.app.neurons`; this panel draws it and
keeps what it explained in ``st.session_state``, where the strip reads the
input attribution (``explained_input``) to draw it in orange.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from cardioliquid.app import charts
from cardioliquid.app.choosing import Choice, partner_leads, show_failure
from cardioliquid.app.neurons import (
    beat_decision,
    explain_decision,
    input_attribution,
    reported_call,
    stack_inputs,
    strongest_neurons,
    window_input,
)
from cardioliquid.app.replay import ReplaySession
from cardioliquid.errors import CardioLiquidError, RecordingError
from cardioliquid.explain import (
    active_circuit,
    concentration,
    model_randomization_test,
    neuron_adjacency,
    sensory_adjacency,
    stability,
)
from cardioliquid.explain.states import is_beat_sequence
from cardioliquid.signal.leads import select_lead

if TYPE_CHECKING:
    from cardioliquid.models.checkpoint import LoadedModel

STABILITY_MEMORY = 30
"""Decisions per class kept to measure circuit stability."""
GAP_LOOKBACK = 30
"""Decisions the neuron panel walks back over to find one outside a signal gap."""


def _decision_input(replay: ReplaySession, i: int
                    ) -> tuple[np.ndarray, np.ndarray | None, float, LoadedModel]:
    """Model input of decision ``i`` (window, features or None), its time in seconds, and the
    model as it decided it (for a beat model that reads the patient's earlier beats, started
    from the reference its stream had; :func:`~cardioliquid.app.neurons.beat_decision`).

    Raises :class:`RecordingError` for a decision beside a signal gap (nothing to explain).
    """
    pred = replay.predictions
    if replay.task == "arrhythmia":
        origin = replay.stream_of(int(pred.sample[i]))
        x, f, decided_by = beat_decision(replay.rec, replay.loaded, int(pred.sample[i]),
                                         origin.start, origin.reference,
                                         origin.segment_states, origin.history)
        return x, f, float(pred.sample[i] / replay.rec.fs), decided_by
    x = window_input(replay.rec, replay.loaded, float(pred.start_s[i]))
    return x, None, float(pred.end_s[i]), replay.loaded


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
            x, f, time_s, decided_by = _decision_input(replay, i)
        except RecordingError as e:
            first_error = first_error or e
            continue
        view = explain_decision(decided_by, x, f, time_s, method)
        _remember_input_attribution(replay, decided_by, x, f, time_s, view.label)
        reported, rule = reported_call(pred, i, replay.loaded)
        if reported != view.label:  # the AF gate, or the seizure alert rule, decided otherwise
            view = replace(view, reported=reported, rule=rule)
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


def _stacked_model(replay: ReplaySession, inputs: list, run_beats: int):  # -> nn.Module
    """The model for stacked decisions: with an embedding reference, each row starts from
    its own decision's reference.

    Stacking cuts every run to the shortest (``run_beats``); a cut run's reference is
    carried over the beats cut away, so each row still starts where its stream was.
    """
    import torch

    model = replay.loaded.model
    if not getattr(model, "embedding_reference", 0):
        return model
    # Each run's own start, carried over the beats stacking drops from its front.
    starts = [model.reference_after(torch.as_tensor(x[:len(x) - run_beats], dtype=torch.float32),
                                    start=decided_by.model.start_reference)
              for x, _, _, decided_by in inputs]  # fmt: skip
    return model.starting_from(torch.cat([m for m, _ in starts]),
                               torch.cat([c for _, c in starts]))


def _remember_input_attribution(replay: ReplaySession, loaded: LoadedModel, x: np.ndarray,
                                f: np.ndarray | None, time_s: float, label: str) -> None:
    """Integrated gradients over the explained beat's input, placed on the trace's time axis."""
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
        show_failure(st, "This model's neurons cannot be shown", e)
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
    partners = partner_leads(replay) if replay.task == "arrhythmia" else []
    if partners:
        own = select_lead(replay.rec, replay.loaded.preprocessing.lead_preference)
        st.caption(f"The model averages its calls on {own} and {' and '.join(partners)}; the "
                   f"neurons explain its run on {own}, which alone calls this beat "
                   f"{view.label}.")  # fmt: skip
    if view.reported is not None:
        if view.rule is not None:
            why = view.rule
        elif partners:
            why = f"averaged with {' and '.join(partners)}, then the AF gate"
        else:
            why = "the AF gate: this beat lies in irregular rhythm"
        st.caption(f"This {what} is reported as **{view.reported}** ({why}); the neurons "
                   f"explain the network's own call on it, {view.label}.")  # fmt: skip
    explained = st.session_state.get("explained_input")
    if explained and len(explained) > 4:
        # the shares are over the model's input channels, which need not be the file's first
        read = replay.loaded.preprocessing.channels or replay.rec.channel_names
        chans = charts.display_names(list(read)[: len(explained[4])])
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
            x, f = stack_inputs([(x, f) for x, f, _, _ in inputs])
            result = model_randomization_test(_stacked_model(replay, inputs, len(x[0])), x, f,
                                              method=method, steps=8)
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
