"""Benchmark the peak memory of ``cardioliquid score`` on a long (Holter-length) record.

Builds a record of ``--hours`` hours by tiling MIT-BIH 100 (signal and reference beats)
in a temporary folder, then measures, each in its own process (peak resident set size
from ``wait4``):

- the peer: reading the record with ``wfdb.rdrecord``, what any script does first;
- the fixed cost: importing torch and the package (no record);
- ``cardioliquid score RECORD --task arrhythmia``: loading, checks, preprocessing, the
  model over every beat and every output written.

The ratio of the scoring run's peak to the peer's says what scoring a record costs beyond
reading it.

    python pipelines/bench_memory.py [--mirror DIR] [--hours 24]

Writes a table to stdout and ``pipelines/results/bench_memory.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from cardioliquid._atomic import atomic_write_text

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "pipelines" / "results" / "bench_memory.json"
SOURCE_RECORD = "100"


def tile_record(mirror: Path, hours: float, out_dir: Path) -> Path:
    """Write MIT-BIH 100 repeated to ``hours`` hours (beats included) as WFDB in ``out_dir``."""
    import wfdb

    src = wfdb.rdrecord(str(mirror / "mitdb" / SOURCE_RECORD), physical=False)
    ann = wfdb.rdann(str(mirror / "mitdb" / SOURCE_RECORD), "atr")
    n = src.sig_len
    copies = max(1, int(np.ceil(hours * 3600 * src.fs / n)))
    name = f"tiled{copies}"
    wfdb.wrsamp(name, fs=src.fs, units=src.units, sig_name=src.sig_name,
                d_signal=np.tile(src.d_signal, (copies, 1)), fmt=src.fmt, adc_gain=src.adc_gain,
                baseline=src.baseline, write_dir=str(out_dir))  # fmt: skip
    wfdb.wrann(name, "atr", np.concatenate([ann.sample + k * n for k in range(copies)]),
               list(ann.symbol) * copies, fs=src.fs, write_dir=str(out_dir))  # fmt: skip
    return out_dir / name


# A forked child inherits its parent's peak RSS in ``ru_maxrss`` (kept over exec): each run
# is started from this small launcher (``python -S``, a few MB), never from the benchmark.
_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(fd, 1)
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def peak_rss_mb(cmd: list[str]) -> tuple[float, float]:
    """Peak resident set size (MB) and wall time (s) of ``cmd`` run in its own process."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, *cmd], capture_output=True,
                          text=True, check=False)
    wall = time.perf_counter() - t0
    code, maxrss_kib = (int(v) for v in done.stdout.split()[-2:])
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({code}): {done.stderr[-2000:]}")
    return maxrss_kib / 1024.0, wall  # ru_maxrss is in KiB on Linux


def measure(record: Path, out_dir: Path) -> dict[str, Any]:
    """The three runs of the module docstring on ``record``."""
    py = sys.executable
    cli = str(Path(py).parent / "cardioliquid")
    runs = {
        "wfdb.rdrecord (peer)": [py, "-c", f"import wfdb; wfdb.rdrecord({str(record)!r})"],
        "import torch + cardioliquid (no record)": [
            py, "-c", "import torch, cardioliquid.scoring.batch, cardioliquid.models"],
        "cardioliquid score (whole record)": [
            cli, "score", f"{record}.hea", "--task", "arrhythmia", "--out", str(out_dir),
            "--no-progress"],
    }  # fmt: skip
    rows = {}
    for label, cmd in runs.items():
        mb, wall = peak_rss_mb(cmd)
        rows[label] = {"peak_rss_mb": round(mb, 1), "wall_s": round(wall, 2)}
    peer = rows["wfdb.rdrecord (peer)"]["peak_rss_mb"]
    for row in rows.values():
        row["vs_peer"] = round(row["peak_rss_mb"] / peer, 2)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mirror", default=os.environ.get("CARDIOLIQUID_DATA_MIRROR", "../shared/data"))
    p.add_argument("--hours", type=float, default=24.0, help="length of the tiled record")
    p.add_argument("--json", default=str(DEFAULT_OUT))
    a = p.parse_args(argv)
    mirror = Path(a.mirror)
    if not (mirror / "mitdb" / f"{SOURCE_RECORD}.hea").is_file():
        sys.exit(f"bench_memory: {mirror / 'mitdb' / SOURCE_RECORD}.hea not found "
                 "(pass --mirror or set CARDIOLIQUID_DATA_MIRROR)")
    with tempfile.TemporaryDirectory(prefix="bench_memory_") as tmp:
        record = tile_record(mirror, a.hours, Path(tmp))
        import wfdb

        header = wfdb.rdheader(str(record))
        signal_mb = header.sig_len * header.n_sig * 4 / 1e6  # float32, as the package holds it
        rows = measure(record, Path(tmp) / "out")
        beats = len(wfdb.rdann(str(record), "atr").sample)
    result = {
        "record": f"MIT-BIH {SOURCE_RECORD} tiled to {header.sig_len / header.fs / 3600:.2f} h",
        "samples_per_channel": int(header.sig_len), "channels": int(header.n_sig),
        "annotations": beats, "signal_float32_mb": round(signal_mb, 1), "runs": rows,
        "machine": {"cpu": platform.processor() or platform.machine(),
                    "python": platform.python_version()},
    }  # fmt: skip
    out = Path(a.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    print(f"{result['record']}: {signal_mb:.0f} MB of float32 signal, {beats:,} annotations")
    print("| run | peak RSS (MB) | × peer | wall (s) |")
    print("|---|---:|---:|---:|")
    for label, row in rows.items():
        print(f"| {label} | {row['peak_rss_mb']:,.0f} | {row['vs_peer']:.2f} | "
              f"{row['wall_s']:.1f} |")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
