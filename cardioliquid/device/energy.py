"""Energy and power: measured where the hardware tells, else estimated or projected.

Every figure returned here is an :class:`EnergyFigure` that carries its
``method``: a measurement (RAPL on the CPU, NVML on an NVIDIA GPU), an
estimate (operation counts times an energy-per-operation table, or rated
power times measured time), or a projection to a microcontroller (MACs times
cycles-per-MAC at the chip's clock and datasheet run current). Nothing is
reported without saying how it was obtained.

References
----------
.. [1] M. Horowitz, "Computing's energy problem (and what we can do about
   it)", ISSCC 2014, pp. 10-14. 45 nm energy per operation: fp32 add 0.9 pJ,
   fp32 mult 3.7 pJ, int8 add 0.03 pJ, int8 mult 0.2 pJ (Fig. 1.1.9).
.. [2] Linux powercap / RAPL sysfs interface,
   https://docs.kernel.org/power/powercap/powercap.html
.. [3] NVIDIA Management Library: nvmlDeviceGetTotalEnergyConsumption (mJ
   since driver load, Volta and newer), nvmlDeviceGetPowerUsage (mW).
.. [4] L. Lai, N. Suda, V. Chandra, "CMSIS-NN: Efficient neural network
   kernels for Arm Cortex-M CPUs", arXiv:1801.06601, 2018.
.. [5] Arm Cortex-M4 Technical Reference Manual r0p1, FPU instruction timing
   (VFMA.F32: 3 cycles; VLDR: 2 cycles).
.. [6] STMicroelectronics DS10198 (STM32L476xx), "100 µA/MHz run mode";
   DS13737 (STM32U575xx), "19.5 µA/MHz run mode (SMPS, 3.3 V)".
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

POWERCAP_ROOT = Path("/sys/class/powercap")

# Horowitz, ISSCC 2014, 45 nm, energy per operation in picojoules [1].
HOROWITZ_45NM_PJ: dict[str, dict[str, float]] = {
    "fp32": {"add": 0.9, "mult": 3.7},
    "int8": {"add": 0.03, "mult": 0.2},
}
HOROWITZ_CITATION = "Horowitz, ISSCC 2014, 45 nm"


@dataclass(frozen=True)
class EnergyFigure:
    """One energy (and power) figure with the method that produced it.

    Attributes
    ----------
    value_uj : float
        Energy per decision in microjoules.
    method : str
        How it was obtained, e.g. ``"measured: RAPL package-0"``.
    kind : str
        ``"measured"``, ``"estimated"`` or ``"projection"``.
    power_mw : float or None
        Average power over the computation, when meaningful.
    latency_ms : float or None
        Time per decision behind the figure (projections and measurements).
    target : str
        What the figure is about (``"this CPU"``, ``"Cortex-M4F @ 80 MHz"``...).
    """

    value_uj: float
    method: str
    kind: str
    power_mw: float | None = None
    latency_ms: float | None = None
    target: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return asdict(self)


# --------------------------------------------------------------------------- RAPL


@dataclass(frozen=True)
class RaplZone:
    """One top-level RAPL package domain under ``/sys/class/powercap``."""

    path: Path
    name: str
    max_energy_range_uj: int

    def read_uj(self) -> int:
        """The cumulative energy counter (µJ); wraps at ``max_energy_range_uj``."""
        return int((self.path / "energy_uj").read_text().strip())


def rapl_zones(root: str | os.PathLike = POWERCAP_ROOT) -> list[RaplZone]:
    """Readable top-level RAPL zones (``intel-rapl:N``; AMD exposes the same tree).

    Sub-zones (``intel-rapl:N:M``, core/uncore/dram) are skipped because the
    package zone already contains them; summing both would double count.
    Zones whose counter is not readable (root-only since Linux 5.10) are left
    out, so an empty list means "cannot measure here".
    """
    root = Path(root)
    zones = []
    if not root.is_dir():
        return zones
    for p in sorted(root.glob("intel-rapl:*")):
        if p.name.count(":") != 1:
            continue
        try:
            int((p / "energy_uj").read_text().strip())
            max_range = int((p / "max_energy_range_uj").read_text().strip())
            name = (p / "name").read_text().strip() if (p / "name").exists() else p.name
        except (OSError, ValueError):
            continue
        zones.append(RaplZone(p, name, max_range))
    return zones


def counter_delta(before: int, after: int, max_range: int) -> int:
    """Increase of a wrapping counter; one wrap-around is assumed when it went down.

    RAPL counters restart at 0 after ``max_energy_range_uj``; the caller must
    read them more often than one wrap (minutes at full package power).
    """
    if after >= before:
        return after - before
    return max_range - before + after + 1


class RaplMeter:
    """Energy of a block of code from the RAPL package counters.

    Parameters
    ----------
    root : path
        The powercap sysfs directory (a temporary tree in tests).
    """

    def __init__(self, root: str | os.PathLike = POWERCAP_ROOT) -> None:
        self.zones = rapl_zones(root)

    @property
    def available(self) -> bool:
        """Whether at least one package counter is readable."""
        return bool(self.zones)

    def read(self) -> list[int]:
        """Current counter of every zone (µJ)."""
        return [z.read_uj() for z in self.zones]

    def energy_uj(self, before: list[int], after: list[int]) -> float:
        """Total energy between two :meth:`read` calls, across packages (µJ)."""
        return float(
            sum(
                counter_delta(b, a, z.max_energy_range_uj)
                for z, b, a in zip(self.zones, before, after, strict=True)
            )
        )

    def describe(self) -> str:
        """Zones used, for the method label."""
        return "+".join(z.name for z in self.zones)


# --------------------------------------------------------------------------- NVML


def import_pynvml() -> Any | None:
    """``pynvml`` (from nvidia-ml-py) if installed, else None.

    Install hint: ``pip install nvidia-ml-py`` (the ``gpu`` extra).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            import pynvml
    except ImportError:
        return None
    return pynvml


class NvmlMeter:
    """Energy and power of an NVIDIA GPU through NVML.

    Parameters
    ----------
    index : int
        GPU index.
    pynvml : module, optional
        The NVML binding (a stub in tests); imported when omitted.
    """

    def __init__(self, index: int = 0, pynvml: Any | None = None) -> None:
        self._nv = pynvml if pynvml is not None else import_pynvml()
        self.handle = None
        self.name = ""
        self.reason = ""
        if self._nv is None:
            self.reason = "pynvml not installed (pip install nvidia-ml-py)"
            return
        try:
            self._nv.nvmlInit()
            self.handle = self._nv.nvmlDeviceGetHandleByIndex(index)
            name = self._nv.nvmlDeviceGetName(self.handle)
            self.name = name.decode() if isinstance(name, bytes) else str(name)
            self._nv.nvmlDeviceGetTotalEnergyConsumption(self.handle)
        except Exception as e:  # NVMLError has many subclasses; all mean "not readable"
            self.handle = None
            self.reason = f"NVML not readable ({e})"

    @property
    def available(self) -> bool:
        """Whether the energy counter is readable."""
        return self.handle is not None

    def read_mj(self) -> int:
        """Cumulative GPU energy since driver load (mJ)."""
        return int(self._nv.nvmlDeviceGetTotalEnergyConsumption(self.handle))

    def power_mw(self) -> float:
        """Instantaneous board power (mW)."""
        return float(self._nv.nvmlDeviceGetPowerUsage(self.handle))

    def power_limit_mw(self) -> float | None:
        """The enforced board power limit (mW), None when not readable."""
        try:
            return float(self._nv.nvmlDeviceGetEnforcedPowerLimit(self.handle))
        except Exception:  # not supported on every board
            return None

    def close(self) -> None:
        """Release NVML."""
        if self._nv is not None and self.handle is not None:
            with contextlib.suppress(Exception):  # shutting down twice is harmless
                self._nv.nvmlShutdown()


def measure_energy(
    run_block: Callable[[], int],
    meter: RaplMeter | NvmlMeter,
    min_seconds: float = 1.0,
) -> EnergyFigure | None:
    """Energy per decision from a hardware counter over repeated blocks.

    Parameters
    ----------
    run_block : callable
        Runs a block of decisions (synchronised) and returns how many it ran.
    meter : RaplMeter or NvmlMeter
        A meter whose ``available`` is true.
    min_seconds : float
        Keep running blocks at least this long: the counters update every
        ~1 ms (RAPL) to ~100 ms (NVML), so short runs read as zero.

    Returns
    -------
    EnergyFigure or None
        None when the meter is not available.
    """
    if not meter.available:
        return None
    n = 0
    if isinstance(meter, NvmlMeter):
        before_mj = meter.read_mj()
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < min_seconds or n == 0:
            n += run_block()
        elapsed = time.perf_counter() - t0
        energy_uj = (meter.read_mj() - before_mj) * 1e3
        label = f"measured: NVML total energy counter ({meter.name})"
        target = meter.name
    else:
        before = meter.read()
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < min_seconds or n == 0:
            n += run_block()
        elapsed = time.perf_counter() - t0
        energy_uj = meter.energy_uj(before, meter.read())
        label = (
            f"measured: RAPL {meter.describe()} (whole package, includes idle and other processes)"
        )
        target = "this CPU"
    power_mw = energy_uj / elapsed * 1e-3 if elapsed > 0 else None
    return EnergyFigure(
        value_uj=energy_uj / n,
        method=label,
        kind="measured",
        power_mw=power_mw,
        latency_ms=elapsed / n * 1e3,
        target=target,
    )


# --------------------------------------------------------------------------- estimates


def horowitz_energy(macs: float, precision: str = "fp32", other_ops: float = 0.0) -> EnergyFigure:
    """Arithmetic energy of ``macs`` multiply-accumulates on a 45 nm chip [1].

    One MAC is one multiply plus one add; ``other_ops`` element-wise operations
    (adds, gates) are charged one add each. Memory access, data movement and
    control are excluded, so this is a lower bound: on real chips fetching an
    operand from SRAM/DRAM costs 10-1000x more than the arithmetic.
    """
    table = HOROWITZ_45NM_PJ[precision]
    pj = macs * (table["mult"] + table["add"]) + other_ops * table["add"]
    note = f" + {other_ops:.0f} element-wise ops at one add each" if other_ops else ""
    return EnergyFigure(
        value_uj=pj * 1e-6,
        method=(
            f"estimated: {macs:.0f} MACs{note} x {HOROWITZ_CITATION} {precision} "
            f"(mult {table['mult']} pJ + add {table['add']} pJ); arithmetic only, memory "
            "access excluded -> lower bound"
        ),
        kind="estimated",
        target=f"45 nm {precision} datapath",
    )


def rated_power_energy(
    latency_s: float,
    watts_per_core: float,
    cores: int,
    cpu_name: str = "this CPU",
    unit: str = "core",
) -> EnergyFigure:
    """Energy from an assumed rated power over a measured compute time.

    Parameters
    ----------
    latency_s : float
        Measured time per decision.
    watts_per_core : float
        Assumed power per busy unit (e.g. TDP / cores); a stated assumption.
    cores : int
        Units busy during the computation (the torch thread count).
    cpu_name : str
        What the figure is about.
    unit : str
        ``"core"`` (CPU) or ``"GPU"`` (a board power limit).
    """
    power_w = watts_per_core * cores
    return EnergyFigure(
        value_uj=power_w * latency_s * 1e6,
        method=(
            f"estimated: assumed rated power {watts_per_core:g} W/{unit} x {cores} {unit}(s) "
            f"x measured p50 latency {latency_s * 1e3:.4g} ms (assumption, not a measurement; "
            "includes framework overhead)"
        ),
        kind="estimated",
        power_mw=power_w * 1e3,
        latency_ms=latency_s * 1e3,
        target=cpu_name,
    )


# --------------------------------------------------------------------------- projections


@dataclass(frozen=True)
class McuSpec:
    """A microcontroller for projections; every number is a stated assumption.

    Attributes
    ----------
    name : str
        Core and clock, e.g. ``"Cortex-M4F @ 80 MHz (STM32L4)"``.
    clock_mhz : float
        Core clock.
    run_ua_per_mhz : float
        Datasheet run-mode current per MHz.
    supply_v : float
        Supply voltage.
    cycles_per_mac : dict
        Cycles per multiply-accumulate by precision (``fp32``, ``int8``).
    cycles_per_op : float
        Cycles per other element-wise op (add, mul, compare).
    cycles_per_transcendental : float
        Cycles per exp/tanh/sigmoid (a libm-style software routine).
    source : str
        Where the numbers come from.
    """

    name: str
    clock_mhz: float
    run_ua_per_mhz: float
    supply_v: float
    cycles_per_mac: dict[str, float]
    cycles_per_op: float
    cycles_per_transcendental: float
    source: str

    @property
    def active_power_mw(self) -> float:
        """Run-mode power: µA/MHz x MHz x V."""
        return self.run_ua_per_mhz * self.clock_mhz * self.supply_v * 1e-3


# fp32: VFMA.F32 3 cycles + operand loads on Cortex-M4 [5] -> ~4 cycles/MAC.
# int8: CMSIS-NN's SMLAD does 2 MACs/cycle, ~1 cycle/MAC with loads/unpacking [4].
_CYCLES_PER_MAC = {"fp32": 4.0, "int8": 1.0}

CORTEX_M4F = McuSpec(
    name="Cortex-M4F @ 80 MHz (STM32L476)",
    clock_mhz=80.0,
    run_ua_per_mhz=100.0,
    supply_v=3.3,
    cycles_per_mac=_CYCLES_PER_MAC,
    cycles_per_op=2.0,
    cycles_per_transcendental=40.0,
    source=(
        "STM32L476 datasheet DS10198: 100 µA/MHz run mode; Cortex-M4 TRM FPU timing; "
        "CMSIS-NN (Lai et al. 2018)"
    ),
)
CORTEX_M33 = McuSpec(
    name="Cortex-M33 @ 96 MHz (STM32U5)",
    clock_mhz=96.0,
    run_ua_per_mhz=19.5,
    supply_v=3.3,
    cycles_per_mac=_CYCLES_PER_MAC,
    cycles_per_op=2.0,
    cycles_per_transcendental=40.0,
    source=(
        "STM32U575 datasheet DS13737: 19.5 µA/MHz run mode (SMPS, 3.3 V); "
        "CMSIS-NN (Lai et al. 2018)"
    ),
)
DEFAULT_MCUS = (CORTEX_M4F, CORTEX_M33)


def project_mcu(
    mcu: McuSpec,
    macs: float,
    precision: str = "fp32",
    other_ops: float = 0.0,
    transcendentals: float = 0.0,
) -> EnergyFigure:
    """Latency and energy of one decision projected onto a microcontroller.

    cycles = MACs x cycles/MAC + ops x cycles/op + transcendentals x cycles each;
    latency = cycles / clock; energy = run power x latency. It ignores memory
    wait states, interrupt load and sleep between decisions.
    """
    cycles = (
        macs * mcu.cycles_per_mac[precision]
        + other_ops * mcu.cycles_per_op
        + transcendentals * mcu.cycles_per_transcendental
    )
    latency_s = cycles / (mcu.clock_mhz * 1e6)
    power_mw = mcu.active_power_mw
    return EnergyFigure(
        value_uj=power_mw * latency_s * 1e3,
        method=(
            f"projection: {mcu.name}, {precision}: {macs:.0f} MACs, {other_ops:.0f} ops, "
            f"{transcendentals:.0f} exp/tanh -> {cycles:.0f} cycles "
            f"({mcu.cycles_per_mac[precision]:g} cycles/MAC, {mcu.cycles_per_op:g}/op, "
            f"{mcu.cycles_per_transcendental:g}/exp-tanh) at {mcu.clock_mhz:g} MHz, "
            f"{mcu.run_ua_per_mhz:g} µA/MHz x {mcu.supply_v:g} V = {power_mw:.3g} mW "
            f"[{mcu.source}]"
        ),
        kind="projection",
        power_mw=power_mw,
        latency_ms=latency_s * 1e3,
        target=f"{mcu.name} {precision}",
    )
