"""What the training command line can get wrong, checked before anything is trained.

:class:`~cardioliquid.training.cli.TrainCLI` calls these before it reads data
or builds a model, so bad usage is one line naming the option (exit 2), never a
traceback after an hour of training.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from cardioliquid.errors import CardioLiquidError, CheckpointError

CKPT_KEYWORDS = ("best", "last", "hpc")
"""``--ckpt_path`` values that Lightning resolves itself (``registry:...`` too)."""


def check_export_target(target: str | os.PathLike) -> Path:
    """Refuse an ``--export_to`` the model could not be written to, before any training.

    Parameters
    ----------
    target : str or path
        The ``--export_to`` value.

    Returns
    -------
    Path
        ``target``; its folder exists afterwards.

    Raises
    ------
    CardioLiquidError
        The name does not end in ``.safetensors`` (``evaluate``, ``score`` and
        ``profile`` read models by that suffix), names a folder, or its folder
        cannot be created or written.
    """
    path = Path(target)
    if path.is_dir() or str(target).endswith(("/", os.sep)):
        raise CardioLiquidError(f"--export_to {target}: is a folder; name the model file "
                                f"inside it, e.g. {path / 'model.safetensors'}")
    if path.suffix != ".safetensors":
        raise CardioLiquidError(
            f"--export_to {target}: expected a file name ending in .safetensors (the model "
            f"format `cardioliquid evaluate`, `score` and `profile` read), got "
            f"{repr(path.suffix) if path.suffix else 'no suffix'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".probe"):
            pass
    except OSError as e:
        raise CardioLiquidError(f"--export_to {target}: its folder {path.parent} cannot be "
                                f"written ({e.strerror or e}); nothing was trained") from None
    return path


def check_ckpt_path(ckpt_path: str | os.PathLike | None,
                    subcommand: str = "fit") -> dict[str, Any] | None:
    """The hyper-parameters of a ``--ckpt_path`` checkpoint, or a one-line error.

    Parameters
    ----------
    ckpt_path : str or path, optional
        The ``--ckpt_path`` value; Lightning's own keywords (``best``, ``last``,
        ``hpc``, ``registry:...``) are passed through (None is returned), but
        ``best`` and ``last`` only to ``fit``: a fresh ``validate``, ``test`` or
        ``predict`` has no fit of its own to take them from, and Lightning would
        run the untrained model.
    subcommand : str
        The ``cardioliquid-train`` subcommand.

    Returns
    -------
    dict or None
        The checkpoint's saved hyper-parameters (``model_name``, ``model_kwargs``...).

    Raises
    ------
    CheckpointError
        The file is missing, is an exported ``.safetensors`` model, or is not a
        Lightning checkpoint that loads with ``weights_only=True``.
    """
    if ckpt_path is None:
        return None
    text = str(ckpt_path)
    if text in ("best", "last") and subcommand != "fit":
        raise CheckpointError(text, f"{subcommand} runs no fit of its own, so it has no "
                                    f"{text} checkpoint: give the checkpoint file "
                                    f"(runs/<name>/version_N/checkpoints/*.ckpt)")
    if text in CKPT_KEYWORDS or text.startswith("registry"):
        return None
    path = Path(text)
    if path.suffix == ".safetensors":
        raise CheckpointError(path, "an exported model, not a training checkpoint: "
                                    "--ckpt_path takes a Lightning .ckpt (a run's "
                                    "checkpoints/*.ckpt); score or evaluate an exported model "
                                    "with `cardioliquid evaluate --model`")
    if not path.is_file():
        raise CheckpointError(path, "no such checkpoint file (--ckpt_path)")
    with open(path, "rb") as f:
        head = f.read(2)
    # torch.save writes a zip archive (PK) or, in its legacy format, a pickle (0x80 + protocol).
    if not (head == b"PK" or head[:1] == b"\x80"):
        raise CheckpointError(path, "not a Lightning checkpoint (.ckpt): neither a torch zip "
                                    "archive nor a pickle")
    try:
        ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # the unpickler raises many types: all mean "unsafe or corrupt"
        raise CheckpointError(path, f"cannot be loaded with weights_only=True (unsafe or "
                                    f"corrupt: {type(e).__name__}); CardioLiquid never "
                                    f"unpickles code") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise CheckpointError(path, "expected a Lightning checkpoint with a 'state_dict'")
    return dict(ckpt.get("hyper_parameters") or {})


def root_cause(error: BaseException) -> BaseException:
    """The first exception of a chain (jsonargparse wraps a constructor's error in its own)."""
    seen = {id(error)}
    while error.__cause__ is not None and id(error.__cause__) not in seen:
        error = error.__cause__
        seen.add(id(error))
    return error


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
