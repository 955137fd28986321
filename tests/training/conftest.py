"""Training fixtures: a registered model name that works even before the liquid core lands."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from torch import nn

from cardioliquid.models import registry

STAND_IN = "training-test-standin"


class _StandIn(nn.Module):
    """A tiny conv + linear classifier with the registry signature."""

    def __init__(self, n_chans, n_outputs, n_times, sfreq=100.0, n_features=0, units=8):
        super().__init__()
        self.conv = nn.Conv1d(n_chans, units, 5, padding=2)
        self.head = nn.Linear(units + n_features, n_outputs)
        self.n_features = n_features

    def forward(self, x, features=None):
        h = self.conv(x).relu().mean(-1)
        if self.n_features:
            h = torch.cat([h, features], dim=-1)
        return self.head(h)


def liquid_available() -> bool:
    """True once the models team's classifiers are importable."""
    return importlib.util.find_spec("cardioliquid.models.classifier") is not None


@pytest.fixture
def model_name(monkeypatch) -> str:
    """``liquid-cfc`` when available, else a registered stand-in (same builder signature)."""
    if liquid_available():
        return "liquid-cfc"
    if STAND_IN not in registry._MODELS:
        registry.register_model(STAND_IN)(_StandIn)
    monkeypatch.setattr(registry, "_ensure_loaded", lambda: None)
    return STAND_IN


@pytest.fixture
def small_kwargs(model_name) -> dict:
    """Builder arguments that keep the network tiny."""
    return {"units": 8}
