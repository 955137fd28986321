"""Where the app finds recordings and models: the data folder, uploads, shipped models.

No Streamlit here: the views call these functions and show their errors.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cardioliquid._atomic import atomic_write_bytes
from cardioliquid.errors import CheckpointError, RecordingError
from cardioliquid.io.pull import manifest_path

DATA_DIR_ENV = "CARDIOLIQUID_DATA_DIR"
"""Environment variable pointing the app at another data folder (tests, deployments)."""

RECORD_SUFFIXES = (".hea", ".edf", ".bdf")
UPLOAD_SUFFIXES = (".hea", ".dat", ".atr", ".edf", ".bdf", ".seizures", ".tsv")
CHECKPOINT_SUFFIXES = (".safetensors", ".ckpt")
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
SESSION_PREFIX = "cardioliquid-session-"
"""Prefix of the per-session upload folders (in the system's temporary folder)."""
SESSION_MAX_AGE_S = 24 * 3600.0
"""A session folder untouched for this long belongs to a session that has ended."""


@dataclass(frozen=True)
class RecordChoice:
    """One recording the user can pick: a label and the path to load."""

    label: str
    path: str
    demo: bool = False


def data_dir() -> Path:
    """The data folder: ``$CARDIOLIQUID_DATA_DIR`` or ``data/`` beside ``app.py``."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "data"


def _demo_paths(root: Path) -> list[Path]:
    """Records named by ``<root>/manifests/demo.json`` (any list of paths or records in it)."""
    manifest = root / "manifests" / "demo.json"
    if not manifest.is_file():  # a data folder elsewhere: the demo set of the source tree
        try:
            manifest = Path(manifest_path("demo"))
        except Exception:  # no manifest shipped: no demo set to star
            return []
        if not manifest.is_file():
            return []
    try:
        content = json.loads(manifest.read_text())
    except (OSError, json.JSONDecodeError):
        return []
    found: list[Path] = []

    def visit(node) -> None:
        if isinstance(node, str):
            p = Path(node)
            for cand in (p,) if p.is_absolute() else (root / p,):
                for suffix in ("", *RECORD_SUFFIXES):
                    c = cand.with_name(cand.name + suffix) if suffix else cand
                    if c.is_file() and c.suffix.lower() in RECORD_SUFFIXES:
                        found.append(c.resolve())
                        return
        elif isinstance(node, dict):
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(content)
    return list(dict.fromkeys(found))


def list_records(root: str | os.PathLike | None = None) -> list[RecordChoice]:
    """Recordings under the data folder, the demo set first.

    Parameters
    ----------
    root : path, optional
        Folder to search (default :func:`data_dir`); WFDB headers, EDF and BDF
        files at any depth (``data/cache`` skipped).

    Returns
    -------
    list of RecordChoice
    """
    root = Path(root) if root is not None else data_dir()
    if not root.is_dir():
        return []
    demo = _demo_paths(root)
    choices = [RecordChoice(f"★ demo · {p.stem}", str(p), True) for p in demo]
    seen = set(demo)
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in RECORD_SUFFIXES or "cache" in path.relative_to(root).parts:
            continue
        if path.resolve() in seen or not path.is_file():
            continue
        rel = path.relative_to(root)
        choices.append(RecordChoice(f"{rel.parent}/{path.stem}".lstrip("./"), str(path)))
    return choices


def _safe_name(name: str) -> str:
    base = Path(name).name
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", base) or "upload"


def save_uploads(files: Sequence[tuple[str, bytes]], dest: str | os.PathLike) -> Path:
    """Write uploaded recording files into ``dest`` and return the path to load.

    Parameters
    ----------
    files : sequence of (name, bytes)
        A WFDB record (``.hea`` + ``.dat`` [+ ``.atr``]) or one EDF/BDF file.
    dest : path
        A per-session folder.

    Returns
    -------
    Path
        The header (WFDB) or the EDF/BDF file.

    Raises
    ------
    RecordingError
        Nothing was uploaded, a file type is not a recording's, or a WFDB
        header came without its signal file.
    """
    if not files:
        raise RecordingError(None, "expected a .hea + .dat pair or an .edf/.bdf file, got nothing")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, data in files:
        safe = _safe_name(name)
        suffix = Path(safe).suffix.lower()
        if suffix not in UPLOAD_SUFFIXES:
            raise RecordingError(
                name, f"expected one of {', '.join(UPLOAD_SUFFIXES)} files, got {suffix or 'none'}"
            )
        if len(data) > MAX_UPLOAD_BYTES:
            raise RecordingError(
                name, f"expected at most {MAX_UPLOAD_BYTES} bytes, got {len(data)}"
            )
        target = dest / safe
        written.append(atomic_write_bytes(target, data))
    signals = [p for p in written if p.suffix.lower() in (".edf", ".bdf")]
    headers = [p for p in written if p.suffix.lower() == ".hea"]
    if len(signals) + len(headers) > 1:  # never pick one of several silently
        names = ", ".join(p.name for p in headers + signals)
        raise RecordingError(None, f"expected one recording per upload, got "
                                   f"{len(signals) + len(headers)} ({names}): remove the "
                                   f"others from the upload box")
    if headers:
        header = headers[0]
        if not any(p.suffix.lower() == ".dat" for p in written) and not (
            header.with_suffix(".dat").exists()
        ):
            raise RecordingError(header.name, "expected the .dat signal file with the header")
        return header
    if signals:
        return signals[0]
    raise RecordingError(
        written[0].name, "expected a .hea header or an .edf/.bdf file among the uploads"
    )


def save_checkpoint_upload(name: str, data: bytes, dest: str | os.PathLike) -> Path:
    """Write an uploaded model file into ``dest``; only safetensors or Lightning ``.ckpt``."""
    suffix = Path(name).suffix.lower()
    if suffix not in CHECKPOINT_SUFFIXES:
        raise CheckpointError(
            name, f"expected a .safetensors or .ckpt file, got {suffix or 'none'}"
        )
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    return atomic_write_bytes(dest / _safe_name(name), data)


def remove_stale_session_dirs(root: str | os.PathLike | None = None,
                              max_age_s: float = SESSION_MAX_AGE_S) -> list[Path]:
    """Delete session folders (``cardioliquid-session-*``) untouched for ``max_age_s``.

    A live session touches its folder whenever it uses it (see
    :func:`cardioliquid.app.state.session_dir`), so only ended sessions' uploads go.
    """
    import shutil
    import tempfile
    import time

    root = Path(root) if root is not None else Path(tempfile.gettempdir())
    now, removed = time.time(), []
    for folder in root.glob(f"{SESSION_PREFIX}*"):
        try:
            stale = folder.is_dir() and now - folder.stat().st_mtime > max_age_s
        except OSError:
            continue
        if stale:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def scrub_paths(message: str, roots: Sequence[str | os.PathLike] = ()) -> str:
    """``message`` without the server's folders: a path inside a session folder
    (``.../cardioliquid-session-*/...``) or under one of ``roots`` keeps only its file name."""
    text = str(message)
    inner = r"(?:[^/\s:'\"]+/)*"
    for root in (str(r).rstrip("/") for r in roots if str(r)):
        text = re.sub(re.escape(root) + "/" + inner, "", text)
    return re.sub(r"(?:/[^/\s:'\"]+)*/" + re.escape(SESSION_PREFIX) + r"[^/\s]*/" + inner, "",
                  text)
