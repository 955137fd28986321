"""``--distributed``: Lightning DDP over 2 CPU processes (gloo) equals the single-process run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def _outputs(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.name != "summary.json"}


@pytest.mark.slow
@pytest.mark.ddp
def test_ddp_two_cpu_processes_equal_single_process(tmp_path, ecg_ckpt):
    from scoring_helpers import score_launcher
    from test_batch import _add_bad_records, _ecg_folder

    root = tmp_path / "db"
    _ecg_folder(root, 3)
    _add_bad_records(root)
    launcher = score_launcher(tmp_path)
    base = [str(root), str(root / "broken.edf"), "--task", "arrhythmia", "--model", str(ecg_ckpt),
            "--no-progress"]  # broken.edf named: it fails (found by the search, it is set aside)
    single = subprocess.run(
        [sys.executable, str(launcher), *base, "--out", str(tmp_path / "one")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert single.returncode == 1, single.stderr  # the three bad records
    torchrun = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
    ]
    ddp = subprocess.run(
        [
            *torchrun,
            str(launcher),
            *base,
            "--out",
            str(tmp_path / "ddp"),
            "--distributed",
            "--devices",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "OMP_NUM_THREADS": "1"},
    )
    assert ddp.returncode != 0, ddp.stderr  # rank 0 reports the failures
    # torchrun then prints its own report of a failed worker: the run says why, first
    assert "exit status 1 because 3 records failed" in ddp.stderr, ddp.stderr
    assert "no record was lost" in ddp.stderr
    one, two = _outputs(tmp_path / "one"), _outputs(tmp_path / "ddp")
    assert sorted(one) == sorted(two)
    assert one == two
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert summary["distributed"]["world_size"] == 2
    assert summary["records"] == {"total": 6, "done": 3, "skipped": 0, "resumed": 0,
                                  "set_aside": 0, "failed": 3}
