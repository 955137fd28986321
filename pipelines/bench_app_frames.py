"""Benchmark the clinic replay's frames: milliseconds per frame, panel by panel.

    CARDIOLIQUID_DATA_MIRROR=../shared/data .venv/bin/python pipelines/bench_app_frames.py \
        [--record 232] [--frames 40] [--json pipelines/results/bench_app_frames.json]

Replays an MIT-BIH record with the shipped ``arrhythmia`` model from 5 minutes
in, at 1× (0.5 s of signal per frame, the app's frame interval) and 25×
(12.5 s per frame), and times what the live fragment does each frame: the
stream, the agreement with the expert, the rhythm reading, the trace and the
timeline (Vega-Lite spec built and converted to Arrow as ``st.vega_lite_chart``
does), the event list and the model card's limits. The on-demand panels
(integrated gradients over neurons and input, the heatmap, the wiring graph)
are timed on their own. Then the page itself runs under Streamlit's AppTest
and the live fragment's own frame time is read back (``frame_ms``), which
includes Streamlit's element marshalling. Warm-up frames are dropped; p50 and
p95 are reported with the run's conditions. A table goes to stdout and the
numbers to JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "pipelines" / "results" / "bench_app_frames.json"
SPEEDS = {"1×": 0.5, "25×": 12.5}
"""Signal seconds per frame at each speed (the app's frame interval is 0.5 s)."""
WARMUP = 3


def _mirror(arg: str | None) -> Path:
    for cand in (arg, os.environ.get("CARDIOLIQUID_DATA_MIRROR"), "/work/shared/data",
                 str(REPO.parent / "shared" / "data")):  # fmt: skip
        if cand and (Path(cand) / "mitdb").is_dir():
            return Path(cand)
    sys.exit("bench_app_frames: no data mirror (pass --mirror or set CARDIOLIQUID_DATA_MIRROR)")


def _stats(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms, dtype=float)
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
            "mean": float(a.mean()), "n": int(a.size)}  # fmt: skip


def _marshal(spec: dict) -> None:
    """What ``st.vega_lite_chart`` does with a spec: its datasets to Arrow, the rest to JSON."""
    from streamlit.elements.vega_charts import _marshall_chart_data
    from streamlit.proto.VegaLiteChart_pb2 import VegaLiteChart

    spec = dict(spec)
    _marshall_chart_data(VegaLiteChart(), spec)
    json.dumps(spec)


def panel_frames(rec, loaded, start_s: float, step_s: float, frames: int) -> dict[str, Any]:
    """Time each live panel's work per frame, as the live fragment does it."""
    from cardioliquid.app import charts
    from cardioliquid.app.agreement import af_specific_flags, rhythm_reading, running_agreement
    from cardioliquid.app.card import card_limits
    from cardioliquid.app.events import event_kinds, event_table
    from cardioliquid.app.replay import ReplaySession
    from cardioliquid.decision.alerts import ventricular_runs
    from cardioliquid.signal.leads import select_lead

    replay = ReplaySession(rec, loaded)
    replay.seek(start_s)
    keep = rec.beats.aami != ""
    ref_s, ref_l = rec.beats.sample[keep], rec.beats.aami[keep]
    own = select_lead(rec, loaded.preprocessing.lead_preference)
    times: dict[str, list[float]] = {}

    @contextlib.contextmanager
    def timed(name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        yield
        times.setdefault(name, []).append(1e3 * (time.perf_counter() - t0))

    for _ in range(frames + WARMUP):
        with timed("stream (advance)"):
            replay.advance(step_s)
        pred = replay.predictions
        with timed("agreement with the expert"):
            agr = running_agreement(pred.sample, pred.labels, ref_s, ref_l, rec.fs,
                                    loaded.classes, replay.decision_frontier(),
                                    replay.scored_spans_s)  # fmt: skip
        if pred.af is not None:  # as on the page: only an AF-gated model has a rhythm reading
            with timed("rhythm reading"):
                rhythm_reading(pred.af, pred.labels, pred.time_s)
                af_specific_flags(pred.af, pred.labels, pred.time_s)
        span = max(20.0, replay.latency_s + 3.0, step_s)
        t1 = replay.position_s
        t0 = max(0.0, t1 - span)
        a, b = int(t0 * rec.fs), int(t1 * rec.fs)
        with timed("trace, every lead (spec + Arrow)"):
            leads = {n: rec.signal[rec.channel_names.index(n), a:b]
                     for n in [own] + [n for n in rec.channel_names if n != own]}  # fmt: skip
            _marshal(charts.ecg_trace(leads, rec.fs, t0, (t0, t1), 10.0,
                                      (ref_s / rec.fs, ref_l), (pred.time_s, pred.labels),
                                      agr.disagree_s, (replay.decision_frontier(), t1)))
        with timed("timeline (spec + Arrow)"):
            _marshal(charts.beat_timeline((pred.time_s, pred.labels), (ref_s / rec.fs, ref_l),
                                          loaded.classes, (max(0.0, t1 - 180.0), t1),
                                          agr.disagree_s, pred.af, None, t1))  # fmt: skip
        with timed("event list"):
            event_kinds(event_table((ref_s / rec.fs, ref_l), (pred.time_s, pred.labels),
                                    (agr.disagree_s, agr.disagree_expert, agr.disagree_model),
                                    ventricular_runs(pred.time_s, pred.labels)))  # fmt: skip
        with timed("model card limits"):
            card_limits(loaded.path, loaded.task, True)
    per = {k: v[WARMUP:] for k, v in times.items()}
    total = np.sum([v for v in per.values()], axis=0).tolist()
    return {"panels": {k: _stats(v) for k, v in per.items()}, "sum": _stats(total),
            "position_s": replay.position_s}  # fmt: skip


def on_demand(rec, loaded, repeats: int = 5) -> dict[str, Any]:
    """The panels the page computes only when asked: explanations and their figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cardioliquid.app import plots
    from cardioliquid.app.neurons import beat_decision, explain_decision, input_attribution
    from cardioliquid.explain import active_circuit, neuron_adjacency, sensory_adjacency
    from cardioliquid.scoring.stream import BeatStream

    sample = rec.beats.sample[rec.beats.aami != ""]
    # The replay the page has run (untimed): a stream given the .atr beats, keeping its state
    # before each segment, where v10's embedding reference at an explained run's start is read.
    stream = BeatStream(loaded, rec, beats="reference")
    stream.push(rec.signal, sample)
    stream.finish()
    out: dict[str, list[float]] = {}
    for k in range(repeats + 1):
        s = int(sample[400 + 10 * k])
        t0 = time.perf_counter()
        x, f, decided_by = beat_decision(rec, loaded, s, reference=sample,
                                         segment_states=stream.segment_states)
        view = explain_decision(decided_by, x, f, s / rec.fs)
        input_attribution(decided_by, x, f)
        t1 = time.perf_counter()
        fig = plots.neuron_heatmap(view.trajectory.states, view.trajectory.roles,
                                   view.trajectory.step_s)  # fmt: skip
        fig.savefig(os.devnull, format="png")
        plt.close(fig)
        t2 = time.perf_counter()
        roles = view.trajectory.roles
        share = view.attribution.share[0]
        adj = neuron_adjacency(loaded.model, len(roles))
        act, _ = active_circuit(share, adj, 3)
        fig = plots.wiring_graph(roles, adj, share, act, sensory_adjacency(loaded.model))
        fig.savefig(os.devnull, format="png")
        plt.close(fig)
        t3 = time.perf_counter()
        if k == 0:
            continue  # warm-up
        for name, ms in (("integrated gradients (neurons + input)", t1 - t0),
                         ("neuron heatmap (matplotlib PNG)", t2 - t1),
                         ("wiring graph (matplotlib PNG)", t3 - t2)):  # fmt: skip
            out.setdefault(name, []).append(1e3 * ms)
    return {k: _stats(v) for k, v in out.items()}


def apptest_frames(mirror: Path, record: str, speed: str, frames: int) -> dict[str, Any]:
    """The page under AppTest: the live fragment's own time per frame (``frame_ms``)."""
    from streamlit.testing.v1 import AppTest

    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "mitdb"
        dest.mkdir()
        for ext in ("hea", "dat", "atr"):
            source = Path(mirror, "mitdb", f"{record}.{ext}").resolve()
            (dest / f"{record}.{ext}").symlink_to(source)
        os.environ["CARDIOLIQUID_DATA_DIR"] = tmp
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=600)
        at.query_params["record"] = f"mitdb/{record}.hea"
        at.run()
        next(s for s in at.slider if s.label == "Position (s)").set_value(300.0).run()
        at.radio(key="speed").set_value(speed)
        at.button(key="play").click().run()
        ms, wall = [], []
        for _ in range(frames + WARMUP):
            t0 = time.perf_counter()
            at.run()
            wall.append(1e3 * (time.perf_counter() - t0))
            ms.append(float(at.session_state["frame_ms"]))
            if at.exception:
                raise RuntimeError(str(at.exception))
        return {"live_fragment": _stats(ms[WARMUP:]), "whole_page_rerun": _stats(wall[WARMUP:])}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mirror", default=None)
    p.add_argument("--record", default="232")
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--apptest-frames", type=int, default=15)
    p.add_argument("--json", default=str(DEFAULT_OUT))
    a = p.parse_args()
    import torch

    from cardioliquid.io import load_recording
    from cardioliquid.models.checkpoint import load_model

    torch.set_num_threads(1)
    mirror = _mirror(a.mirror)
    rec = load_recording(mirror / "mitdb" / f"{a.record}.hea")
    loaded = load_model("arrhythmia")
    result: dict[str, Any] = {
        "record": a.record, "model": "arrhythmia", "start_s": 300.0,
        "frame_interval_s": 0.5, "speeds": {},
        "conditions": {"python": platform.python_version(), "torch": torch.__version__,
                       "threads": 1, "cpu": platform.processor() or platform.machine(),
                       "logical_cpus": os.cpu_count(), "load_avg": os.getloadavg(),
                       "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
    }  # fmt: skip
    for speed, step in SPEEDS.items():
        frames = panel_frames(rec, loaded, 300.0, step, a.frames)
        frames["apptest"] = apptest_frames(mirror, a.record, speed, a.apptest_frames)
        result["speeds"][speed] = frames
    result["on_demand"] = on_demand(rec, loaded)
    print(f"Clinic replay frames, record {a.record}, arrhythmia model, from 300 s "
          f"({result['conditions']['logical_cpus']} logical CPUs, load "
          f"{result['conditions']['load_avg'][0]:.1f}); ms per frame, p50 / p95")
    print(f"| panel | {' | '.join(SPEEDS)} |")
    print("|---|" + "---|" * len(SPEEDS))
    names = list(result["speeds"]["1×"]["panels"])
    for name in names:
        cells = [result["speeds"][s]["panels"][name] for s in SPEEDS]
        print(f"| {name} | " + " | ".join(f"{c['p50']:.1f} / {c['p95']:.1f}" for c in cells) + " |")
    for label, key in (("sum of the panels", "sum"),):
        cells = [result["speeds"][s][key] for s in SPEEDS]
        print(f"| **{label}** | " + " | ".join(f"{c['p50']:.1f} / {c['p95']:.1f}" for c in cells)
              + " |")  # fmt: skip
    for label, key in (("**live fragment, in the page (AppTest)**", "live_fragment"),
                       ("whole page rerun (AppTest; not per frame)", "whole_page_rerun")):
        cells = [result["speeds"][s]["apptest"][key] for s in SPEEDS]
        print(f"| {label} | " + " | ".join(f"{c['p50']:.1f} / {c['p95']:.1f}" for c in cells)
              + " |")  # fmt: skip
    print("\nOn demand (once per click), ms p50 / p95:")
    for name, c in result["on_demand"].items():
        print(f"| {name} | {c['p50']:.1f} / {c['p95']:.1f} |")
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(result, indent=1) + "\n")
    print(f"\nwrote {a.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
