"""Bounds on what a model file may ask for, checked before any tensor is built.

A model file's JSON header says how big a network to build (``model_kwargs``)
and what it reads (``preprocessing``); an upload to the app or a file handed
to ``cardioliquid score`` is untrusted, so a header asking for a million units
(terabytes of weights) or for no classes is refused here, with one
:class:`~cardioliquid.errors.CheckpointError` naming the file, before
:func:`~cardioliquid.models.registry.create_model` runs. All bounds live in
:data:`LIMITS`.
"""

from __future__ import annotations

import math
import os
from typing import Any

from cardioliquid._check import with_article
from cardioliquid.errors import CheckpointError

LIMITS: dict[str, tuple[float, float]] = {
    # model_kwargs
    "n_chans": (1, 256),
    "n_outputs": (2, 64),
    "n_times": (8, 65536),
    "sfreq": (1.0, 10000.0),
    "n_features": (0, 256),
    "units": (3, 1024),
    "motor_neurons": (1, 1024),
    "feature_hidden": (0, 1024),
    "ode_unfolds": (1, 64),
    "conv_layers": (1, 8),
    "conv_channels": (1, 1024),
    "kernel_sizes": (1, 255),
    "strides": (1, 64),
    "conv_weights": (1, 2**22),  # in x out x kernel of one conv layer
    # preprocessing
    "classes": (2, 64),
    "fs": (1.0, 10000.0),
    "window_s": (0.05, 600.0),
    "hop_s": (0.01, 600.0),
    "beat_window_s": (0.05, 10.0),
    "filter_order": (1, 10),
    "local_rr_beats": (1, 1000),
    "channels": (0, 256),
}
"""(low, high), inclusive, of every size a model file sets."""

MODALITIES: dict[str, str] = {"arrhythmia": "ecg", "seizure": "eeg"}
"""The signal kind each task's models read."""


def _fail(path: str | os.PathLike, what: str, expected: str, got: Any) -> None:
    raise CheckpointError(
        path, f"model description: expected {what} {expected}, got {got!r}; the file is "
        f"corrupt or not a CardioLiquid model"
    )


def _number(path: str | os.PathLike, key: str, value: Any, integer: bool = True,
            limit: str | None = None) -> float:
    lo, hi = LIMITS[limit or key]
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and (not integer or float(value).is_integer())
    if not ok or not lo <= value <= hi:
        kind = "an integer" if integer else "a number"
        _fail(path, f"{key!r}", f"{kind} in [{lo:g}, {hi:g}]", value)
    return value


def _int_list(path: str | os.PathLike, key: str, value: Any) -> list[int]:
    if not isinstance(value, list | tuple):
        _fail(path, f"{key!r}", "a list of integers", value)
    lo, hi = LIMITS["conv_layers"]
    if not lo <= len(value) <= hi:
        _fail(path, f"{key!r}", f"{int(lo)} to {int(hi)} entries", value)
    return [int(_number(path, key, v)) for v in value]


def check_model_kwargs(path: str | os.PathLike, kwargs: Any) -> None:
    """Raise :class:`CheckpointError` unless every size in ``kwargs`` is within :data:`LIMITS`."""
    if not isinstance(kwargs, dict):
        _fail(path, "'model_kwargs'", "an object", type(kwargs).__name__)
    for key in ("n_chans", "n_outputs", "n_times", "sfreq"):
        if key not in kwargs:
            _fail(path, f"'model_kwargs' to set {key!r}", "", "nothing")
    for key in ("n_chans", "n_outputs", "n_times", "n_features", "units", "motor_neurons",
                "feature_hidden", "ode_unfolds"):
        if key in kwargs:
            _number(path, key, kwargs[key])
    _number(path, "sfreq", kwargs["sfreq"], integer=False)
    layers = {k: _int_list(path, k, kwargs[k])
              for k in ("conv_channels", "kernel_sizes", "strides") if k in kwargs}
    c_in = int(kwargs["n_chans"])
    for c, k in zip(layers.get("conv_channels", [8, 8]), layers.get("kernel_sizes", [7, 5]),
                    strict=False):
        _number(path, "conv_channels", c)
        _number(path, "conv layer in x out x kernel", c_in * c * k, limit="conv_weights")
        c_in = c


def check_preprocessing(path: str | os.PathLike, prep: Any, kwargs: dict[str, Any]) -> None:
    """Raise :class:`CheckpointError` unless the preprocessing is within bounds and fits ``kwargs``.

    At least two distinct, named classes, as many as the model's outputs; a
    rate equal to the model's; a window of as many samples as the model reads.
    """
    classes = prep.classes
    lo, hi = LIMITS["classes"]
    names_ok = isinstance(classes, list | tuple) and all(
        isinstance(c, str) and c.strip() for c in classes
    )
    if not names_ok or not lo <= len(classes) <= hi or len(set(classes)) != len(classes):
        _fail(path, "'classes'", f"{int(lo)} to {int(hi)} distinct names", classes)
    if len(classes) != kwargs["n_outputs"]:
        _fail(path, "as many classes as outputs", f"({kwargs['n_outputs']})", classes)
    fs = _number(path, "fs", prep.fs, integer=False)
    if abs(fs - float(kwargs["sfreq"])) > 1e-6 * fs:
        _fail(path, "the preprocessing rate", f"equal to the model's ({kwargs['sfreq']} Hz)", fs)
    band = prep.bandpass
    if (len(band) != 2 or not all(isinstance(b, int | float) and math.isfinite(b) for b in band)
            or not 0 <= band[0] < band[1] <= LIMITS["fs"][1] / 2):
        # The rate of each recording is checked against the band when it is scored.
        _fail(path, "'bandpass'", "(low, high) with 0 <= low < high", list(band))
    _number(path, "filter_order", prep.filter_order)
    if prep.task == "arrhythmia":
        _number(path, "pre_s", prep.pre_s, integer=False, limit="beat_window_s")
        _number(path, "post_s", prep.post_s, integer=False, limit="beat_window_s")
        _number(path, "local_rr_beats", prep.local_rr_beats)
        if not isinstance(prep.lead_preference, list) or not all(
            isinstance(n, str) for n in prep.lead_preference
        ):
            _fail(path, "'lead_preference'", "a list of lead names", prep.lead_preference)
    else:
        _number(path, "window_s", prep.window_s, integer=False)
        _number(path, "hop_s", prep.hop_s, integer=False)
        chans = prep.channels
        if not isinstance(chans, list) or not all(isinstance(c, str) for c in chans):
            _fail(path, "'channels'", "a list of channel names", chans)
        _number(path, "number of channels", len(chans), limit="channels")
        if chans and len(chans) != kwargs["n_chans"]:
            _fail(path, f"as many channels as the model reads ({kwargs['n_chans']})", "", chans)
        if not isinstance(prep.scale_uv, int | float) or not prep.scale_uv > 0:
            _fail(path, "'scale_uv'", "a positive number", prep.scale_uv)
    if prep.n_times != kwargs["n_times"]:
        _fail(path, f"a window of the model's {kwargs['n_times']} samples",
              "from the preprocessing", prep.n_times)


def check_modality(path: str | os.PathLike, task: str, metadata: Any) -> str:
    """The modality the model reads: its ``metadata["modality"]`` if stated, which must fit."""
    if not isinstance(metadata, dict):
        _fail(path, "'metadata'", "an object", type(metadata).__name__)
    want = MODALITIES[task]
    stated = metadata.get("modality", want)
    if stated != want:
        _fail(path, f"'modality' {want!r} for {with_article(task)} model", "", stated)
    return want


def check_model_description(path: str | os.PathLike, name: Any, kwargs: Any, prep: Any,
                            metadata: Any) -> None:
    """All of the above, in order; raise :class:`CheckpointError` at the first problem."""
    if not isinstance(name, str):
        _fail(path, "'model_name'", "a registered model name", name)
    check_model_kwargs(path, kwargs)
    check_preprocessing(path, prep, kwargs)
    check_modality(path, prep.task, metadata)
