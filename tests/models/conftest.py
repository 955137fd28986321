"""Fixtures of the models tests: double precision for the reference checks."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def float64():
    """Run a test with float64 as the default dtype (restored afterwards)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    yield
    torch.set_default_dtype(old)


@pytest.fixture(autouse=True)
def _few_threads():
    """Tests run beside other jobs on a small machine."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
