"""Atomic file writes: every output goes to a temporary name and is renamed when complete.

One mechanism for the whole package, so a crash or a kill at any moment never
leaves a half-written file under its final name, whichever layer wrote it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

TMP_SUFFIX = ".tmp"
"""Suffix of in-progress files (hidden, per process: ``.<name>.<pid>.tmp``)."""

# Read once, at import (single-threaded): os.umask can only be read by setting it.
_UMASK = os.umask(0o022)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK
"""Mode of a finished file: what ``open()`` would give. Some writers (safetensors)
create their file owner-only (0600), which would hide a model or an output from
the rest of a team."""


def temporary_path(path: str | os.PathLike) -> Path:
    """The in-progress name of ``path``: hidden, in the same folder (so the rename is atomic)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)``, then rename ``tmp`` to ``path``; ``tmp`` never outlives a failure.

    Parameters
    ----------
    path : str or path
        Final file name; its folder is created if needed.
    write : callable
        Writes the whole content to the path it is given (exactly that path:
        writers that append an extension must be handed an open file instead).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        write(tmp)
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8, ``\\n`` line ends kept as given) to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))
