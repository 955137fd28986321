"""Fixtures of the scoring tests: synthetic WFDB/EDF recordings and tiny models.

The scoring layer sits on the loaders (``cardioliquid.io``), the windowing
(``cardioliquid.signal.windows``) and the liquid classifiers
(``cardioliquid.models.classifier``) of other teams. While one of them is not
there yet, a small stand-in of the documented API is installed so these tests
exercise the scoring logic; once the real module exists it is used instead.
"""

from __future__ import annotations

import importlib
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from cardioliquid.io.labels import aami_class
from cardioliquid.io.recording import BeatAnnotations, Recording
from cardioliquid.signal.config import BeatPreprocessing, WindowPreprocessing

torch.set_num_threads(1)

EEG_CHANNELS = ["FP1-F7", "F7-T7", "T7-P7", "P7-O1"]


# --------------------------------------------------------------------------- stand-ins
def _has(module: str, attr: str | None = None) -> bool:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return False
    return attr is None or hasattr(mod, attr)


def _band(x: np.ndarray, fs: float, band, order: int) -> np.ndarray:
    from scipy.signal import butter, sosfiltfilt

    hi = min(band[1], 0.45 * fs)
    sos = butter(order, [band[0], hi], btype="band", fs=fs, output="sos")
    return sosfiltfilt(sos, x, axis=-1).astype(np.float32)


def _resample(x: np.ndarray, fs: float, target: float) -> np.ndarray:
    from fractions import Fraction

    from scipy.signal import resample_poly

    if fs == target:
        return x
    f = Fraction(target / fs).limit_denominator(1000)
    return resample_poly(x, f.numerator, f.denominator, axis=-1).astype(np.float32)


@dataclass
class _BeatWindows:
    x: np.ndarray
    features: np.ndarray
    sample: np.ndarray
    labels: np.ndarray


@dataclass
class _EEGWindows:
    x: np.ndarray
    start_s: np.ndarray
    labels: np.ndarray


def _stub_beat_windows(rec: Recording, prep: BeatPreprocessing, beat_samples=None):
    from scipy.signal import find_peaks

    sig = _band(rec.signal[0], rec.fs, prep.bandpass, prep.filter_order)
    if beat_samples is None:
        if rec.beats is not None and len(rec.beats):
            beat_samples = rec.beats.sample
        else:
            beat_samples, _ = find_peaks(sig, distance=int(0.3 * rec.fs), prominence=0.4)
    peaks = np.asarray(beat_samples, dtype=np.int64)
    y = _resample(sig, rec.fs, prep.fs)
    med = np.median(y)
    y = (y - med) / (np.median(np.abs(y - med)) + 1e-6)  # record-robust
    pre, post = round(prep.pre_s * prep.fs), round(prep.post_s * prep.fs)
    centre = np.round(peaks * prep.fs / rec.fs).astype(np.int64)
    ok = (centre - pre >= 0) & (centre + post <= len(y))
    ok[0:1] = False  # no pre-RR for the first beat, no post-RR for the last
    ok[-1:] = False
    idx = np.flatnonzero(ok)
    rr = np.diff(peaks) / rec.fs
    x = (
        np.stack([y[c - pre : c + post] for c in centre[idx]])[:, None]
        if len(idx)
        else (np.zeros((0, 1, pre + post), np.float32))
    )
    pre_rr = rr[idx - 1] if len(idx) else np.zeros(0)
    post_rr = rr[idx] if len(idx) else np.zeros(0)
    feats = np.stack([pre_rr, post_rr, pre_rr / (np.mean(rr) + 1e-6), post_rr - pre_rr], 1)
    labels = np.full(len(idx), -1, dtype=np.int64)
    return _BeatWindows(
        x.astype(np.float32), feats.astype(np.float32).reshape(len(idx), 4), peaks[idx], labels
    )


def _stub_eeg_windows(rec: Recording, prep: WindowPreprocessing):
    rec = rec.pick(prep.channels) if prep.channels else rec
    sig = _band(rec.signal, rec.fs, prep.bandpass, prep.filter_order)
    y = _resample(sig, rec.fs, prep.fs) / prep.scale_uv
    n, hop = prep.n_times, prep.n_hop
    starts = np.arange(0, y.shape[1] - n + 1, hop)
    x = np.stack([y[:, s : s + n] for s in starts]) if len(starts) else np.zeros((0, len(y), n))
    return _EEGWindows(x.astype(np.float32), starts / prep.fs, np.full(len(starts), -1))


class StubClassifier(nn.Module):
    """A GRU classifier with the LiquidClassifier interface (for tests only)."""

    def __init__(self, n_chans, n_outputs, n_times, sfreq, n_features=0, units=8, **_):
        super().__init__()
        from cardioliquid.models.contract import SignalContract

        self.contract = SignalContract(n_chans, sfreq, n_times, n_outputs, n_features)
        self.rnn = nn.GRU(n_chans, units, batch_first=True)
        self.head = nn.Linear(units + n_features, n_outputs)

    def forward_stateful(self, x, features=None, hx=None):
        states, h = self.rnn(x.transpose(1, 2), hx)
        z = states[:, -1]
        if features is not None and self.contract.n_features:
            z = torch.cat([z, features], dim=1)
        return self.head(z), h, states

    def forward(self, x, features=None):
        return self.forward_stateful(x, features)[0]


def _install_stand_ins() -> None:
    if not _has("cardioliquid.signal.windows", "beat_windows"):
        mod = types.ModuleType("cardioliquid.signal.windows")
        mod.beat_windows = _stub_beat_windows
        mod.eeg_windows = _stub_eeg_windows
        mod.n_beat_features = lambda prep: 4 if prep.rr_features else 0
        sys.modules["cardioliquid.signal.windows"] = mod
    if not _has("cardioliquid.models.classifier"):
        from cardioliquid.models import registry

        sys.modules["cardioliquid.models.classifier"] = types.ModuleType("stub")
        for name in ("liquid-cfc", "liquid-ltc"):
            registry._MODELS.setdefault(name, StubClassifier)
    if not _has("cardioliquid.io", "load_recording"):
        import cardioliquid.io as cio

        cio.load_recording = _stub_load_recording


def _stub_load_recording(path) -> Recording:
    import wfdb

    from cardioliquid.errors import RecordingError

    p = Path(path)
    try:
        if p.suffix.lower() in {".edf", ".bdf"}:
            import mne

            raw = mne.io.read_raw(str(p), preload=True, verbose="error")
            return Recording(
                raw.get_data(units="uV").astype(np.float32),
                raw.info["sfreq"],
                raw.ch_names,
                "uV",
                p.stem,
                p.stem,
                "eeg",
                str(p),
            )
        rec = wfdb.rdrecord(str(p.with_suffix("")))
        beats = None
        if p.with_suffix(".atr").exists():
            ann = wfdb.rdann(str(p.with_suffix("")), "atr")
            sym = np.asarray(ann.symbol)
            cls = aami_class(sym)
            m = cls != ""
            beats = BeatAnnotations(ann.sample[m], sym[m], cls[m])
        return Recording(
            rec.p_signal.T,
            rec.fs,
            rec.sig_name,
            "mV",
            rec.record_name,
            rec.record_name,
            "ecg",
            str(p),
            beats,
        )
    except Exception as e:
        raise RecordingError(p, f"cannot be read ({e})") from e


_install_stand_ins()


# --------------------------------------------------------------------------- recordings
def synthetic_ecg(duration_s: float = 40.0, fs: float = 360.0, seed: int = 0) -> Recording:
    """A clean synthetic ECG (Gaussian QRS bumps, some early 'ectopic' beats)."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * fs)
    t = np.arange(n) / fs
    peaks, symbols, pos = [], [], 0.4
    while pos < duration_s - 0.4:
        early = rng.random() < 0.15
        peaks.append(int(pos * fs))
        symbols.append("V" if early else "N")
        pos += rng.uniform(0.55, 0.65) if early else rng.uniform(0.8, 0.95)
    sig = 0.02 * rng.standard_normal(n) + 0.1 * np.sin(2 * np.pi * 0.2 * t)
    for p, s in zip(peaks, symbols, strict=True):
        width = 0.03 if s == "N" else 0.06
        sig += (1.2 if s == "N" else -1.0) * np.exp(-0.5 * ((t - p / fs) / width) ** 2)
    sym = np.asarray(symbols)
    beats = BeatAnnotations(np.asarray(peaks), sym, aami_class(sym))
    rec_id = f"syn{seed}"
    return Recording(
        sig[None].astype(np.float32), fs, ["MLII"], "mV", rec_id, rec_id, "ecg", beats=beats
    )


def synthetic_eeg(duration_s: float = 60.0, fs: float = 256.0, seed: int = 0) -> Recording:
    """Synthetic EEG (µV) with a rhythmic 'seizure' in the middle third."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * fs)
    t = np.arange(n) / fs
    sig = 20 * rng.standard_normal((len(EEG_CHANNELS), n))
    sz = (t > duration_s / 3) & (t < 2 * duration_s / 3)
    sig[:, sz] += 150 * np.sin(2 * np.pi * 3 * t[sz])
    rec_id = f"eeg{seed}"
    return Recording(
        sig.astype(np.float32),
        fs,
        list(EEG_CHANNELS),
        "uV",
        rec_id,
        rec_id,
        "eeg",
        seizures=[(duration_s / 3, 2 * duration_s / 3)],
    )


def write_wfdb(rec: Recording, folder: Path) -> Path:
    """Write ``rec`` as WFDB (``.hea``/``.dat`` + ``.atr``); return the header path."""
    import wfdb

    folder.mkdir(parents=True, exist_ok=True)
    wfdb.wrsamp(
        rec.record_id,
        fs=rec.fs,
        units=["mV"] * rec.n_channels,
        sig_name=list(rec.channel_names),
        p_signal=rec.signal.T.astype(np.float64),
        fmt=["212"] * rec.n_channels,
        write_dir=str(folder),
    )
    if rec.beats is not None:
        wfdb.wrann(
            rec.record_id, "atr", rec.beats.sample, rec.beats.symbol.tolist(), write_dir=str(folder)
        )
    return folder / f"{rec.record_id}.hea"


def write_edf(rec: Recording, folder: Path, record_s: float = 1.0) -> Path:
    """Write ``rec`` (µV) as a plain 16-bit EDF file; return its path.

    EDF (Kemp et al. 1992): a 256-byte header, 256 bytes per signal, then data
    records of ``record_s`` seconds holding each signal's samples in turn.
    """
    folder.mkdir(parents=True, exist_ok=True)
    n_ch, per_rec = rec.n_channels, round(rec.fs * record_s)
    n_rec = rec.n_samples // per_rec
    x = rec.signal[:, : n_rec * per_rec].astype(np.float64)
    pmin, pmax = np.floor(x.min(1)) - 1, np.ceil(x.max(1)) + 1
    dmin, dmax = -32768, 32767
    digital = np.round((x - pmin[:, None]) / (pmax - pmin)[:, None] * (dmax - dmin) + dmin)

    def field(values, width):
        return "".join(str(v)[:width].ljust(width) for v in values)

    header = (
        "0".ljust(8) + "X X X X".ljust(80) + "Startdate 01-JAN-2000 X X X".ljust(80)
        + "01.01.00" + "00.00.00" + str(256 * (n_ch + 1)).ljust(8) + "".ljust(44)
        + str(n_rec).ljust(8) + f"{record_s:g}".ljust(8) + str(n_ch).ljust(4)
        + field(rec.channel_names, 16) + field([""] * n_ch, 80) + field(["uV"] * n_ch, 8)
        + field([f"{v:g}" for v in pmin], 8) + field([f"{v:g}" for v in pmax], 8)
        + field([dmin] * n_ch, 8) + field([dmax] * n_ch, 8) + field([""] * n_ch, 80)
        + field([per_rec] * n_ch, 8) + field([""] * n_ch, 32)
    )  # fmt: skip
    blocks = digital.astype("<i2").reshape(n_ch, n_rec, per_rec).transpose(1, 0, 2)
    path = folder / f"{rec.record_id}.edf"
    path.write_bytes(header.encode("ascii") + blocks.tobytes())
    return path


# --------------------------------------------------------------------------- processes
LAUNCHER = """
import sys
sys.path.insert(0, {here!r})
import conftest  # noqa: F401  (stand-ins for modules other teams have not shipped yet)
from cardioliquid.scoring.cli import main
if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
"""


def score_launcher(tmp_path: Path) -> Path:
    """A script running ``cardioliquid score`` in a subprocess, with this file's stand-ins."""
    path = tmp_path / "launch_score.py"
    path.write_text(LAUNCHER.format(here=str(Path(__file__).parent)))
    return path


# --------------------------------------------------------------------------- models
def make_ecg_model(carry_state: bool = False, seed: int = 0):
    """A small untrained arrhythmia model as a LoadedModel (random weights, seeded)."""
    from cardioliquid.models.checkpoint import LoadedModel
    from cardioliquid.models.registry import create_model
    from cardioliquid.signal.windows import n_beat_features

    torch.manual_seed(seed)
    prep = BeatPreprocessing()
    kw = dict(
        n_chans=1,
        n_outputs=5,
        n_times=prep.n_times,
        sfreq=prep.fs,
        n_features=n_beat_features(prep),
        units=16,
    )
    model = create_model("liquid-cfc", **kw).eval()
    meta = {"carry_state": carry_state, "version": "test"}
    return LoadedModel(model, prep, "liquid-cfc", kw, meta, "")


def make_eeg_model(carry_state: bool = False, seed: int = 0):
    """A small untrained seizure model reading :data:`EEG_CHANNELS`."""
    from cardioliquid.models.checkpoint import LoadedModel
    from cardioliquid.models.registry import create_model

    torch.manual_seed(seed)
    prep = WindowPreprocessing(channels=list(EEG_CHANNELS))
    kw = dict(n_chans=len(EEG_CHANNELS), n_outputs=2, n_times=prep.n_times, sfreq=prep.fs, units=16)
    model = create_model("liquid-cfc", **kw).eval()
    meta = {"carry_state": carry_state, "version": "test"}
    return LoadedModel(model, prep, "liquid-cfc", kw, meta, "")


def save_loaded(loaded, path: Path) -> Path:
    """Write a LoadedModel as a CardioLiquid ``.safetensors`` file."""
    from cardioliquid.models.checkpoint import save_model

    return save_model(
        path,
        loaded.model,
        loaded.model_name,
        loaded.model_kwargs,
        loaded.preprocessing,
        loaded.metadata,
    )


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
