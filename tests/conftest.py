"""Shared fixtures: where the real data is, and small synthetic recordings."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

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


@pytest.fixture(scope="session")
def pipeline_script() -> Iterator[Callable[[str], ModuleType]]:
    """Load a script of ``pipelines/`` as a module: ``pipeline_script("bench_stream")``."""
    loaded: dict[str, ModuleType] = {}

    def load(name: str) -> ModuleType:
        if name not in loaded:
            spec = importlib.util.spec_from_file_location(f"{name}_script",
                                                          REPO / "pipelines" / f"{name}.py")
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module  # dataclasses look their module up there
            spec.loader.exec_module(module)
            loaded[name] = module
        return loaded[name]

    yield load
    for name in loaded:
        sys.modules.pop(f"{name}_script", None)


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator: synthetic tests are reproducible."""
    return np.random.default_rng(0)
