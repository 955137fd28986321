"""One run per output folder: the lock of ``cardioliquid score`` (two real processes)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cardioliquid.scoring import lock as lock_mod
from cardioliquid.scoring.batch import ScoreOptions, score_paths
from cardioliquid.scoring.lock import LOCK_NAME, OutputLockedError, acquire

# Scores like `cardioliquid score`, but every record waits for a `go` file first, so the
# run is certainly still alive (holding its lock) when the second run starts.
HELD_LAUNCHER = """
import sys, time
from pathlib import Path
from cardioliquid.scoring import batch
from cardioliquid.scoring.cli import main

go = Path(sys.argv[1])
real = batch.score_record

def waiting(*a, **k):
    deadline = time.monotonic() + 120
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return real(*a, **k)

batch.score_record = waiting
if __name__ == "__main__":
    sys.exit(main(sys.argv[2:]))
"""


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_second_run_into_the_same_folder_is_refused_while_the_first_lives(
    tmp_path, ecg_ckpt
):
    from scoring_helpers import score_launcher, synthetic_ecg, write_wfdb

    root = tmp_path / "db"
    for i in range(2):
        write_wfdb(synthetic_ecg(20.0, seed=i), root)
    out, go = tmp_path / "out", tmp_path / "go"
    held = tmp_path / "held_score.py"
    held.write_text(HELD_LAUNCHER)
    args = [str(root), "--task", "arrhythmia", "--model", str(ecg_ckpt), "--no-progress",
            "--out", str(out)]  # fmt: skip
    first = subprocess.Popen(
        [sys.executable, str(held), str(go), *args], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (out / LOCK_NAME).exists() and time.monotonic() < deadline:
            assert first.poll() is None, first.communicate()
            time.sleep(0.05)
        owner = json.loads((out / LOCK_NAME).read_text())
        assert owner["pid"] == first.pid and owner["host"] == socket.gethostname()

        second = subprocess.run(
            [sys.executable, str(score_launcher(tmp_path)), *args],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert second.returncode == 2, second.stderr
        assert "in use by a live run" in second.stderr
        assert f"pid {first.pid}" in second.stderr
        assert not list(out.glob("*.done.json"))  # the refused run wrote nothing
    finally:
        go.touch()
        _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["records"] == {"total": 2, "done": 2, "skipped": 0, "resumed": 0,
                                  "set_aside": 0, "failed": 0}
    assert not (out / LOCK_NAME).exists()  # released at the end


def test_a_dead_owners_lock_is_taken_over_and_only_stale_temporaries_go(tmp_path, ecg_ckpt):
    from scoring_helpers import synthetic_ecg, write_wfdb

    root = tmp_path / "db"
    write_wfdb(synthetic_ecg(20.0, seed=0), root)
    out = tmp_path / "out"
    out.mkdir()
    dead = _dead_pid()
    (out / LOCK_NAME).write_text(json.dumps({"pid": dead, "host": socket.gethostname()}))
    stale = out / f".syn0_beats.csv.{dead}.tmp"
    stale_dir = out / f".syn0.pid{dead}.abc123.tmp"
    live = out / f".other_beats.csv.{os.getpid()}.tmp"  # a live writer's: kept
    stale.write_text("half")
    stale_dir.mkdir()
    live.write_text("being written")
    summary = score_paths(
        [root], ScoreOptions("arrhythmia", str(ecg_ckpt), str(out)), progress=False
    )
    assert summary["records"]["done"] == 1
    assert not stale.exists() and not stale_dir.exists()
    assert live.exists()
    assert not (out / LOCK_NAME).exists()


def test_lock_held_in_this_process_refuses_a_second_taker(tmp_path):
    with acquire(tmp_path) as held:
        assert held.owner["pid"] == os.getpid()
        with pytest.raises(OutputLockedError, match="in use by a live run"):
            acquire(tmp_path)
    assert not (tmp_path / LOCK_NAME).exists()
    acquire(tmp_path).release()  # free again


def test_lock_from_another_host_is_refused_with_the_file_to_delete(tmp_path):
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": 1, "host": "elsewhere-node-7"}))
    with pytest.raises(OutputLockedError, match=r"another host.*delete .*cardioliquid-score\.lock"):
        acquire(tmp_path)


def test_unreadable_lock_counts_as_dead(tmp_path):
    (tmp_path / LOCK_NAME).write_text("{half a json")
    lk = acquire(tmp_path)
    assert lk.took_over is None and json.loads((tmp_path / LOCK_NAME).read_text())["pid"]
    lk.release()


def test_the_refusal_is_exit_2_from_the_command_line(tmp_path, ecg_ckpt, capsys):
    from cardioliquid.scoring.cli import main

    with acquire(tmp_path / "out"):
        code = main([str(tmp_path), "--task", "arrhythmia", "--model", str(ecg_ckpt),
                     "--out", str(tmp_path / "out"), "--no-progress"])  # fmt: skip
    assert code == 2
    assert "expected an output folder no other run uses" in capsys.readouterr().err


def test_temporary_names_carry_their_writers_pid():
    assert lock_mod._tmp_pid(".100_beats.csv.4242.tmp") == 4242
    assert lock_mod._tmp_pid(".100.pid77.x1y2z3.tmp") == 77
    assert lock_mod._tmp_pid(".odd.tmp") is None


def test_a_distributed_run_refuses_a_locked_folder_before_writing(tmp_path, ecg_ckpt):
    from scoring_helpers import synthetic_ecg, write_wfdb

    from cardioliquid.scoring.distributed import score_paths_distributed

    hea = write_wfdb(synthetic_ecg(20.0), tmp_path / "db")
    out = tmp_path / "out"
    opts = ScoreOptions("arrhythmia", str(ecg_ckpt), str(out))
    with acquire(out), pytest.raises(OutputLockedError, match="in use by a live run"):
        score_paths_distributed([hea], opts, devices=1, progress=False)
    assert sorted(p.name for p in out.iterdir()) == []  # nothing written, lock released
    summary = score_paths_distributed([hea], opts, devices=1, progress=False)
    assert summary["records"]["done"] == 1 and not (out / LOCK_NAME).exists()


def _children(pid: int) -> list[int]:
    kids = []
    for stat in os.listdir("/proc"):
        if stat.isdigit():
            try:
                fields = Path(f"/proc/{stat}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # gone meanwhile
                continue
            if int(fields[1]) == pid:
                kids.append(int(stat))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_workers_of_a_killed_run_end_with_it(tmp_path, ecg_ckpt):
    """kill -9 of a `--workers 2` run left its workers blocked forever, beside the next run."""
    from scoring_helpers import score_launcher, synthetic_ecg, write_wfdb

    root = tmp_path / "db"
    for i in range(6):
        write_wfdb(synthetic_ecg(60.0, seed=i), root)
    run = subprocess.Popen(
        [sys.executable, str(score_launcher(tmp_path)), str(root), "--task", "arrhythmia",
         "--model", str(ecg_ckpt), "--no-progress", "--workers", "2", "--out",
         str(tmp_path / "out")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while len(kids := _children(run.pid)) < 2 and time.monotonic() < deadline:
            assert run.poll() is None, "the run ended before its workers started"
            time.sleep(0.05)
        assert len(kids) >= 2, kids
    finally:
        run.kill()
        run.wait()
    deadline = time.monotonic() + 120
    while any(map(_alive, kids)) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [k for k in kids if _alive(k)]
    for k in left:  # leave nothing behind, even when the test fails
        os.kill(k, 9)
    assert not left, f"workers outlived the run: {left}"
