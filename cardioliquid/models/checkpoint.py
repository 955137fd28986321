"""Safe model files: weights in safetensors, everything else as JSON metadata.

A CardioLiquid model file is one ``.safetensors`` file whose header metadata
holds, under the key ``"cardioliquid"``, a JSON object with

- ``model_name`` and ``model_kwargs``: how to rebuild the module
  (:func:`~cardioliquid.models.registry.create_model`);
- ``preprocessing``: the :mod:`cardioliquid.signal.config` spec it was trained with;
- ``decision``: how its probabilities become calls and events
  (:class:`cardioliquid.decision.settings.DecisionSettings`); a file without
  this section gets the defaults (and the AF gate its preprocessing names);
- ``metadata``: provenance (data, split, commit, metrics...).

Lightning ``.ckpt`` files are read with ``torch.load(weights_only=True)``; the
LightningModule saves ``model_name``, ``model_kwargs`` and ``preprocessing``
as plain hyper-parameters and holds the network as ``self.model``. Nothing
here ever unpickles arbitrary objects.
"""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from cardioliquid._atomic import atomic_write
from cardioliquid.decision.settings import DecisionSettings
from cardioliquid.errors import CardioLiquidError, CheckpointError
from cardioliquid.models.limits import MODALITIES, check_model_description
from cardioliquid.models.registry import create_model
from cardioliquid.signal.config import Preprocessing, preprocessing_from_dict

PRETRAINED_DIR = Path(__file__).parent / "pretrained"
_META_KEY = "cardioliquid"
FORMAT_VERSION = 1


@dataclass
class LoadedModel:
    """A model ready for inference, with the preprocessing it expects.

    Attributes
    ----------
    model : nn.Module
        The network, in eval mode.
    preprocessing : BeatPreprocessing or WindowPreprocessing
        The exact preprocessing it was trained with.
    model_name : str
        Registry name.
    model_kwargs : dict
        Builder arguments.
    metadata : dict
        Provenance and measured results.
    path : str
        Where it was loaded from.
    decision : DecisionSettings
        How its probabilities become calls and events; None at construction:
        the settings of a model file without a ``decision`` section
        (:meth:`DecisionSettings.from_legacy`).
    """

    model: nn.Module
    preprocessing: Preprocessing
    model_name: str
    model_kwargs: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    path: str = ""
    decision: DecisionSettings = None  # type: ignore[assignment]  # resolved below

    def __post_init__(self) -> None:
        if self.decision is None:
            self.decision = DecisionSettings.from_legacy(self.preprocessing)

    @property
    def task(self) -> str:
        """``"arrhythmia"`` or ``"seizure"``."""
        return self.preprocessing.task

    @property
    def modality(self) -> str:
        """The signal kind the model reads: ``"ecg"`` (heartbeat) or ``"eeg"`` (seizure)."""
        return str(self.metadata.get("modality") or MODALITIES.get(self.task, ""))

    @property
    def classes(self) -> list[str]:
        """Output class names in order."""
        return list(self.preprocessing.classes)

    @property
    def name(self) -> str:
        """A display name: the file stem."""
        return Path(self.path).stem if self.path else self.model_name

    @property
    def label(self) -> str:
        """What a report calls the model: a shipped model's name, else its file's path (a
        user's ``arrhythmia.safetensors`` is not the shipped ``arrhythmia``)."""
        if not self.path:
            return self.model_name
        path = Path(self.path)
        return path.stem if path.parent.resolve() == PRETRAINED_DIR.resolve() else str(path)

    def reading_leads(self, leads: list[str] | tuple[str, ...]) -> LoadedModel:
        """This heartbeat model reading the ECG leads ``leads`` instead of its own choice.

        Parameters
        ----------
        leads : sequence of str
            Lead names in order of preference (the first one a record has is read),
            e.g. ``["V1", "V2"]`` for a precordial lead or ``["CM5"]`` for a Holter lead.

        Returns
        -------
        LoadedModel
            The same weights with ``preprocessing.lead_preference`` replaced,
            reading that one lead (a model that fuses leads no longer does).

        Raises
        ------
        CardioLiquidError
            If ``leads`` names no lead or the model does not read ECG beats (a
            ``ValueError``, reported as a clear message by the command line).
        """
        names = [n for n in (str(n).strip() for n in leads) if n]
        if not names:
            raise CardioLiquidError(f"expected at least one lead name, e.g. ['V1']; got {leads!r}")
        if not hasattr(self.preprocessing, "lead_preference"):
            raise CardioLiquidError(f"{self.name} is a {self.task} model: it reads no ECG lead")
        prep = replace(self.preprocessing, lead_preference=names, fuse_leads=1)
        return replace(self, preprocessing=prep)


def list_pretrained() -> list[str]:
    """Names of the models shipped in the package."""
    return sorted(p.stem for p in PRETRAINED_DIR.glob("*.safetensors"))


def save_model(
    path: str | os.PathLike,
    model: nn.Module,
    model_name: str,
    model_kwargs: dict[str, Any],
    preprocessing: Preprocessing,
    metadata: dict[str, Any] | None = None,
    decision: DecisionSettings | None = None,
) -> Path:
    """Write ``model`` as a safetensors file with its preprocessing, decision settings, metadata.

    ``decision`` defaults to the settings a file without the section would get
    (:meth:`DecisionSettings.from_legacy`), so every file written carries them.
    The file is written to a temporary name and renamed when complete.
    """
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    header = {
        "format_version": FORMAT_VERSION,
        "model_name": model_name,
        "model_kwargs": model_kwargs,
        "preprocessing": preprocessing.to_dict(),
        "decision": (decision or DecisionSettings.from_legacy(preprocessing)).to_dict(),
        "metadata": metadata or {},
    }
    meta = {_META_KEY: json.dumps(header)}
    return atomic_write(path, lambda tmp: save_file(state, str(tmp), metadata=meta))


def set_decision(path: str | os.PathLike, decision: DecisionSettings) -> Path:
    """Write ``decision`` into a model file's ``"decision"`` section, tensors untouched.

    Everything else in the file (weights, preprocessing, provenance) stays as it
    is, so the model computes the same probabilities; only how they become calls
    and events is now read from the file. Written to a temporary name and renamed.

    Raises
    ------
    CheckpointError
        ``path`` is not a CardioLiquid safetensors model file.
    """
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import save_file

    p = Path(path)
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = dict(f.metadata() or {})
            state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no iter)
    except (OSError, SafetensorError) as e:  # missing, or not a safetensors file
        raise CheckpointError(p, f"not a safetensors model file ({e})") from e
    if _META_KEY not in meta:
        raise CheckpointError(p, "not a CardioLiquid model file (no model description)")
    header = json.loads(meta[_META_KEY])
    header["decision"] = decision.to_dict()
    meta[_META_KEY] = json.dumps(header)
    return atomic_write(p, lambda tmp: save_file(state, str(tmp), metadata=meta))


def _resolve(name_or_path: str | os.PathLike) -> Path:
    p = Path(name_or_path)
    if p.suffix in {".safetensors", ".ckpt", ".pt", ".pth"} or p.exists():
        if not p.is_file():
            raise CheckpointError(p, "no such checkpoint file")
        return p
    shipped = PRETRAINED_DIR / f"{name_or_path}.safetensors"
    if shipped.is_file():
        return shipped
    raise CheckpointError(
        str(name_or_path),
        f"not a checkpoint file nor a shipped model; shipped models are {list_pretrained()}",
    )


def _build(path: Path, header: dict[str, Any], state: dict[str, torch.Tensor]) -> LoadedModel:
    try:
        name = header["model_name"]
        kwargs = dict(header["model_kwargs"])
        prep = preprocessing_from_dict(dict(header["preprocessing"]))
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(path, f"not a CardioLiquid model description ({e})") from e
    decision = None  # a file written before the section: the legacy settings
    if header.get("decision") is not None:
        try:
            decision = DecisionSettings.from_dict(dict(header["decision"]))
        except (TypeError, ValueError) as e:
            raise CheckpointError(path, f"invalid decision settings ({e})") from e
    metadata = header.get("metadata", {})
    check_model_description(path, name, kwargs, prep, metadata)  # before any tensor is built
    try:
        model = create_model(name, **kwargs)
        model.load_state_dict(state, strict=True)
    except (RuntimeError, ValueError, TypeError) as e:
        raise CheckpointError(path, f"weights do not fit model {name!r}: {e}") from e
    model.eval()
    return LoadedModel(model, prep, name, kwargs, dict(metadata), str(path), decision)


def load_model(name_or_path: str | os.PathLike, map_location: str = "cpu") -> LoadedModel:
    """Load a shipped model by name, a ``.safetensors`` file or a Lightning ``.ckpt``.

    Parameters
    ----------
    name_or_path : str or path
        ``"arrhythmia"``, ``"seizure"``, ``"seizure-1ch"``, or a file.
    map_location : str
        Device for the weights.

    Raises
    ------
    CheckpointError
        The file is missing, unsafe, or does not describe a CardioLiquid model.
    """
    path = _resolve(name_or_path)
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path), framework="pt", device=map_location) as f:
                meta = f.metadata() or {}
                state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
        except (SafetensorError, OSError, ValueError) as e:
            raise CheckpointError(path, f"not a readable safetensors file ({e})") from e
        if _META_KEY not in meta:
            raise CheckpointError(path, f"safetensors file has no {_META_KEY!r} metadata")
        try:
            header = json.loads(meta[_META_KEY])
        except json.JSONDecodeError as e:
            raise CheckpointError(path, f"corrupt metadata ({e})") from e
        return _build(path, header, state)
    with open(path, "rb") as f:
        head = f.read(2)
    # torch.save writes a zip archive (PK) or, in its legacy format, a pickle (0x80 + protocol).
    if not (head == b"PK" or head[:1] == b"\x80"):
        raise CheckpointError(path, "not a model file: expected a .safetensors model or a "
                                    "Lightning/PyTorch checkpoint (.ckpt), and this file is "
                                    "neither")
    try:
        ckpt = torch.load(str(path), map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:  # torch's text suggests weights_only=False: not ours
        found = [ln.strip() for ln in str(e).splitlines() if "GLOBAL" in ln or "global" in ln]
        raise CheckpointError(
            path, "refused: expected only tensors and plain values, got pickled Python objects "
            f"({found[0] if found else type(e).__name__}); CardioLiquid never unpickles code. "
            "Re-export the model as .safetensors from a trusted copy"
        ) from None
    except Exception as e:  # the unpickler raises many types; all mean "unsafe or corrupt"
        raise CheckpointError(
            path, f"cannot be loaded with weights_only=True (unsafe or corrupt): "
            f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        ) from e
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise CheckpointError(path, "expected a Lightning checkpoint with a 'state_dict'")
    hp = ckpt.get("hyper_parameters", {})
    state = {k[len("model.") :]: v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}
    header = {
        "model_name": hp.get("model_name"),
        "model_kwargs": hp.get("model_kwargs", {}),
        "preprocessing": hp.get("preprocessing", {}),
        # what the run read, when cardioliquid-train wrote it (training.records.CHECKPOINT_KEY)
        "metadata": {"epoch": ckpt.get("epoch"), "global_step": ckpt.get("global_step"),
                     **dict(ckpt.get("cardioliquid_metadata") or {})},
    }
    return _build(path, header, state)
