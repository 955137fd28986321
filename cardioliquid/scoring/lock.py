"""One scoring run per output folder: a lock file naming its owner (pid and host).

:func:`acquire` creates ``<out>/.cardioliquid-score.lock`` exclusively
(``O_CREAT | O_EXCL``) and writes the owner's pid, host, start time and
command into it. A second run into the same folder finds the lock and is
refused with :class:`OutputLockedError` (``cardioliquid score`` exits 2) while
the owner lives. When the owner is dead (same host, no such process), the lock
is taken over and the temporaries of dead processes are removed; nothing of a
live process is touched. A lock held from another host cannot be checked from
here: it is refused, and the message says which file to delete if that run is
known to be gone.

A distributed run keeps one lock, held by rank 0 (the other ranks write only
once the process group has formed, which needs rank 0 past the lock).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cardioliquid._atomic import TMP_SUFFIX
from cardioliquid.errors import CardioLiquidError

LOCK_NAME = ".cardioliquid-score.lock"
"""The lock file's name inside the output folder."""


class OutputLockedError(CardioLiquidError):
    """Another live run owns the output folder."""


@dataclass
class OutputLock:
    """A held lock; :meth:`release` removes the file (only if it is still this run's)."""

    path: Path
    owner: dict[str, Any]
    took_over: dict[str, Any] | None = None

    def release(self) -> None:
        """Remove the lock file if it still names this run."""
        if _read(self.path) == self.owner:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> OutputLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _owner() -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join(sys.argv)[:500],
    }


def _read(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    except OSError:
        return False
    return True


def _owner_alive(doc: dict[str, Any] | None) -> bool | None:
    """True / False for an owner on this host; None when it cannot be told (another host)."""
    if doc is None:
        return False  # unreadable: its writer died between creating and writing it
    if doc.get("host") != socket.gethostname():
        return None
    try:
        return pid_alive(int(doc.get("pid", -1)))
    except (TypeError, ValueError):
        return False


def acquire(out_dir: str | os.PathLike) -> OutputLock:
    """Take the lock of ``out_dir`` for this process.

    Parameters
    ----------
    out_dir : str or path
        The output folder (created if needed).

    Returns
    -------
    OutputLock
        Release it (or use it as a context manager) when the run ends.

    Raises
    ------
    OutputLockedError
        Another run owns the folder: alive on this host, or on another host.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK_NAME
    me = _owner()
    took_over = None
    for _ in range(20):  # a takeover race with another starting run settles in a few rounds
        if _create(path, me):
            lock = OutputLock(path, me, took_over)
            remove_stale_temporaries(out)
            return lock
        doc = _read(path)
        if doc is None:  # perhaps being written this instant: look again before judging
            time.sleep(0.2)
            doc = _read(path)
        alive = _owner_alive(doc)
        if alive or alive is None:
            raise OutputLockedError(_locked_message(out, path, doc, alive))
        if _move_aside(path, doc, me["pid"]):
            took_over = doc
    raise OutputLockedError(f"{out}: could not take the lock {path} (other runs keep starting)")


def _create(path: Path, owner: dict[str, Any]) -> bool:
    """Create the lock naming ``owner``; False if it exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        json.dump(owner, f)
    return True


def _move_aside(path: Path, dead: dict[str, Any] | None, pid: int) -> bool:
    """Remove the lock of a dead owner; False if it had changed (a racing takeover)."""
    aside = path.with_name(f"{LOCK_NAME}.{pid}.stale")
    try:
        os.replace(path, aside)  # of several contenders, one moves a given file
    except FileNotFoundError:
        return False
    if _read(aside) != dead:  # another run's fresh lock by then: put it back
        with contextlib.suppress(FileExistsError):
            os.link(aside, path)
        aside.unlink(missing_ok=True)
        return False
    aside.unlink(missing_ok=True)
    return True


def _locked_message(out: Path, path: Path, doc: dict[str, Any] | None, alive: bool | None) -> str:
    who = f"pid {doc.get('pid')} on {doc.get('host')}, started {doc.get('started_utc')}"
    if alive is None:
        return (
            f"{out}: expected an output folder no other run uses, got one locked by {who} "
            f"(another host: its liveness cannot be checked from here). Use another --out, "
            f"or delete {path} if that run is gone."
        )
    return (
        f"{out}: expected an output folder no other run uses, got one in use by a live run "
        f"({who}). Wait for it to finish or use another --out."
    )


def _tmp_pid(name: str) -> int | None:
    """The pid in a temporary's name (``.<file>.<pid>.tmp``, ``.<record>.pid<pid>.<x>.tmp``)."""
    m = re.search(r"\.pid(\d+)\.", name) or re.fullmatch(r".*\.(\d+)\.tmp", name)
    return int(m.group(1)) if m else None


def remove_stale_temporaries(out_dir: str | os.PathLike) -> list[Path]:
    """Delete the temporaries in ``out_dir`` whose writing process is dead; return them.

    Temporaries are named ``.<file>.<pid>.tmp`` (:func:`cardioliquid._atomic.temporary_path`)
    or ``.<record>.pid<pid>.<random>.tmp`` (folders of the annotation writer); one whose
    pid is alive on this host is kept.
    """
    out = Path(out_dir)
    removed = []
    for p in sorted(out.glob(f".*{TMP_SUFFIX}")) if out.is_dir() else []:
        pid = _tmp_pid(p.name)
        if pid is not None and pid_alive(pid):
            continue
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        removed.append(p)
    return removed
