"""``profile_model``: size, latency and energy of a model on this device, every figure labelled."""

from __future__ import annotations

import copy
import os
import platform
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from cardioliquid._check import check_positive
from cardioliquid.device.energy import (
    DEFAULT_MCUS,
    POWERCAP_ROOT,
    EnergyFigure,
    McuSpec,
    NvmlMeter,
    RaplMeter,
    horowitz_energy,
    measure_energy,
    project_mcu,
    rated_power_energy,
)
from cardioliquid.device.latency import (
    peak_memory,
    resolve_device,
    synchronizer,
    throughput,
    time_calls,
)
from cardioliquid.device.report import ProfileReport
from cardioliquid.device.size import (
    count_macs_flop_counter,
    count_ops_analytic,
    count_params,
    serialized_bytes,
)
from cardioliquid.errors import ContractError
from cardioliquid.models.checkpoint import LoadedModel, load_model
from cardioliquid.models.contract import SignalContract
from cardioliquid.models.sequence import LiquidRNN
from cardioliquid.signal.config import BeatPreprocessing, WindowPreprocessing

# Assumed power of one busy core of this machine's CPU for the rated-power estimate:
# an AMD EPYC 7763-class part (Zen 3, family 25 model 1 as /proc/cpuinfo reports here;
# the hypervisor hides the exact model): 280 W TDP / 64 cores.
DEFAULT_WATTS_PER_CORE = 280.0 / 64
DEFAULT_HEART_RATE_BPM = 75.0

# Published anchors (energy and latency per inference).
MLPERF_TINY_AD = {"name": "MLPerf Tiny v1.3 anomaly detection, STM32U385 Cortex-M33",
                  "latency_ms": 5.4, "energy_uj": 31.8}  # fmt: skip
EPIDENET_GAP9 = {"name": "EpiDeNet seizure detection, GAP9", "energy_uj": 51.0}


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_info(device: torch.device) -> dict[str, Any]:
    """What ran the profile: CPU model or GPU name, threads, versions."""
    info = {
        "type": device.type,
        "name": cpu_name(),
        "cpu": cpu_name(),
        "logical_cpus": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    if device.type == "cuda":
        info["name"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    return info


@contextmanager
def _threads(n: int | None):
    old = torch.get_num_threads()
    if n:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _resolve(model: nn.Module | LoadedModel | str | os.PathLike) -> LoadedModel | nn.Module:
    if isinstance(model, (str, os.PathLike)):
        return load_model(model)
    return model


def _contract(net: nn.Module) -> SignalContract:
    contract = getattr(net, "contract", None)
    if not isinstance(contract, SignalContract):
        raise ContractError(
            f"expected a model with a .contract (SignalContract), got {type(net).__name__} "
            "without one; profile a CardioLiquid model"
        )
    return contract


def _inputs(contract: SignalContract, batch: int, device: torch.device):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, contract.n_chans, contract.n_times, generator=g).to(device)
    f = None
    if contract.n_features:
        f = torch.randn(batch, contract.n_features, generator=g).to(device)
    return x, f


def _caller(net: nn.Module, x: torch.Tensor, f: torch.Tensor | None,
            leads: int = 1) -> Callable[[], Any]:
    """One decision: the forward on ``x`` (and ``f``), once per lead a model fuses."""
    if leads > 1:
        one = _caller(net, x, f)
        return lambda: [one() for _ in range(leads)]
    if f is None:
        return lambda: net(x)
    return lambda: net(x, f)


def _liquid_core(net: nn.Module, run: Callable[[], Any]) -> tuple[LiquidRNN, int] | None:
    """The first liquid layer the forward runs, and its steps per decision."""
    cores = [m for m in net.modules() if isinstance(m, LiquidRNN)]
    if not cores:
        return None
    seen: dict[int, int] = {}

    def hook(mod: nn.Module, args: tuple, kwargs: dict) -> None:
        x = args[0] if args else kwargs["x"]
        seen.setdefault(id(mod), x.shape[-2] if x.ndim == 3 else x.shape[0])

    handles = [c.register_forward_pre_hook(hook, with_kwargs=True) for c in cores]
    try:
        with torch.no_grad():
            run()
    finally:
        for h in handles:
            h.remove()
    for c in cores:
        if id(c) in seen:
            return c, int(seen[id(c)])
    return None


def _macs_dict(flop, ops) -> dict[str, Any]:
    agree = flop.macs == ops.macs
    return {
        "value": ops.macs,
        "flop_counter": flop.macs,
        "analytic": ops.macs,
        "counters_agree": agree,
        "note": ""
        if agree
        else (
            "FlopCounterMode saw fewer MACs than the analytic count: it has no FLOP formula "
            "for some kernels (e.g. the fused CPU LSTM); the analytic count is the value"
        ),
        "effective": ops.effective_macs,
        "elementwise_ops": ops.elementwise,
        "transcendental_ops": ops.transcendental,
        # FlopCounterMode counts FLOPs (2 per MAC): halved so every count here is in MACs
        "by_op": {op: n // 2 for op, n in flop.by_op.items()},
        "by_module": ops.by_module,
    }


def _decision_seconds(prep: Any, contract: SignalContract, bpm: float) -> tuple[float, str]:
    if isinstance(prep, WindowPreprocessing):
        return prep.hop_s, f"one {prep.window_s:g} s window every {prep.hop_s:g} s"
    if isinstance(prep, BeatPreprocessing):
        return 60.0 / bpm, f"one decision per beat at an assumed {bpm:g} bpm"
    return contract.input_window_seconds, "back-to-back windows"


def profile_model(
    model: nn.Module | LoadedModel | str | os.PathLike = "arrhythmia",
    device: str | torch.device = "cpu",
    repeats: int = 200,
    warmup: int = 20,
    batch: int = 256,
    threads: int | None = 1,
    watts_per_core: float = DEFAULT_WATTS_PER_CORE,
    heart_rate_bpm: float = DEFAULT_HEART_RATE_BPM,
    mcus: tuple[McuSpec, ...] = DEFAULT_MCUS,
    powercap_root: str | os.PathLike | None = None,
    nvml: Any | None = None,
    energy_seconds: float = 1.0,
) -> ProfileReport:
    """Profile a model's size, speed and energy on this machine.

    Parameters
    ----------
    model : nn.Module, LoadedModel, str or path
        A module with a ``.contract``, a loaded model, a shipped model name
        (``"arrhythmia"``) or a checkpoint file.
    device : {"cpu", "cuda"}
        Where to run; ``"cuda"`` without a GPU raises a clear error.
    repeats, warmup : int
        Timed and untimed calls for the batch-1 latencies.
    batch : int
        Batch size for the throughput figure.
    threads : int or None
        torch CPU threads during the profile (None: leave as is).
    watts_per_core : float
        Assumed power per busy core for the rated-power estimate.
    heart_rate_bpm : float
        Assumed heart rate for the ECG real-time factor (one decision per beat).
    mcus : tuple of McuSpec
        Microcontrollers to project onto.
    powercap_root : path, optional
        Where RAPL counters live (default ``/sys/class/powercap``; a fake tree in tests).
    nvml : module, optional
        An NVML binding to use instead of ``pynvml`` (tests).
    energy_seconds : float
        Minimum run time of a hardware energy measurement.

    Returns
    -------
    ProfileReport
    """
    check_positive("repeats", repeats)
    check_positive("batch", batch)
    check_positive("watts_per_core", watts_per_core)
    dev = resolve_device(device)
    powercap_root = POWERCAP_ROOT if powercap_root is None else powercap_root
    resolved = _resolve(model)
    loaded = resolved if isinstance(resolved, LoadedModel) else None
    net = loaded.model if loaded else resolved
    contract = _contract(net)
    # A private copy: the caller's (possibly shared, cached) model keeps its device and mode.
    net = copy.deepcopy(net).to(dev).eval()
    sync = synchronizer(dev)
    with _threads(threads if dev.type == "cpu" else None):
        return _profile(
            net, loaded, contract, dev, sync, repeats, warmup, batch, watts_per_core,
            heart_rate_bpm, mcus, powercap_root, nvml, energy_seconds,
        )  # fmt: skip


def _profile(
    net, loaded, contract, dev, sync, repeats, warmup, batch, watts_per_core, bpm, mcus,
    powercap_root, nvml, energy_seconds,
) -> ProfileReport:  # fmt: skip
    x, f = _inputs(contract, 1, dev)
    # A model that averages several leads runs its network once per lead per decision.
    leads = getattr(loaded.preprocessing, "fuse_leads", 1) if loaded else 1
    decide = _caller(net, x, f, leads)

    # -- size ------------------------------------------------------------------------------
    params = count_params(net)
    file_bytes = None
    if loaded is not None and loaded.path and Path(loaded.path).is_file():
        file_bytes = Path(loaded.path).stat().st_size
    macs = _macs_dict(count_macs_flop_counter(decide), count_ops_analytic(net, decide))
    if callable(getattr(net, "complexity", None)):  # the model's own count, for comparison
        macs["model_reported"] = {
            **net.complexity(),
            "scope": "the model's own count for one forward (one lead), synapses the wiring "
                     "has only",
        }  # fmt: skip
    macs["leads"] = leads

    core = _liquid_core(net, _caller(net, x, f))
    macs_step = step_latency = None
    seconds_per_step = None
    if core is not None:
        rnn, steps = core
        x_t = torch.randn(1, rnn.input_size, device=dev)
        hx = rnn.initial_state(1, x_t)
        state = {"hx": hx}

        def one_step() -> None:
            _, state["hx"] = rnn.step(x_t, state["hx"])

        macs_step = _macs_dict(
            count_macs_flop_counter(lambda: rnn.step(x_t, hx)),
            count_ops_analytic(rnn, lambda: rnn(x_t.unsqueeze(1), hx)),
        )
        # A decision runs its steps as one sequence, the input projections batched over
        # them: its MACs are not steps x this step's (the step a stream runs alone).
        def sequence_macs(n: int) -> int:
            xs = torch.randn(1, n, rnn.input_size, device=dev)
            return int(count_macs_flop_counter(lambda: rnn(xs, hx)).macs)

        whole, first = sequence_macs(steps), sequence_macs(1)
        per_step = (whole - first) / (steps - 1) if steps > 1 else float(first)
        per_step = int(per_step) if per_step.is_integer() else per_step
        macs_step["in_sequence"] = {"per_step": per_step, "once": first - per_step,
                                    "per_decision": whole}
        macs_step["scope"] = (
            f"one step of the liquid core {type(rnn).__name__} ({rnn.input_size} inputs, "
            f"{rnn.state_size} neurons) as a stream runs it, alone; a decision runs its {steps} "
            f"steps as one sequence: {per_step:g} MACs a step plus {first - per_step:g} once, "
            f"{whole} in all (in_sequence)"
        )
        macs_step["steps_per_decision"] = steps
        step_latency = time_calls(one_step, repeats=repeats, warmup=warmup, sync=sync)
        seconds_per_step = contract.input_window_seconds / steps

    # -- latency ---------------------------------------------------------------------------
    lat = time_calls(decide, repeats=repeats, warmup=warmup, sync=sync)
    xb, fb = _inputs(contract, batch, dev)
    mem = peak_memory(decide, dev)
    # Before the throughput runs, so the first batch's allocations are still visible.
    mem_batch = peak_memory(_caller(net, xb, fb, leads), dev)
    tput = throughput(_caller(net, xb, fb, leads), batch, sync=sync)
    decision_s, rt_how = _decision_seconds(loaded.preprocessing if loaded else None, contract, bpm)
    rtf = decision_s / (lat.p50 * 1e-3)
    realtime = {
        "method": f"signal seconds per compute second at p50 batch-1 latency, {rt_how}",
        "signal_seconds_per_decision": decision_s,
    }
    if step_latency is not None:
        realtime["per_step"] = seconds_per_step / (step_latency.p50 * 1e-3)
        realtime["per_step_method"] = (
            f"{seconds_per_step * 1e3:.4g} ms of signal per core step / p50 step latency"
        )
    latency = lat.to_dict()
    latency["per_step"] = step_latency.to_dict() if step_latency else None

    # -- energy ----------------------------------------------------------------------------
    figures, unavailable = _energy_figures(
        net, decide, dev, sync, macs, lat.p50 * 1e-3, watts_per_core, mcus, powercap_root,
        nvml, energy_seconds,
    )  # fmt: skip
    measured = [e for e in figures if e.kind == "measured"]
    horowitz = next(e for e in figures if "fp32" in e.target and e.kind == "estimated")
    headline = measured[0] if measured else horowitz
    rated = [e for e in figures if e.method.startswith("estimated: assumed rated power")]
    power_src = measured[0] if measured and measured[0].power_mw is not None else None
    power_src = power_src or (rated[0] if rated else None)
    power = (
        {"value": power_src.power_mw, "method": power_src.method}
        if power_src is not None
        else {"value": None, "method": "not available: no counter and no rated power"}
    )

    info = device_info(dev)
    task = loaded.task if loaded else None
    model_info = {
        "name": loaded.name if loaded else type(net).__name__,
        "model_name": loaded.model_name if loaded else type(net).__name__,
        "task": task,
        "path": loaded.path if loaded else None,
        "contract": contract.to_dict(),
        "input": (
            f"{contract.n_chans} ch x {contract.n_times} samples "
            f"({contract.input_window_seconds:g} s at {contract.sfreq:g} Hz)"
            + (f" + {contract.n_features} features" if contract.n_features else "")
        ),
    }
    return ProfileReport(
        model=model_info,
        params=params.to_dict(),
        bytes={"file": file_bytes, "safetensors": serialized_bytes(net)},
        macs_per_decision=macs,
        macs_per_step=macs_step,
        latency_ms=latency,
        throughput_per_s={"value": tput, "batch": batch},
        realtime_factor=rtf,
        realtime=realtime,
        peak_memory_mb=mem.peak_mb,
        peak_memory={
            "method": mem.method,
            "increase_mb": mem.increase_mb,
            "batch": batch,
            "batch_peak_mb": mem_batch.peak_mb,
            "batch_increase_mb": mem_batch.increase_mb,
            "weights_and_buffers_kb": sum(
                t.numel() * t.element_size() for t in [*net.parameters(), *net.buffers()]
            )
            / 1024,
        },
        energy_uj_per_decision={"value": headline.value_uj, "method": headline.method},
        power_mw=power,
        energy_estimates=[e.to_dict() for e in figures],
        unavailable=unavailable,
        targets=_targets(task, macs, figures),
        device=info,
    )


def _energy_figures(
    net, decide, dev, sync, macs, p50_s, watts_per_core, mcus, powercap_root, nvml,
    energy_seconds,
) -> tuple[list[EnergyFigure], list[str]]:  # fmt: skip
    figures: list[EnergyFigure] = []
    unavailable: list[str] = []
    gpu_limit_mw: float | None = None
    block = 20

    def run_block() -> int:
        with torch.inference_mode():
            for _ in range(block):
                decide()
        sync()
        return block

    if dev.type == "cpu":
        meter = RaplMeter(powercap_root)
        if meter.available:
            figures.append(measure_energy(run_block, meter, energy_seconds))
        else:
            unavailable.append(
                f"RAPL: no readable intel-rapl:* energy_uj under {powercap_root} "
                "(no powercap driver in this VM, or counters readable by root only)"
            )
    else:
        nv = NvmlMeter(dev.index or 0, pynvml=nvml)
        try:
            if nv.available:
                figures.append(measure_energy(run_block, nv, energy_seconds))
                gpu_limit_mw = nv.power_limit_mw()
            else:
                unavailable.append(f"NVML: {nv.reason}")
        finally:
            nv.close()
    eff, other = macs["effective"], macs["elementwise_ops"]
    figures.append(horowitz_energy(eff, "fp32", other_ops=other))
    figures.append(horowitz_energy(eff, "int8", other_ops=other))
    if dev.type == "cpu":
        cores = torch.get_num_threads()
        figures.append(rated_power_energy(p50_s, watts_per_core, cores, cpu_name()))
    elif gpu_limit_mw:
        # A GPU's board power is not per core: its enforced power limit bounds it from above.
        figures.append(rated_power_energy(
            p50_s, gpu_limit_mw * 1e-3, 1, f"{nv.name} (NVML enforced power limit)", unit="GPU"
        ))  # fmt: skip
    else:
        unavailable.append("GPU rated power: NVML power limit not readable; no estimate made")
    for mcu in mcus:
        for precision in ("fp32", "int8"):
            figures.append(
                project_mcu(mcu, eff, precision, other_ops=other,
                            transcendentals=macs["transcendental_ops"])
            )  # fmt: skip
    return figures, unavailable


def _targets(task: str | None, macs: dict[str, Any], figures: list[EnergyFigure]) -> list[dict]:
    """Project targets and published anchors, each with the figure it is judged on."""
    est = next(e for e in figures if e.kind == "estimated" and "fp32" in e.target)
    m4 = next((e for e in figures if e.kind == "projection" and "M4" in e.target
               and "fp32" in e.target), None)  # fmt: skip
    m33 = [e for e in figures if e.kind == "projection" and "M33" in e.target]
    out: list[dict[str, Any]] = []

    def add(name, value, threshold, unit, basis):
        out.append({"name": name, "value": value, "threshold": threshold, "unit": unit,
                    "met": bool(value < threshold), "basis": basis})  # fmt: skip

    if task in (None, "arrhythmia"):
        add(
            "arrhythmia decision < 100k MACs",
            macs["analytic"],
            100_000,
            "MACs",
            "dense MACs per decision as executed (analytic count)",
        )
        add(
            "arrhythmia decision < 100k wired MACs",
            macs["effective"],
            100_000,
            "MACs",
            "MACs of the synapses the wiring has (a sparse kernel)",
        )
        add("arrhythmia decision < 5 µJ estimated", est.value_uj, 5.0, "µJ", est.method)
    if task in (None, "seizure") and m4 is not None:
        add("seizure decision < 1 mJ on Cortex-M4F", m4.value_uj, 1000.0, "µJ", m4.method)
    for e in m33:
        add(
            f"vs {MLPERF_TINY_AD['name']} energy",
            e.value_uj,
            MLPERF_TINY_AD["energy_uj"],
            "µJ",
            e.target + " projection",
        )
        add(
            f"vs {MLPERF_TINY_AD['name']} latency",
            e.latency_ms,
            MLPERF_TINY_AD["latency_ms"],
            "ms",
            e.target + " projection",
        )
    if task in (None, "seizure"):
        best = min((e for e in figures if e.kind == "projection"), key=lambda e: e.value_uj,
                   default=None)  # fmt: skip
        if best is not None:
            add(
                f"vs {EPIDENET_GAP9['name']} energy",
                best.value_uj,
                EPIDENET_GAP9["energy_uj"],
                "µJ",
                best.target + " projection (lowest)",
            )
    return out
