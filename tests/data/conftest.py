"""Small synthetic record files for the dataset tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import wfdb


def _write_ecg(folder: Path, name: str, seed: int, duration_s: float = 20.0, fs: int = 360
               ) -> Path:
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * fs)) / fs
    peaks = np.arange(0.5, duration_s - 0.5, 0.75)
    x = 0.02 * rng.standard_normal(t.size)
    for p in peaks:
        x += np.exp(-0.5 * ((t - p) / 0.012) ** 2)
    wfdb.wrsamp(name, fs=fs, units=["mV"], sig_name=["MLII"], p_signal=x[:, None], fmt=["212"],
                write_dir=str(folder))
    symbols = np.array(["N"] * len(peaks))
    symbols[::5] = "V"
    wfdb.wrann(name, "atr", np.round(peaks * fs).astype(int), symbols, write_dir=str(folder))
    return folder / name


@pytest.fixture
def ecg_records(tmp_path) -> list[Path]:
    """Two annotated one-lead WFDB records (``rA``, ``rB``) of 20 s."""
    folder = tmp_path / "db"
    folder.mkdir()
    return [_write_ecg(folder, "rA", 0), _write_ecg(folder, "rB", 1)]


@pytest.fixture
def bonn_files(tmp_path) -> list[Path]:
    """Two Bonn-like segments, one healthy (A_Z) and one ictal (E_S)."""
    rng = np.random.default_rng(3)
    out = []
    for folder, name in (("A_Z", "Z001.txt"), ("E_S", "S001.txt")):
        (tmp_path / folder).mkdir()
        path = tmp_path / folder / name
        np.savetxt(path, (rng.standard_normal(4097) * 40).astype(int), fmt="%d")
        out.append(path)
    return out
