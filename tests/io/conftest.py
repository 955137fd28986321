"""Synthetic WFDB and EDF+ files written into ``tmp_path`` (no real data in the repo)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import wfdb


def synthetic_ecg_signal(duration_s: float, fs: float, rr_s: float = 0.8, seed: int = 0
                         ) -> tuple[np.ndarray, np.ndarray]:
    """One ECG-like lead in mV (narrow Gaussian R waves on noise) and its R-peak samples."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * fs)
    t = np.arange(n) / fs
    peaks = np.arange(0.5, duration_s - 0.5, rr_s)
    x = 0.02 * rng.standard_normal(n) + 0.05 * np.sin(2 * np.pi * 0.3 * t)
    for p in peaks:
        x += 1.2 * np.exp(-0.5 * ((t - p) / 0.012) ** 2)  # R wave
        x -= 0.2 * np.exp(-0.5 * ((t - p - 0.2) / 0.04) ** 2)  # a T-like wave
    return x, np.round(peaks * fs).astype(np.int64)


def write_wfdb_record(folder: Path, name: str = "rec", fs: float = 360.0, duration_s: float = 20.0,
                      sig_names: tuple[str, ...] = ("MLII", "V1"), annotate: bool = True,
                      fmt: str = "212") -> tuple[Path, np.ndarray]:
    """Write ``name.hea/.dat`` (+ ``.atr`` with N beats, one V, rhythm notes); return base path."""
    x, peaks = synthetic_ecg_signal(duration_s, fs)
    sig = np.stack([x * (1 + 0.1 * i) for i in range(len(sig_names))], axis=1)
    wfdb.wrsamp(name, fs=fs, units=["mV"] * len(sig_names), sig_name=list(sig_names),
                p_signal=sig, fmt=[fmt] * len(sig_names), write_dir=str(folder))
    if annotate:
        symbols = ["N"] * len(peaks)
        symbols[3] = "V"
        symbols[5] = "A"
        samples = [*list(peaks), 1, int(peaks[4]) + 10]
        symbols = [*symbols, "+", "~"]
        aux = [""] * len(peaks) + ["(N", ""]
        order = np.argsort(samples, kind="stable")
        wfdb.wrann(name, "atr", np.asarray(samples)[order], np.asarray(symbols)[order],
                   aux_note=list(np.asarray(aux, dtype=object)[order]), fs=fs,
                   write_dir=str(folder))
    return folder / name, peaks


def write_edf(path: Path, signals_uv: np.ndarray, fs: int, ch_names: list[str],
              annotations: list[tuple[float, float, str]] = (), record_s: int = 1) -> Path:
    """Minimal EDF+C writer (16-bit, one annotation signal) for tests without edfio."""
    n_ch, n = signals_uv.shape
    spr = int(fs * record_s)
    n_rec = int(np.ceil(n / spr))
    data = np.zeros((n_ch, n_rec * spr))
    data[:, :n] = signals_uv
    pmin, pmax = float(np.floor(data.min())) - 1, float(np.ceil(data.max())) + 1
    dmin, dmax = -32768, 32767
    digital = np.round((data - pmin) / (pmax - pmin) * (dmax - dmin) + dmin).astype("<i2")
    ann_bytes = 120 + 40 * len(annotations)
    ann_spr = (ann_bytes + 1) // 2
    labels = [*ch_names, "EDF Annotations"]
    ns = len(labels)

    def f(value, width):
        return str(value).ljust(width)[:width].encode("ascii")

    hdr = b"".join([
        f("0", 8), f("X X X X", 80), f("Startdate 01-JAN-2000 X X X", 80), f("01.01.00", 8),
        f("00.00.00", 8), f(256 * (ns + 1), 8), f("EDF+C", 44), f(n_rec, 8), f(record_s, 8),
        f(ns, 4),
    ])  # fmt: skip
    cols = [
        [f(lb, 16) for lb in labels],
        [f("AgAgCl electrode", 80)] * n_ch + [f("", 80)],
        [f("uV", 8)] * n_ch + [f("", 8)],
        [f(f"{pmin:g}", 8)] * n_ch + [f("-1", 8)],
        [f(f"{pmax:g}", 8)] * n_ch + [f("1", 8)],
        [f(dmin, 8)] * ns,
        [f(dmax, 8)] * ns,
        [f("", 80)] * ns,
        [f(spr, 8)] * n_ch + [f(ann_spr, 8)],
        [f("", 32)] * ns,
    ]
    hdr += b"".join(b"".join(c) for c in cols)
    body = bytearray()
    for r in range(n_rec):
        for c in range(n_ch):
            body += digital[c, r * spr:(r + 1) * spr].tobytes()
        tal = f"+{r * record_s}\x14\x14\x00".encode()
        if r == 0:
            for onset, dur, desc in annotations:
                tal += f"+{onset:g}\x15{dur:g}\x14{desc}\x14\x00".encode()
        body += tal.ljust(2 * ann_spr, b"\x00")
    path.write_bytes(hdr + bytes(body))
    return path


def set_header_field(base: Path, line: int, field: int, value: str) -> None:
    """Replace field ``field`` of line ``line`` of ``base``'s ``.hea`` (0: the record line)."""
    hea = base.with_suffix(".hea")
    lines = hea.read_text().splitlines()
    fields = lines[line].split()
    fields[field] = value
    lines[line] = " ".join(fields)
    hea.write_text("\n".join(lines) + "\n")


@pytest.fixture
def header_field():
    """``header_field(base, line, field, value)``: edit one field of a record's header."""
    return set_header_field


@pytest.fixture
def wfdb_record(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A 20 s two-lead synthetic MIT-BIH-like record with annotations."""
    return write_wfdb_record(tmp_path)


@pytest.fixture
def edf_writer():
    """The minimal EDF+ writer, as a fixture for tests that build their own files."""
    return write_edf


@pytest.fixture
def wfdb_writer():
    """The synthetic WFDB record writer (``write_wfdb_record``)."""
    return write_wfdb_record
