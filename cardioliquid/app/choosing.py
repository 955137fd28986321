"""Choosing what to replay: the recording, the model and the lead it reads (sidebar 1 and 2).

:class:`Choice` is what the user picked; the replay and every panel take it.
Two small helpers the whole page shares live here too: ``show_failure`` shows an
error with the server's folders left out, ``query_param`` reads a URL query
parameter (links that open a record, a model, a speed or autoplay).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from cardioliquid.app.replay import ReplaySession, fit_problem
from cardioliquid.app.sources import (
    list_records,
    save_checkpoint_upload,
    save_uploads,
)
from cardioliquid.app.state import (
    UNTRAINED,
    cached_model,
    cached_recording,
    model_modality,
    mtime,
    public_text,
    session_dir,
    untrained_model,
)
from cardioliquid.errors import CardioLiquidError
from cardioliquid.io import load_recording
from cardioliquid.io.recording import Recording
from cardioliquid.models.checkpoint import LoadedModel, list_pretrained
from cardioliquid.signal.leads import fused_leads

UPLOAD = "Upload a recording…"
UPLOAD_MODEL = "Upload a checkpoint…"


@dataclass
class Choice:
    """What the user picked: a recording, a model, and how to name them."""

    rec: Recording
    rec_key: str
    loaded: LoadedModel
    model_key: str
    model_label: str


def show_failure(where: Any, message: str, exc: BaseException | None = None) -> None:
    """Show ``message`` (and ``exc``) as an error in ``where``, without private paths."""
    detail = f"{message}: {exc}" if exc is not None else message
    where.error(public_text(detail), icon=":material/warning:")


def handle_recording_upload(
    files: list[Any], dest: str | Path
) -> tuple[Recording | None, str | None, str | None]:
    """Save uploaded files (objects with ``name`` and ``getvalue()``) in ``dest`` and read them.

    Returns
    -------
    rec, path, error : Recording or None, str or None, str or None
        The recording and its path, or an error message for the page.
    """
    try:
        pairs = [(f.name, f.getvalue()) for f in files]
        path = save_uploads(pairs, dest)
        return load_recording(path), str(path), None
    except (CardioLiquidError, OSError, ValueError) as e:
        error = f"Could not read the upload: {e}"
    except Exception as e:  # a reader library failing in an unforeseen way: keep the page up
        error = f"Could not read the upload ({type(e).__name__}): {e}"
    return None, None, public_text(error, (dest,))  # the file's name, not the server's folder


def query_param(name: str, default: str = "") -> str:
    """The page URL's ``name`` parameter, or ``default`` when absent or repeated."""
    value = st.query_params.get(name, default)
    return value if isinstance(value, str) else default


def choose_recording() -> tuple[Recording | None, str]:
    """Sidebar: the demo set, any record under the data folder, or an upload."""
    sb = st.sidebar
    sb.subheader("1 · Recording")
    choices = list_records()
    labels = [c.label for c in choices] + [UPLOAD]
    wanted = query_param("record")
    index = next((i for i, c in enumerate(choices) if wanted and wanted in c.path), 0)
    label = sb.selectbox("Recording", labels, index=index, key="record_choice",
                         help="Demo records from `make demo`, anything under data/, or your own")
    if not choices:
        sb.info("No recordings under the data folder yet: run `make demo` "
                "(`cardioliquid data pull demo`) or upload one.")  # fmt: skip
    if label == UPLOAD:
        files = sb.file_uploader(
            "WFDB (.hea + .dat [+ .atr]) or EDF/BDF", accept_multiple_files=True,
            type=["hea", "dat", "atr", "edf", "bdf"], key="record_upload",
        )  # fmt: skip
        if not files:
            return None, ""
        rec, path, error = handle_recording_upload(files, session_dir() / "uploads")
        if error:
            show_failure(st, error)
            return None, ""
        return rec, str(path)
    path = next(c.path for c in choices if c.label == label)
    try:
        return cached_recording(path, mtime(path)), path
    except CardioLiquidError as e:
        show_failure(st, "Could not read this recording", e)
    except Exception as e:
        show_failure(st, f"Could not read this recording ({type(e).__name__})", e)
    return None, ""


def replay_problem(rec: Recording, loaded: LoadedModel, model_key: str) -> str | None:
    """Why ``loaded`` cannot replay ``rec`` (:func:`~cardioliquid.app.replay.fit_problem`),
    worked out once per recording and model in this session; None when it can."""
    key = (rec.source, rec.record_id, rec.n_channels, rec.n_samples, model_key,
           mtime(model_key.split("|", 1)[0]))  # fmt: skip
    memo = st.session_state.setdefault("fit_problems", {})
    if key not in memo:
        why = fit_problem(rec, loaded)
        label = f"{rec.source or rec.record_id}: "
        memo[key] = None if why is None else public_text(why.removeprefix(label))
    return memo[key]


def _refusal(rec: Recording, name: str) -> str | None:
    """Why the shipped model ``name`` cannot replay ``rec`` (None: it can, or it cannot be
    loaded, which the page says when it is chosen)."""
    try:
        loaded = cached_model(name)
    except Exception:
        return None
    return replay_problem(rec, loaded, name)


def choose_model(rec: Recording) -> tuple[LoadedModel | None, str, str]:
    """Sidebar: a shipped model, an uploaded checkpoint, or an untrained stand-in.

    Shipped models that cannot replay this recording (another modality, or a
    channel count or montage it does not have) are not offered; a caption says
    which and why.
    """
    sb = st.sidebar
    sb.subheader("2 · Model")
    same = [n for n in list_pretrained() if model_modality(n) in (rec.modality, "")]
    refused = {n: why for n in same
               if model_modality(n) == rec.modality and (why := _refusal(rec, n))}  # fmt: skip
    shipped = [n for n in same if n not in refused]
    options = [*shipped, UPLOAD_MODEL]
    if not same:
        options.insert(0, UNTRAINED)
    prefer = {"ecg": "arrhythmia", "eeg": "seizure"}.get(rec.modality, "")
    if rec.modality == "eeg" and rec.n_channels == 1 and "seizure-1ch" in shipped:
        prefer = "seizure-1ch"
    wanted = query_param("model", prefer)
    index = options.index(wanted) if wanted in options else 0
    name = sb.selectbox("Model", options, index=index, key=f"model_choice_{rec.modality}",
                        help=f"Models for {rec.modality.upper()} recordings (shipped, or your own)")
    if refused:
        sb.caption("Not offered for this recording: " + "; ".join(
            f"`{n}` ({why})" for n, why in refused.items()))  # fmt: skip
    try:
        if name == UPLOAD_MODEL:
            up = sb.file_uploader("Model file (.safetensors or Lightning .ckpt)",
                                  type=["safetensors", "ckpt"], key="model_upload")  # fmt: skip
            if up is None:
                return None, "", ""
            path = save_checkpoint_upload(up.name, up.getvalue(), session_dir() / "models")
            return cached_model(str(path), mtime(str(path))), str(path), up.name
        if name == UNTRAINED:
            task = "arrhythmia" if rec.modality == "ecg" else "seizure"
            return untrained_model(task), f"untrained:{task}", UNTRAINED
        return cached_model(name), name, name
    except CardioLiquidError as e:
        show_failure(st, "This model cannot be used", e)
    except Exception as e:
        show_failure(st, f"This model could not be loaded ({type(e).__name__})", e)
    return None, "", ""


def choose_lead(rec: Recording, loaded: LoadedModel, model_key: str
                ) -> tuple[LoadedModel, str, str | None]:
    """Sidebar: the ECG lead a heartbeat model reads, its own choice first.

    Returns the model (reading the chosen lead), its replay key (a new lead
    rebuilds the replay) and a warning when the lead is not the model's own.
    """
    if loaded.task != "arrhythmia" or rec.n_channels < 2:
        return loaded, model_key, None
    prep = loaded.preprocessing
    own = fused_leads(rec.channel_names, prep.lead_preference, prep.fuse_leads)
    both = " + ".join(own) if len(own) > 1 else None  # the leads it averages
    options = ([both] if both else []) + list(rec.channel_names)
    index = 0 if both else (options.index(own[0]) if own else 0)
    lead = st.sidebar.selectbox(
        "Lead the model reads", options, index=index, key=f"lead_choice_{rec.record_id}",
        help="By default the model's own choice: the first of its preferred leads "
             f"({', '.join(loaded.preprocessing.lead_preference[:3])}, ...) this record has"
             + (", averaged with the next one it has" if both else ""),
    )  # fmt: skip
    if lead == both or (not both and own and lead == own[0]):
        return loaded, model_key, None
    choice = both or (own[0] if own else "")
    warning = (f"The model reads lead {lead} alone, not its own choice"
               f"{' (' + choice + ')' if choice else ''}: it was chosen and evaluated on "
               f"{choice or loaded.preprocessing.lead_preference[0]}, and its calls on one "
               f"lead, or on other leads, are less reliable (model card).")  # fmt: skip
    return loaded.reading_leads([lead]), f"{model_key}|lead={lead}", warning


def partner_leads(replay: ReplaySession) -> list[str]:
    """The leads a heartbeat model averages with its first one on this recording."""
    prep = replay.loaded.preprocessing
    return fused_leads(replay.rec.channel_names, prep.lead_preference, prep.fuse_leads)[1:]


def reads_every_lead_p_waves(replay: ReplaySession) -> bool:
    """Whether the AF gate reads the P waves of every lead the model averages on this record."""
    decision = replay.loaded.decision
    return decision.needs_atrial and decision.atrial_leads == "max" and bool(
        partner_leads(replay))
