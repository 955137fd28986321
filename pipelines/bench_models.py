"""Benchmark the liquid cells: our CfC and LTC against ncps and LSTM/GRU, on CPU.

Same wiring for ours and ncps (``AutoNCP(units, motor)`` over ``input``
features), LSTM/GRU with the same number of units (and an LSTM of twice as
many, the peer the issue quoted), and the peers at the CfC's size: a GRU and a
causal 1-D CNN (``CausalConvSequence``, the rhythm model's CNN peer; its
streaming step is one pass over one step with the input buffer carried) with
parameters within 5 % of the CfC's. Our CfC is measured twice: as it runs
(CPU inference through the fused kernel of :mod:`cardioliquid.models.kernels`)
and with the TorchScript scan it replaces. Measured in one run, one model after the
other, with warm-up and repetitions:

- ``infer_ms``: forward of a (batch, steps, input) sequence without autograd;
- ``train_ms``: forward + loss + backward of the same sequence;
- ``stream_us``: one streaming step at batch 1 (our ``step``, ncps's cell,
  ``nn.LSTMCell``/``nn.GRUCell``), inference.

    python pipelines/bench_models.py [--threads 2] [--batch 64] [--steps 256]

Prints a table of medians and ratios and writes
``pipelines/results/bench_models.json`` (per model: params, infer_ms,
train_ms, stream_us with p10/p90, speed-up vs ncps and time ratio vs the LSTM
of equal units; plus the run's conditions). Timings are wall-clock: run it on
a quiet machine; on a busy one, ``--threads 1 --clock cpu`` measures process
CPU time, which time-slicing by other jobs does not inflate.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from cardioliquid.device.profile import cpu_name
from cardioliquid.models import kernels
from cardioliquid.models.cfc import CfC
from cardioliquid.models.ltc import LTC
from cardioliquid.models.rhythm import CausalConvSequence
from cardioliquid.models.wiring import auto_ncp

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "pipelines" / "results" / "bench_models.json"


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
_clock = time.perf_counter


def _time(fn: Callable[[], Any], warmup: int, reps: int, budget_s: float) -> dict[str, float]:
    """Run ``fn`` ``warmup`` times, then up to ``reps`` times within ``budget_s``; ms stats."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < reps and (len(times) < 3 or time.perf_counter() - start < budget_s):
        t = _clock()
        fn()
        times.append((_clock() - t) * 1000)
    q = statistics.quantiles(times, n=10) if len(times) > 1 else times * 9
    return {"median": statistics.median(times), "p10": q[0], "p90": q[-1], "n": len(times)}


class _SeqModel:
    """Uniform handles: sequence forward, one streaming step."""

    def __init__(self, name: str, module: nn.Module, step: Callable[[], Any]) -> None:
        self.name, self.module, self.step = name, module, step

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)[0]


class _Unfused(_SeqModel):
    """The same CfC without the fused CPU kernel: what the kernel is worth."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with kernels.disabled():
            return self.module(x)[0]


def _models(n_in: int, units: int, motor: int, unfolds: int) -> list[_SeqModel]:
    import ncps.torch as nt


    x1 = torch.randn(1, n_in)
    out: list[_SeqModel] = []

    ours_cfc = CfC(n_in, auto_ncp(units, motor))
    h = ours_cfc.initial_state(1)
    out.append(_SeqModel("cfc (ours)", ours_cfc, lambda: ours_cfc.step(x1, h)))
    out.append(_Unfused("cfc (ours, TorchScript scan)", ours_cfc, lambda: ours_cfc.step(x1, h)))
    ref_cfc = nt.CfC(n_in, auto_ncp(units, motor).to_ncps())
    out.append(_SeqModel("cfc (ncps)", ref_cfc, lambda: ref_cfc.rnn_cell(x1, h, 1.0)))

    ours_ltc = LTC(n_in, auto_ncp(units, motor), ode_unfolds=unfolds)
    out.append(_SeqModel("ltc (ours)", ours_ltc, lambda: ours_ltc.step(x1, h)))
    ref_ltc = nt.LTC(n_in, auto_ncp(units, motor).to_ncps(), ode_unfolds=unfolds)
    out.append(_SeqModel("ltc (ncps)", ref_ltc, lambda: ref_ltc.rnn_cell(x1, h, 1.0)))

    n_cfc = sum(p.numel() for p in ours_cfc.parameters())
    gru_same = _same_size(n_cfc, lambda h: sum(p.numel() for p in nn.GRU(n_in, h).parameters()))
    for cls, cell_cls, hidden in ((nn.LSTM, nn.LSTMCell, units), (nn.GRU, nn.GRUCell, units),
                                  (nn.LSTM, nn.LSTMCell, 2 * units),
                                  (nn.GRU, nn.GRUCell, gru_same)):
        rnn = cls(n_in, hidden, batch_first=True)
        cell = cell_cls(n_in, hidden)
        name = f"{cls.__name__.lower()}-{hidden}"
        if hidden == gru_same:
            name += " (CfC's size)"
        out.append(_SeqModel(name, rnn, lambda cell=cell: cell(x1)))
    channels = _same_size(n_cfc, lambda c: sum(
        p.numel() for p in CausalConvSequence(n_in, c, 3, [1, 2, 4, 8]).parameters()))
    cnn = CausalConvSequence(n_in, channels, 3, [1, 2, 4, 8])
    buf = torch.zeros(1, cnn.hx_size)
    x1_seq = x1.unsqueeze(1)
    out.append(_SeqModel(f"cnn-{channels} (CfC's size)", cnn, lambda: cnn(x1_seq, buf)))
    return out


def _same_size(target: int, params_of: Callable[[int], int]) -> int:
    """The width whose parameter count is nearest ``target``."""
    return min(range(2, 257), key=lambda w: abs(params_of(w) - target))


def run(args: argparse.Namespace) -> dict[str, Any]:
    global _clock
    if args.clock == "cpu" and args.threads != 1:
        sys.exit("bench_models: --clock cpu sums the CPU time of all threads; use --threads 1")
    _clock = CLOCKS[args.clock]
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    n_in, units, motor = args.input, args.units, args.motor
    x = torch.randn(args.batch, args.steps, n_in)
    results: dict[str, dict[str, Any]] = {}
    for m in _models(n_in, units, motor, args.unfolds):
        slow = "ncps" in m.name
        reps = max(2, args.reps // 4) if slow else args.reps
        trainable = [p for p in m.module.parameters() if p.requires_grad]
        params = sum(p.numel() for p in trainable)
        nonzero = sum(int(torch.count_nonzero(p)) for p in trainable)

        def infer(m=m):
            with torch.no_grad():
                m.forward(x)

        def train(m=m):
            m.module.zero_grad(set_to_none=True)
            m.forward(x).square().mean().backward()

        def stream(m=m):
            with torch.no_grad():
                for _ in range(100):
                    m.step()

        # Two warm-ups: TorchScript optimises a function on its first calls.
        r = {"params": params, "nonzero_params": nonzero,
             "infer": _time(infer, 1 if slow else 2, reps, args.budget_s),
             "train": _time(train, 1 if slow else 2, reps, args.budget_s * (3 if slow else 1)),
             "stream": _time(stream, 2, args.reps, args.budget_s)}
        r["stream"] = {k: (v * 10 if k != "n" else v) for k, v in r["stream"].items()}  # µs/step
        results[m.name] = r
        print(f"  measured {m.name}", file=sys.stderr, flush=True)
    lstm = results[f"lstm-{units}"]
    out: dict[str, Any] = {}
    for name, r in results.items():
        row = {"params": r["params"], "nonzero_params": r["nonzero_params"],
               "infer_ms": r["infer"]["median"],
               "train_ms": r["train"]["median"], "stream_us": r["stream"]["median"],
               "infer_ms_p10_p90": [r["infer"]["p10"], r["infer"]["p90"]],
               "train_ms_p10_p90": [r["train"]["p10"], r["train"]["p90"]],
               "stream_us_p10_p90": [r["stream"]["p10"], r["stream"]["p90"]],
               "reps": [r["infer"]["n"], r["train"]["n"], r["stream"]["n"]]}
        for key in ("infer", "train", "stream"):
            row[f"{key}_vs_lstm"] = r[key]["median"] / lstm[key]["median"]
        ref = results.get(name.replace("(ours)", "(ncps)")) if "(ours)" in name else None
        if ref is not None:
            for key in ("infer", "train", "stream"):
                row[f"{key}_speedup_vs_ncps"] = ref[key]["median"] / r[key]["median"]
        out[name] = row
    return {
        "models": out,
        "conditions": {
            "torch": torch.__version__, "threads": args.threads, "clock": args.clock,
            "fused_cfc_kernel": kernels.cfc_kernel() is not None,
            "cpu": cpu_name(),
            "cpu_count": os.cpu_count(), "loadavg_at_end": list(os.getloadavg()),
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "batch": args.batch, "steps": args.steps, "input": n_in,
            "wiring": f"AutoNCP({units}, {motor}), sparsity 0.5", "ltc_ode_unfolds": args.unfolds,
            "command": "python pipelines/bench_models.py " + " ".join(sys.argv[1:]),
        },
    }


def table(res: dict[str, Any]) -> str:
    """Markdown table of medians and ratios."""
    c = res["conditions"]
    lines = [
        f"batch {c['batch']} x {c['steps']} steps x {c['input']} inputs, {c['wiring']}, "
        f"torch {c['torch']}, {c['threads']} thread(s), {c['clock']} clock, {c['cpu']}",
        "",
        "| model | params (nonzero) | infer ms | train ms | stream µs/step | infer ×LSTM | "
        "train ×LSTM | speed-up vs ncps (infer / train / stream) |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, r in res["models"].items():
        sp = "—"
        if "infer_speedup_vs_ncps" in r:
            sp = (f"{r['infer_speedup_vs_ncps']:.1f}× / {r['train_speedup_vs_ncps']:.1f}× / "
                  f"{r['stream_speedup_vs_ncps']:.1f}×")
        lines.append(
            f"| {name} | {r['params']} ({r['nonzero_params']}) | {r['infer_ms']:.1f} | "
            f"{r['train_ms']:.1f} | {r['stream_us']:.0f} | {r['infer_vs_lstm']:.2f} | "
            f"{r['train_vs_lstm']:.2f} | {sp} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=256)
    p.add_argument("--input", type=int, default=16)
    p.add_argument("--units", type=int, default=32)
    p.add_argument("--motor", type=int, default=5)
    p.add_argument("--unfolds", type=int, default=6)
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--budget-s", type=float, default=4.0, help="time budget per measurement")
    p.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                   help="wall (default) or cpu: process CPU time, robust on a busy machine "
                        "(needs --threads 1)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    res = run(args)
    print(table(res))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(json.dumps(res, indent=2) + "\n")
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
