"""Turn a trained checkpoint into a shipped ``.safetensors`` model with provenance.

Usage::

    python -m cardioliquid.training.export runs/arrhythmia/.../best.ckpt \\
        cardioliquid/models/pretrained/arrhythmia.safetensors --metadata '{"data": "mitdb DS1"}'
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from cardioliquid.decision.settings import DecisionSettings
from cardioliquid.errors import CardioLiquidError
from cardioliquid.models.checkpoint import load_model, save_model
from cardioliquid.signal.config import preprocessing_from_dict


def git_commit() -> str | None:
    """The current commit of the source tree, if it is a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def provenance() -> dict[str, Any]:
    """Where and when a model was made.

    Besides the time, commit and versions: the CPU and the vector instructions
    PyTorch used (``cpu``, ``cpu_capability``) and its threads, since a seeded,
    deterministic run gives the same tensors only on the same kind of CPU.
    """
    import lightning

    from cardioliquid.device.profile import cpu_name

    return {
        "exported_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git_commit": git_commit(),
        "torch": torch.__version__,
        "lightning": lightning.__version__,
        "cpu": cpu_name(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
    }


def check_decision_overrides(decision: dict[str, Any] | None) -> None:
    """Refuse decision settings a model file could not carry, before anything is trained.

    Parameters
    ----------
    decision : dict, optional
        Settings to change (``--export_decision``, ``--decision``).

    Raises
    ------
    CardioLiquidError
        A key is not a :class:`~cardioliquid.decision.settings.DecisionSettings`
        field, or a value is out of range.
    """
    if not decision:
        return
    try:
        DecisionSettings.from_dict(dict(decision))
    except (TypeError, ValueError) as e:
        raise CardioLiquidError(f"decision settings {dict(decision)}: {e}") from None


def export_checkpoint(
    source: str | os.PathLike | torch.nn.Module,
    target: str | os.PathLike,
    metadata: dict[str, Any] | None = None,
    decision_overrides: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint (or a trained LightningModule) as a safetensors model.

    The file carries the model's decision settings as their own section
    (:class:`~cardioliquid.decision.settings.DecisionSettings`): the source
    file's, or for a trained module the defaults with its config's AF gate.

    Parameters
    ----------
    source : path or LiquidClassifierModule
        A Lightning ``.ckpt`` (read with ``weights_only=True``), a
        ``.safetensors`` model, or the module itself.
    target : path
        Output ``.safetensors`` file (written atomically).
    metadata : dict, optional
        Provenance and results merged into the file's metadata.
    decision_overrides : dict, optional
        Decision settings to change (e.g. ``{"threshold": 0.6}``).

    Raises
    ------
    CardioLiquidError
        The source cannot be loaded, or ``decision_overrides`` names an unknown
        setting or an invalid value (:func:`check_decision_overrides`).
    """
    if isinstance(source, torch.nn.Module):
        hp = source.hparams
        model, name, kwargs = source.model, hp["model_name"], dict(hp["model_kwargs"])
        prep = preprocessing_from_dict(dict(hp["preprocessing"]))
        decision = DecisionSettings.from_legacy(prep)  # the config's AF gate, default rule
        meta: dict[str, Any] = {}
    else:
        loaded = load_model(source)
        model, name, kwargs, prep = (loaded.model, loaded.model_name, loaded.model_kwargs,
                                     loaded.preprocessing)
        decision = loaded.decision
        meta = dict(loaded.metadata)
    meta.update(provenance())
    meta["n_params"] = int(sum(p.numel() for p in model.parameters()))
    meta.update(metadata or {})
    if decision_overrides:
        check_decision_overrides(decision_overrides)
        decision = decision.override(**decision_overrides)
    return save_model(target, model, name, kwargs, prep, metadata=meta, decision=decision)


def _json_object(text: str) -> dict[str, Any]:
    """An ``argparse`` type: a JSON object (a usage error otherwise)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r} ({e})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    """Command-line export.

    Bad usage (a target not ending in ``.safetensors``, metadata that is not a
    JSON object) exits 2 through argparse; a checkpoint that cannot be read or
    a target that cannot be written is one line naming the file, exit 2.
    """
    p = argparse.ArgumentParser(prog="python -m cardioliquid.training.export",
                                description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", help="a Lightning .ckpt (or a .safetensors model)")
    p.add_argument("target", help="the .safetensors model file to write")
    p.add_argument("--metadata", default={}, type=_json_object,
                   help="JSON object merged into the metadata")
    p.add_argument("--decision", default={}, type=_json_object,
                   help='JSON object of decision settings to change, e.g. {"threshold": 0.6}')
    a = p.parse_args(argv)
    if Path(a.target).suffix != ".safetensors":
        p.error(f"target {a.target}: expected a file name ending in .safetensors (the model "
                f"format cardioliquid evaluate, score and profile read)")
    try:
        path = export_checkpoint(a.checkpoint, a.target, a.metadata, a.decision)
    except CardioLiquidError as e:
        print(f"{p.prog}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"{p.prog}: error: {a.target}: cannot be written ({e.strerror or e})",
              file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
