"""Energy: RAPL on a fake powercap tree, NVML through a stub, estimates and projections."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from cardioliquid.device import energy
from cardioliquid.device.energy import (
    CORTEX_M4F,
    CORTEX_M33,
    HOROWITZ_45NM_PJ,
    NvmlMeter,
    RaplMeter,
    counter_delta,
    horowitz_energy,
    measure_energy,
    project_mcu,
    rapl_zones,
    rated_power_energy,
)


def test_rapl_zones_keeps_packages_and_skips_subzones(powercap: Path) -> None:
    zones = rapl_zones(powercap)
    assert [z.name for z in zones] == ["package-0"]
    assert zones[0].read_uj() == 1_000_000
    assert zones[0].max_energy_range_uj == 262_143_328_850


def test_rapl_zones_missing_or_unreadable(tmp_path: Path, zone_writer) -> None:
    assert rapl_zones(tmp_path / "absent") == []
    root = tmp_path / "pc"
    zone = zone_writer(root, "intel-rapl:0", 5, 100, "package-0")
    (zone / "energy_uj").write_text("not a number\n")  # what a permission error amounts to
    assert rapl_zones(root) == []
    assert not RaplMeter(root).available


def test_counter_delta_handles_wrap_around() -> None:
    assert counter_delta(100, 250, 1000) == 150
    # 990 -> wraps after 1000 -> 40: 10 to the top, 1 for the wrap to 0, 40 after.
    assert counter_delta(990, 40, 1000) == 51


def test_rapl_meter_sums_packages_across_wrap(tmp_path: Path, zone_writer) -> None:
    root = tmp_path / "pc"
    z0 = zone_writer(root, "intel-rapl:0", 999_000, 1_000_000, "package-0")
    z1 = zone_writer(root, "intel-rapl:1", 10, 1_000_000, "package-1")
    meter = RaplMeter(root)
    before = meter.read()
    (z0 / "energy_uj").write_text("4000\n")  # wrapped: 1_000 + 1 + 4_000
    (z1 / "energy_uj").write_text("2010\n")
    assert meter.energy_uj(before, meter.read()) == 5_001 + 2_000
    assert meter.describe() == "package-0+package-1"


def test_measure_energy_from_rapl_counter(tmp_path: Path, zone_writer, monkeypatch) -> None:
    root = tmp_path / "pc"
    zone = zone_writer(root, "intel-rapl:0", 262_143_100_000, 262_143_328_850, "package-0")
    per_decision_uj = 30_000
    clock = [100.0]  # seconds; moves only while a block runs
    monkeypatch.setattr(energy, "time", SimpleNamespace(perf_counter=lambda: clock[0]))

    def run_block() -> int:  # 10 decisions in 5 ms; the "hardware" counts their energy
        now = int((zone / "energy_uj").read_text())
        new = (now + 10 * per_decision_uj) % (262_143_328_850 + 1)
        (zone / "energy_uj").write_text(f"{new}\n")
        clock[0] += 0.005
        return 10

    meter = RaplMeter(root)
    fig = measure_energy(run_block, meter, min_seconds=0.0)
    assert meter.read()[0] < 262_143_100_000  # the counter did wrap
    assert fig.kind == "measured"
    assert fig.method.startswith("measured: RAPL package-0")
    # The first block crosses the wrap-around at 262_143_328_850.
    assert fig.value_uj == pytest.approx(per_decision_uj, rel=1e-12)
    # 300 mJ in 5 ms is 60 W; 5 ms over 10 decisions is 0.5 ms each.
    assert fig.power_mw == pytest.approx(60_000.0)
    assert fig.latency_ms == pytest.approx(0.5)


def test_measure_energy_none_without_counters(tmp_path: Path) -> None:
    assert measure_energy(lambda: 1, RaplMeter(tmp_path / "none")) is None


def test_nvml_meter_measures_energy_and_power(fake_pynvml) -> None:
    # probe, before, after readings in mJ: 2.5 J over the run
    nv = fake_pynvml([1_000, 1_000, 3_500], power_mw=65_000)
    meter = NvmlMeter(0, pynvml=nv)
    assert meter.available and meter.name == "NVIDIA H100 80GB HBM3"
    fig = measure_energy(lambda: 50, meter, min_seconds=0.0)
    meter.close()
    assert fig.kind == "measured"
    assert "NVML" in fig.method and "H100" in fig.method
    assert fig.value_uj == pytest.approx(2_500 * 1e3 / 50)
    assert nv.calls["shutdown"] == 1


def test_nvml_meter_unavailable_when_driver_fails(fake_pynvml) -> None:
    meter = NvmlMeter(0, pynvml=fake_pynvml([0], fail=True))
    assert not meter.available
    assert "Driver Not Loaded" in meter.reason
    assert measure_energy(lambda: 1, meter) is None


def test_nvml_meter_without_pynvml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` fail
    meter = NvmlMeter(0)
    assert not meter.available
    assert "nvidia-ml-py" in meter.reason


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_horowitz_estimate(precision: str) -> None:
    table = HOROWITZ_45NM_PJ[precision]
    fig = horowitz_energy(1_000_000, precision, other_ops=1_000)
    expected_pj = 1_000_000 * (table["mult"] + table["add"]) + 1_000 * table["add"]
    assert fig.value_uj == pytest.approx(expected_pj * 1e-6)
    assert fig.kind == "estimated" and "Horowitz, ISSCC 2014" in fig.method
    assert "lower bound" in fig.method


def test_horowitz_table_is_the_published_one() -> None:
    assert HOROWITZ_45NM_PJ == {
        "fp32": {"add": 0.9, "mult": 3.7},
        "int8": {"add": 0.03, "mult": 0.2},
    }


def test_rated_power_estimate() -> None:
    fig = rated_power_energy(0.002, watts_per_core=4.0, cores=2)
    assert fig.value_uj == pytest.approx(8.0 * 0.002 * 1e6)
    assert fig.power_mw == pytest.approx(8000.0)
    assert fig.method.startswith("estimated: assumed rated power")


@pytest.mark.parametrize("mcu", [CORTEX_M4F, CORTEX_M33])
def test_mcu_projection_arithmetic(mcu) -> None:
    fig = project_mcu(mcu, macs=10_000, precision="fp32", other_ops=500, transcendentals=20)
    cycles = (
        10_000 * mcu.cycles_per_mac["fp32"]
        + 500 * mcu.cycles_per_op
        + 20 * (mcu.cycles_per_transcendental)
    )
    seconds = cycles / (mcu.clock_mhz * 1e6)
    power_w = mcu.run_ua_per_mhz * 1e-6 * mcu.clock_mhz * mcu.supply_v
    assert fig.latency_ms == pytest.approx(seconds * 1e3)
    assert fig.value_uj == pytest.approx(power_w * seconds * 1e6)
    assert fig.kind == "projection" and fig.method.startswith("projection:")
    int8 = project_mcu(mcu, macs=10_000, precision="int8")
    assert int8.value_uj < fig.value_uj


def test_mcu_specs_state_their_sources() -> None:
    assert CORTEX_M4F.clock_mhz == 80 and "DS10198" in CORTEX_M4F.source
    assert CORTEX_M33.clock_mhz == 96 and "DS13737" in CORTEX_M33.source
    # 100 µA/MHz x 80 MHz x 3.3 V
    assert CORTEX_M4F.active_power_mw == pytest.approx(26.4)
