"""Model registry: ``create_model(name, **kwargs)`` over registered builders (after timm).

The builders register themselves when their modules are imported, which the
package does (``cardioliquid/models/__init__.py``), so the registry is full
whenever any ``cardioliquid.models`` module is in use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch.nn as nn

from cardioliquid._check import check_option

_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator: register a model builder under ``name``."""

    def deco(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _MODELS:
            raise ValueError(f"model {name!r} is registered twice")
        _MODELS[name] = fn
        return fn

    return deco


def list_models() -> list[str]:
    """Names of all registered models."""
    return sorted(_MODELS)


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered model.

    Parameters
    ----------
    name : str
        A name from :func:`list_models`.
    **kwargs
        Passed to the model's builder (``n_chans``, ``n_outputs``, ``n_times``...).
    """
    check_option("name", name, sorted(_MODELS))
    return _MODELS[name](**kwargs)
