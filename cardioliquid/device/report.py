"""The profile report: one dataclass, its JSON form and a readable table."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardioliquid._atomic import atomic_write_text

SCHEMA_VERSION = 1


@dataclass
class ProfileReport:
    """Size, speed and energy of one model on one device.

    Every energy and power figure is a dict ``{"value", "method", ...}``
    whose ``method`` starts with ``measured:``, ``estimated:`` or
    ``projection:``. See :meth:`to_dict` for the JSON layout.

    Attributes
    ----------
    model : dict
        Name, task, registry name, path, signal contract.
    params : dict
        ``dense``, ``effective`` (synapses the sparse wiring really has), ``masked``.
    bytes : dict
        ``file`` (the checkpoint on disk, if any), ``safetensors`` (serialised state).
    macs_per_decision : dict
        ``value`` (the analytic count), ``flop_counter`` (FlopCounterMode),
        ``analytic``, ``counters_agree``, ``effective`` (only the synapses the
        wiring has), ``elementwise_ops``, ``transcendental_ops``, ``by_op`` (MACs
        per ATen op, FlopCounterMode's FLOPs halved), ``by_module``,
        ``model_reported`` (the model's ``complexity()`` for one forward, with its
        ``scope``) and ``leads`` (forwards per decision: the leads a model fuses).
    macs_per_step : dict or None
        The same for one streaming step of the liquid core; None without one.
    latency_ms : dict
        ``p50``, ``p95``, ``p99``, ``mean``, ``min``, ``n`` for one decision
        (batch 1) and ``per_step`` for one streaming step.
    throughput_per_s : dict
        ``value`` (decisions per second) and ``batch``.
    realtime_factor : float
        Signal seconds processed per compute second in a live stream.
    realtime : dict
        How ``realtime_factor`` was obtained, and the per-step figure.
    peak_memory_mb : float
        Peak memory of one decision (see ``peak_memory``).
    peak_memory : dict
        ``method`` and ``increase_mb`` behind ``peak_memory_mb``.
    energy_uj_per_decision : dict
        The headline figure ``{value, method}``: measured when a counter is
        readable, else the operation-count estimate.
    power_mw : dict
        Average power ``{value, method}``.
    energy_estimates : list of dict
        Every measurement, estimate and projection, each with its method.
    unavailable : list of str
        Measurements that could not be made, and why.
    targets : list of dict
        Project targets and published anchors, each with ``met``.
    device : dict
        CPU model / GPU name, threads, torch version.
    """

    model: dict[str, Any]
    params: dict[str, Any]
    bytes: dict[str, Any]
    macs_per_decision: dict[str, Any]
    macs_per_step: dict[str, Any] | None
    latency_ms: dict[str, Any]
    throughput_per_s: dict[str, Any]
    realtime_factor: float
    realtime: dict[str, Any]
    peak_memory_mb: float
    peak_memory: dict[str, Any]
    energy_uj_per_decision: dict[str, Any]
    power_mw: dict[str, Any]
    energy_estimates: list[dict[str, Any]] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)
    targets: list[dict[str, Any]] = field(default_factory=list)
    device: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (every value is a str, number, bool, None, list or dict)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "model": self.model,
            "params": self.params,
            "bytes": self.bytes,
            "macs_per_decision": self.macs_per_decision,
            "macs_per_step": self.macs_per_step,
            "latency_ms": self.latency_ms,
            "throughput_per_s": self.throughput_per_s,
            "realtime_factor": self.realtime_factor,
            "realtime": self.realtime,
            "peak_memory_mb": self.peak_memory_mb,
            "peak_memory": self.peak_memory,
            "energy_uj_per_decision": self.energy_uj_per_decision,
            "power_mw": self.power_mw,
            "energy_estimates": self.energy_estimates,
            "unavailable": self.unavailable,
            "targets": self.targets,
            "device": self.device,
        }

    def write_json(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_dict` as JSON (temporary name, then renamed)."""
        return atomic_write_text(path, json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")

    def to_table(self) -> str:
        """A readable plain-text table (what ``cardioliquid profile`` prints)."""
        return format_table(self.to_dict())


def _fmt(x: float | None, unit: str = "", digits: int = 4) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, int) or (abs(x) >= 1e4 and float(x).is_integer()):
        return f"{int(x):,}{unit}"
    return f"{x:.{digits}g}{unit}"


def format_table(d: dict[str, Any]) -> str:
    """Render a report dict (from :meth:`ProfileReport.to_dict`) as text."""
    m, dev = d["model"], d["device"]
    lat, step = d["latency_ms"], d["latency_ms"].get("per_step")
    macs, smacs = d["macs_per_decision"], d["macs_per_step"]
    rows: list[tuple[str, str]] = [
        ("model", f"{m.get('name')} ({m.get('model_name')}, task {m.get('task')})"),
        ("input per decision", m.get("input", "")),
        ("device", f"{dev.get('name')} | {dev.get('threads')} thread(s) | "
                   f"torch {dev.get('torch')}"),
        ("parameters (dense / wired)", f"{_fmt(d['params']['dense'])} / "
                                       f"{_fmt(d['params']['effective'])}"),
        ("bytes (file / safetensors)", f"{_fmt(d['bytes'].get('file'))} / "
                                       f"{_fmt(d['bytes']['safetensors'])}"),
        ("MACs/decision (counter / analytic / wired)",
         f"{_fmt(macs['flop_counter'])} / {_fmt(macs['analytic'])} / {_fmt(macs['effective'])}"),
        ("element-wise / exp-tanh ops/decision",
         f"{_fmt(macs['elementwise_ops'])} / {_fmt(macs['transcendental_ops'])}"),
    ]  # fmt: skip
    if not macs.get("counters_agree", True):
        rows.append(("  note", macs["note"]))
    if macs.get("leads", 1) > 1:
        rows.append(("  leads fused", f"{macs['leads']}: the network runs once per lead, and "
                                      "every per-decision figure counts all of them"))
    if smacs:
        rows.append(
            (
                "MACs/step (counter / analytic / wired)",
                f"{_fmt(smacs['flop_counter'])} / {_fmt(smacs['analytic'])} / "
                f"{_fmt(smacs['effective'])}",
            )
        )
        seq = smacs.get("in_sequence")
        if seq and smacs.get("steps_per_decision", 1) > 1:
            rows.append(("  in a decision's sequence",
                         f"{_fmt(seq['per_step'])} a step + {_fmt(seq['once'])} once = "
                         f"{_fmt(seq['per_decision'])} for {smacs['steps_per_decision']} steps "
                         "(input projections batched; the step above runs alone, as a "
                         "stream does)"))  # fmt: skip
    rows.append(
        (
            "latency/decision p50 / p95 / p99",
            f"{_fmt(lat['p50'])} / {_fmt(lat['p95'])} / {_fmt(lat['p99'])} ms (n={lat['n']})",
        )
    )
    if step:
        rows.append(
            (
                "latency/step p50 / p95 / p99",
                f"{_fmt(step['p50'])} / {_fmt(step['p95'])} / {_fmt(step['p99'])} ms "
                f"(n={step['n']})",
            )
        )
    tp = d["throughput_per_s"]
    rows += [
        ("throughput", f"{_fmt(tp['value'], digits=5)} decisions/s at batch {tp['batch']}"),
        ("real-time factor", f"{_fmt(d['realtime_factor'])}x ({d['realtime']['method']})"),
        ("peak memory", f"{_fmt(d['peak_memory_mb'])} MiB ({d['peak_memory']['method']}; "
                        f"+{_fmt(d['peak_memory'].get('increase_mb'))} MiB for one decision, "
                        f"+{_fmt(d['peak_memory'].get('batch_increase_mb'))} MiB at batch "
                        f"{d['peak_memory'].get('batch')})"),
        ("weights + buffers", f"{_fmt(d['peak_memory'].get('weights_and_buffers_kb'))} KiB"),
        ("ENERGY/decision", f"{_fmt(d['energy_uj_per_decision']['value'])} µJ"),
        ("  method", d["energy_uj_per_decision"]["method"]),
        ("POWER", f"{_fmt(d['power_mw']['value'])} mW"),
        ("  method", d["power_mw"]["method"]),
    ]  # fmt: skip
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    lines.append("")
    lines.append("Energy per decision, every method:")
    for e in d["energy_estimates"]:
        extra = f", {_fmt(e['latency_ms'])} ms" if e.get("latency_ms") is not None else ""
        extra += f", {_fmt(e['power_mw'])} mW" if e.get("power_mw") is not None else ""
        lines.append(f"  {_fmt(e['value_uj']):>10} µJ  [{e['kind']}] {e['target']}{extra}")
        lines.append(f"{'':>16}{e['method']}")
    for why in d["unavailable"]:
        lines.append(f"  not measured: {why}")
    if d["targets"]:
        lines.append("")
        lines.append("Targets and anchors:")
        for t in d["targets"]:
            mark = "PASS" if t["met"] else "MISS"
            lines.append(
                f"  [{mark}] {t['name']}: {_fmt(t['value'])} {t['unit']} "
                f"vs {_fmt(t['threshold'])} {t['unit']} ({t['basis']})"
            )
    return "\n".join(lines)
