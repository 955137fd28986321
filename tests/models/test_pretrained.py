"""The shipped models: safe to load by name, within budget, carrying their recipes."""

from __future__ import annotations

import pytest
import torch

from cardioliquid.device.size import count_macs_flop_counter
from cardioliquid.models.checkpoint import list_pretrained, load_model
from cardioliquid.models.classifier import FeatureStandardizer, TiedHead
from cardioliquid.training.adapt import adaptation_settings


@pytest.mark.skipif("arrhythmia" not in list_pretrained(), reason="no shipped arrhythmia model")
def test_shipped_arrhythmia_model_fits_the_budgets_and_carries_its_recipe():
    loaded = load_model("arrhythmia")
    m = loaded.model.eval()
    n_params = sum(p.numel() for p in m.parameters())
    x = torch.randn(1, 1, m.contract.n_times)
    f = torch.randn(1, m.contract.n_features)
    macs = count_macs_flop_counter(lambda: m(x, f)).macs
    assert n_params < 20_000 and macs < 100_000  # issue 4's and issue 6's budgets, dense
    # The feature scaling was fitted on DS1 and saved with the weights.
    assert isinstance(m.feature_norm, FeatureStandardizer) and bool(m.feature_norm.fitted)
    assert torch.all(m.feature_norm.scale > 0)
    assert isinstance(m.head, TiedHead) and m.head.tied == [0, 1]  # N and S
    assert loaded.preprocessing.rr_feature_set == "robust"
    assert adaptation_settings(loaded) == {"eval_mode": True, "lr": 0.003}
    assert "DS1" in loaded.metadata["data"] and "DS2" not in loaded.metadata["data"]
