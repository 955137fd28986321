"""Shared caches (models, recordings, profiles) and per-user session state.

Models are cached with ``st.cache_resource`` (one read-only instance shared
by all users), recordings with ``st.cache_data`` (each user gets a copy).
Everything a user changes (the replay, the play flag, uploads) lives in
``st.session_state``, never on a cached object.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import streamlit as st

from cardioliquid.io.recording import Recording
from cardioliquid.models.checkpoint import LoadedModel

UNTRAINED = "untrained demo model (random weights)"


@st.cache_resource(show_spinner="Loading the model…")
def cached_model(name_or_path: str, stamp: float = 0.0) -> LoadedModel:
    """A shipped model by name or a checkpoint file (``stamp``: file mtime, refreshes the cache)."""
    from cardioliquid.models.checkpoint import load_model

    loaded = load_model(name_or_path)
    loaded.model.eval()
    return loaded


@st.cache_resource(show_spinner="Building an untrained demo model…")
def untrained_model(task: str) -> LoadedModel:
    """A randomly initialised liquid model, for when no trained model ships yet."""
    import torch

    from cardioliquid.models import create_model
    from cardioliquid.models.checkpoint import load_model, save_model
    from cardioliquid.signal.config import BeatPreprocessing, WindowPreprocessing

    torch.manual_seed(0)
    if task == "arrhythmia":
        from cardioliquid.signal.windows import n_beat_features

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
    from cardioliquid.io import load_recording

    return load_recording(path)


@st.cache_resource(show_spinner="Profiling the model on this machine…", max_entries=8)
def cached_profile(name_or_path: str, stamp: float, untrained_task: str = "") -> dict[str, Any]:
    """The device team's profile report of a model, as a plain dict."""
    from cardioliquid.device import profile_model

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


def session_dir() -> Path:
    """A temporary folder private to this browser session (uploads go here)."""
    if "session_dir" not in st.session_state:
        st.session_state.session_dir = tempfile.mkdtemp(prefix="cardioliquid-session-")
    return Path(st.session_state.session_dir)


MODALITY = {"arrhythmia": "ecg", "seizure": "eeg"}
"""The recording modality each task's models read."""


def model_modality(name: str) -> str:
    """``"ecg"`` or ``"eeg"`` for a shipped model name ("" when it cannot be read)."""
    try:
        return MODALITY.get(cached_model(name).task, "")
    except Exception:  # an unreadable shipped model is offered, and its error shown on choice
        return ""
