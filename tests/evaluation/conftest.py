"""Fixtures of the evaluation tests: small synthetic WFDB records written to tmp_path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import wfdb

FS = 360


def write_ecg_record(
    folder: Path,
    name: str,
    beat_samples: np.ndarray,
    symbols: list[str],
    n_samples: int,
    rng: np.random.Generator,
) -> None:
    """A one-lead 360 Hz WFDB record (noise plus a spike per beat) with ``.atr`` beats."""
    sig = 0.02 * rng.standard_normal(n_samples)
    sig[beat_samples] += 1.0
    wfdb.wrsamp(
        name,
        fs=FS,
        units=["mV"],
        sig_name=["MLII"],
        p_signal=sig[:, None],
        fmt=["16"],
        write_dir=str(folder),
    )
    wfdb.wrann(name, "atr", np.asarray(beat_samples), symbol=list(symbols), write_dir=str(folder))


@pytest.fixture
def ecg_folder(tmp_path: Path, rng: np.random.Generator) -> Path:
    """Three 60 s records, 80 beats each, symbols cycling through MIT-BIH codes."""
    folder = tmp_path / "ecg"
    folder.mkdir()
    codes = ["N"] * 5 + ["A", "V", "N", "L", "F", "N", "R", "j", "V", "Q", "a"]
    for k, name in enumerate(("r1", "r2", "r3")):
        beats = np.arange(1, 81) * int(0.74 * FS) + k
        symbols = [codes[(i + k) % len(codes)] for i in range(len(beats))]
        write_ecg_record(folder, name, beats, symbols, 60 * FS, rng)
    return folder
