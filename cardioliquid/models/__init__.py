"""Liquid networks: wirings, CfC/LTC cells, sequence modules, classifiers, registry."""

from cardioliquid.models import classifier, rhythm  # noqa: F401  (they register their models)
from cardioliquid.models.contract import SignalContract
from cardioliquid.models.registry import create_model, list_models, register_model

__all__ = ["SignalContract", "create_model", "list_models", "register_model"]
