"""A short fit with DDP on 2 CPU processes (gloo), through cardioliquid-train."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from cardioliquid.models.checkpoint import load_model

pytestmark = [pytest.mark.ddp, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_fit_on_two_cpu_processes(tmp_path, make_config):
    cfg = make_config(tmp_path, "liquid-cfc", epochs=1)
    out = tmp_path / "ddp.safetensors"
    env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()),
               OMP_NUM_THREADS="1", PL_DISABLE_FORK="1")
    cmd = [sys.executable, "-m", "cardioliquid.training.cli", "fit", "--config", str(cfg),
           "--trainer.strategy", "ddp", "--trainer.devices", "2",
           "--trainer.accelerator", "cpu", "--export_to", str(out)]
    log = tmp_path / "ddp.log"
    # Output to a file, not a pipe: a helper process of a rank may outlive it holding the pipe.
    with open(log, "w") as sink:
        proc = subprocess.run(cmd, env=env, stdout=sink, stderr=subprocess.STDOUT, timeout=240,
                              cwd=tmp_path, check=False)
    text = log.read_text()
    assert proc.returncode == 0, text[-3000:]
    # Both ranks joined the gloo process group.
    assert "distributed_backend=gloo" in text
    assert "Starting with 2 processes" in text
    loaded = load_model(out)
    assert loaded.model_kwargs["n_outputs"] == 3
