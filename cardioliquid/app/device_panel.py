"""The device panel: what this machine does with the model, and the three delays told apart.

Model latency (profiled), live compute per decision (this replay) and the
stream's delay (signal it waits for); energy figures are labelled as this
machine's estimate, microcontroller projections or lower bounds. The profile
is ``cardioliquid profile``'s, run once per model
(:func:`~cardioliquid.app.state.cached_profile`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from cardioliquid.app.choosing import Choice, show_failure
from cardioliquid.app.state import cached_profile, mtime


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
        show_failure(st, f"Profile unavailable ({type(e).__name__})", e)
        return
    _profile_view(report)


def _number(value: Any, key: str = "value") -> float | None:
    if isinstance(value, dict):
        value = value.get(key)
    return float(value) if isinstance(value, int | float) else None
