"""Helpers of the scoring tests: synthetic WFDB/EDF recordings and tiny models.

A uniquely named module (not ``conftest``), so ``from scoring_helpers import ...``
resolves to this file whichever other test folder's ``conftest`` was imported first.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cardioliquid.io.labels import aami_class
from cardioliquid.io.recording import BeatAnnotations, Recording
from cardioliquid.signal.config import BeatPreprocessing, WindowPreprocessing

torch.set_num_threads(1)

EEG_CHANNELS = ["FP1-F7", "F7-T7", "T7-P7", "P7-O1"]


# --------------------------------------------------------------------------- recordings
def synthetic_ecg(duration_s: float = 40.0, fs: float = 360.0, seed: int = 0,
                  af_from_s: float | None = None, ectopic_fraction: float = 0.15,
                  p_waves: bool = False) -> Recording:
    """A clean synthetic ECG (Gaussian QRS bumps, some early 'ectopic' beats).

    From ``af_from_s`` on, the rhythm is AF-like: independent RR intervals
    of 0.4-1.2 s and no ectopic beats. ``p_waves``: a P wave 160 ms before
    every beat outside AF, fibrillatory waves (5-7 Hz) instead in AF, and a
    narrower QRS (as in a real ECG, so the P-wave region before it is its own).
    """
    rng = np.random.default_rng(seed)
    n = int(duration_s * fs)
    t = np.arange(n) / fs
    peaks, symbols, pos = [], [], 0.4
    while pos < duration_s - 0.4:
        af = af_from_s is not None and pos >= af_from_s
        early = not af and rng.random() < ectopic_fraction
        peaks.append(int(pos * fs))
        symbols.append("V" if early else "N")
        if af:
            pos += rng.uniform(0.4, 1.2)
        else:
            pos += rng.uniform(0.55, 0.65) if early else rng.uniform(0.8, 0.95)
    sig = 0.02 * rng.standard_normal(n) + 0.1 * np.sin(2 * np.pi * 0.2 * t)
    if p_waves and af_from_s is not None:
        freq = 6.0 + np.cumsum(rng.standard_normal(n)) / np.sqrt(n)  # drifts within 5-7 Hz
        phase = 2 * np.pi * np.cumsum(np.clip(freq, 5.0, 7.0)) / fs
        sig += np.where(t >= af_from_s, 0.1 * np.sin(phase), 0.0)
    for p, s in zip(peaks, symbols, strict=True):
        width = (0.03 if s == "N" else 0.06) / (2 if p_waves else 1)
        sig += (1.2 if s == "N" else -1.0) * np.exp(-0.5 * ((t - p / fs) / width) ** 2)
        if p_waves and (af_from_s is None or p / fs < af_from_s):
            sig += 0.2 * np.exp(-0.5 * ((t - p / fs + 0.16) / 0.02) ** 2)
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
from cardioliquid.scoring.cli import main
if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
"""


def score_launcher(tmp_path: Path) -> Path:
    """A script running ``cardioliquid score`` in a subprocess (as the console script does)."""
    path = tmp_path / "launch_score.py"
    path.write_text(LAUNCHER)
    return path


# --------------------------------------------------------------------------- models
def streamed_beats(rec: Recording, loaded, chunk_s: float, **kwargs):
    """Every beat a replay of ``rec`` in ``chunk_s`` chunks decides, joined in order."""
    from cardioliquid.scoring.stream import replay

    streamed = None
    for _, new in replay(rec, loaded, chunk_s=chunk_s, **kwargs):
        streamed = new if streamed is None else streamed.concat(new)
    return streamed


def assert_stream_equals_batch(rec: Recording, loaded, chunk_s: float, **kwargs):
    """Stream ``rec`` in ``chunk_s`` chunks and score it in one batch with the same
    ``kwargs``: the same beats, probabilities within 1e-5. Returns ``(streamed, batch)``."""
    from cardioliquid.scoring.beats import predict_beats

    batch = predict_beats(rec, loaded, **kwargs)
    streamed = streamed_beats(rec, loaded, chunk_s, **kwargs)
    np.testing.assert_array_equal(streamed.sample, batch.sample)
    np.testing.assert_allclose(streamed.proba, batch.proba, atol=1e-5)
    return streamed, batch


def make_ecg_model(carry_state: bool = False, seed: int = 0, af_gate: bool = False):
    """A small untrained arrhythmia model as a LoadedModel (random weights, seeded)."""
    from cardioliquid.models.checkpoint import LoadedModel
    from cardioliquid.models.registry import create_model
    from cardioliquid.signal.windows import n_beat_features

    torch.manual_seed(seed)
    prep = BeatPreprocessing(af_gate=af_gate)
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


def make_rhythm_model(seed: int = 0, af_gate: bool = False, stack_leads: int = 1,
                      embedding_reference: int = 0):
    """A small untrained beat-rhythm model (one CfC step per beat) as a LoadedModel;
    ``embedding_reference``: it reads each beat against the earlier beats' mean (v10)."""
    from cardioliquid.models.checkpoint import LoadedModel
    from cardioliquid.models.registry import create_model
    from cardioliquid.signal.windows import n_beat_features

    torch.manual_seed(seed)
    prep = BeatPreprocessing(af_gate=af_gate, rr_feature_set="robust_absolute",
                             template_features=True, stack_leads=stack_leads)
    kw = dict(n_chans=stack_leads, n_outputs=5, n_times=prep.n_times, sfreq=prep.fs,
              n_features=n_beat_features(prep), timespan_feature=6, units=16, motor_neurons=5)
    if embedding_reference:
        kw["embedding_reference"] = embedding_reference
    model = create_model("liquid-rhythm-cfc", **kw).eval()
    return LoadedModel(model, prep, "liquid-rhythm-cfc", kw, {"version": "test"}, "")


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
