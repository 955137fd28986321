"""Shared caches (models, recordings, profiles) and per-user session state.

Models are cached with ``st.cache_resource`` (one read-only instance shared
by all users), recordings with ``st.cache_data`` (each user gets a copy).
Everything a user changes (the replay, the play flag, uploads) lives in
``st.session_state``, never on a cached object.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any

import streamlit as st
import torch

import cardioliquid
from cardioliquid.app.sources import (
    SESSION_PREFIX,
    data_dir,
    remove_stale_session_dirs,
    scrub_paths,
)
from cardioliquid.device import profile_model
from cardioliquid.errors import RecordingError
from cardioliquid.io import load_recording
from cardioliquid.io.recording import Recording
from cardioliquid.models import create_model
from cardioliquid.models.checkpoint import LoadedModel, load_model, save_model
from cardioliquid.signal.config import BeatPreprocessing, WindowPreprocessing
from cardioliquid.signal.windows import n_beat_features

UNTRAINED = "untrained demo model (random weights)"


@st.cache_resource(show_spinner="Loading the model…")
def cached_model(name_or_path: str, stamp: float = 0.0) -> LoadedModel:
    """A shipped model by name or a checkpoint file (``stamp``: file mtime, refreshes the cache)."""
    try:
        loaded = load_model(name_or_path)
    except RecordingError as e:  # CheckpointError: the page shows it without server paths
        raise public_error(e) from None
    loaded.model.eval()
    return loaded


def public_error(e: RecordingError) -> RecordingError:
    """The same error naming the file, not the server folder it was uploaded to."""
    return type(e)(public_text(e.path) if e.path else None, public_text(e.reason))


def public_text(message: str, roots: tuple[str | os.PathLike, ...] = ()) -> str:
    """``message`` for the page: a path in the session, data, package or temporary
    folder (or under ``roots``) keeps only its file name."""
    folders = [*roots, data_dir(), Path(cardioliquid.__file__).resolve().parent,
               tempfile.gettempdir()]  # fmt: skip
    if _in_session():
        folders.append(st.session_state.get("session_dir", ""))
    mirror = os.environ.get("CARDIOLIQUID_DATA_MIRROR", "")
    if mirror and Path(mirror).is_dir():
        folders.append(mirror)
    # the deepest folder first, so a folder inside another loses all of its path
    folders = sorted({str(f).rstrip("/") for f in folders if str(f)}, key=len, reverse=True)
    return scrub_paths(message, folders)


def _in_session() -> bool:
    try:
        return "session_dir" in st.session_state
    except Exception:  # no Streamlit session (tests, scripts)
        return False


@st.cache_resource(show_spinner="Building an untrained demo model…")
def untrained_model(task: str) -> LoadedModel:
    """A randomly initialised liquid model, for when no trained model ships yet."""
    torch.manual_seed(0)
    if task == "arrhythmia":
        prep = BeatPreprocessing()
        kwargs = {"n_chans": 1, "n_outputs": len(prep.classes), "n_times": prep.n_times,
                  "sfreq": prep.fs, "n_features": n_beat_features(prep)}  # fmt: skip
    else:
        prep = WindowPreprocessing()
        kwargs = {"n_chans": 1, "n_outputs": 2, "n_times": prep.n_times, "sfreq": prep.fs}
    model = create_model("liquid-cfc", **kwargs)
    folder = Path(tempfile.mkdtemp(prefix="cardioliquid-untrained-"))
    path = folder / f"untrained-{task}.safetensors"
    save_model(path, model, "liquid-cfc", kwargs, prep, metadata={"untrained": True})
    return load_model(path)


@st.cache_data(show_spinner="Reading the recording…", max_entries=8)
def cached_recording(path: str, stamp: float) -> Recording:
    """The recording at ``path`` (``stamp``: file mtime, so an edited file is re-read)."""
    return load_recording(path)


@st.cache_resource(show_spinner="Profiling the model on this machine…", max_entries=8)
def cached_profile(name_or_path: str, stamp: float, untrained_task: str = "") -> dict[str, Any]:
    """The device team's profile report of a model, as a plain dict."""
    if untrained_task:
        loaded = untrained_model(untrained_task)
    else:
        loaded = cached_model(name_or_path, stamp)
    return profile_model(loaded, repeats=50, warmup=5, batch=64, energy_seconds=0.3).to_dict()


def mtime(path: str) -> float:
    """Modification time of a file, 0 for names that are not files (shipped models)."""
    try:
        return os.path.getmtime(path)
    except OSError:
        return 0.0


class _SessionFolder:
    """Held in ``st.session_state``: when the session ends and its state is dropped, the
    folder goes with it (and at interpreter exit at the latest)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._finalizer = weakref.finalize(self, shutil.rmtree, path, True)


def session_dir() -> Path:
    """A temporary folder private to this browser session (uploads go here).

    The folder is deleted when the session's state is dropped; folders of
    sessions that ended without that (a killed server) are swept when a new
    session starts (:func:`cardioliquid.app.sources.remove_stale_session_dirs`).
    """
    if "session_dir" not in st.session_state:
        remove_stale_session_dirs()
        path = tempfile.mkdtemp(prefix=SESSION_PREFIX)
        st.session_state.session_dir = path
        st.session_state.session_dir_owner = _SessionFolder(path)
    path = Path(st.session_state.session_dir)
    path.mkdir(parents=True, exist_ok=True)
    os.utime(path)  # in use: not stale
    return path


MODALITY = {"arrhythmia": "ecg", "seizure": "eeg"}
"""The recording modality each task's models read."""


def model_modality(name: str) -> str:
    """``"ecg"`` or ``"eeg"`` for a shipped model name ("" when it cannot be read)."""
    try:
        return MODALITY.get(cached_model(name).task, "")
    except Exception:  # an unreadable shipped model is offered, and its error shown on choice
        return ""
