"""Training fixtures: a registered model name that works even before the liquid core lands."""

from __future__ import annotations

import pytest
from training_helpers import StandIn, liquid_available

from cardioliquid.models import registry

STAND_IN = "training-test-standin"


@pytest.fixture
def model_name(monkeypatch) -> str:
    """``liquid-cfc`` when available, else a registered stand-in (same builder signature)."""
    if liquid_available():
        return "liquid-cfc"
    if STAND_IN not in registry._MODELS:
        registry.register_model(STAND_IN)(StandIn)
    monkeypatch.setattr(registry, "_ensure_loaded", lambda: None)
    return STAND_IN
