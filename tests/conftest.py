"""Shared fixtures: where the real data is, and small synthetic recordings."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_data() -> Path | None:
    env = os.environ.get("CARDIOLIQUID_DATA_MIRROR")
    candidates = [Path(env)] if env and "://" not in env else []
    for cand in [*candidates, REPO.parent / "shared" / "data"]:
        if (cand / "mitdb" / "RECORDS").is_file():
            return cand
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real-data mirror (``../shared/data``); tests using it are marked ``realdata``."""
    path = _shared_data()
    if path is None:
        pytest.skip("real data mirror not found (set CARDIOLIQUID_DATA_MIRROR)")
    return path


@pytest.fixture(scope="session")
def mitdb_dir(shared_data: Path) -> Path:
    """The MIT-BIH Arrhythmia Database in the mirror."""
    return shared_data / "mitdb"


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator: synthetic tests are reproducible."""
    return np.random.default_rng(0)
