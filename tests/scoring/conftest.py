"""Fixtures of the scoring tests (helpers live in ``scoring_helpers``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from scoring_helpers import (
    make_ecg_model,
    make_eeg_model,
    save_loaded,
    synthetic_ecg,
    synthetic_eeg,
)

from cardioliquid.io.recording import Recording


@pytest.fixture
def ecg_rec() -> Recording:
    """40 s of synthetic ECG at 360 Hz with reference beats."""
    return synthetic_ecg()


@pytest.fixture
def eeg_rec() -> Recording:
    """60 s of synthetic 4-channel EEG at 256 Hz."""
    return synthetic_eeg()


@pytest.fixture
def ecg_model():
    """A small arrhythmia model (independent beats)."""
    return make_ecg_model()


@pytest.fixture
def eeg_model():
    """A small seizure model (independent windows)."""
    return make_eeg_model()


@pytest.fixture
def ecg_ckpt(tmp_path, ecg_model) -> Path:
    """The arrhythmia model saved as a checkpoint file."""
    return save_loaded(ecg_model, tmp_path / "models" / "ecg-test.safetensors")


@pytest.fixture
def eeg_ckpt(tmp_path, eeg_model) -> Path:
    """The seizure model saved as a checkpoint file."""
    return save_loaded(eeg_model, tmp_path / "models" / "eeg-test.safetensors")
