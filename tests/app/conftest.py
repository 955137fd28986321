"""Synthetic recordings for the app tests: WFDB records written into tmp_path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def write_synthetic_ecg(folder: Path, name: str = "syn100", seconds: float = 60.0,
                        fs: int = 360, seed: int = 0) -> Path:
    """A noisy ECG-like lead (MLII) with annotated beats, every 5th one wide ('V').

    Returns the header path.
    """
    import wfdb

    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    t = np.arange(n) / fs
    x = 0.05 * np.sin(2 * np.pi * 0.3 * t) + 0.02 * rng.standard_normal(n)
    beats, symbols = [], []
    for k, bt in enumerate(np.arange(0.6, seconds - 0.6, 0.8)):
        ventricular = k % 5 == 4
        width = 0.04 if ventricular else 0.012
        amp = -1.2 if ventricular else 1.3
        x += amp * np.exp(-0.5 * ((t - bt) / width) ** 2)
        x += 0.25 * np.exp(-0.5 * ((t - bt - 0.25) / 0.05) ** 2)  # T wave
        beats.append(round(bt * fs))
        symbols.append("V" if ventricular else "N")
    folder.mkdir(parents=True, exist_ok=True)
    sig = np.stack([x, 0.6 * x], axis=1)
    wfdb.wrsamp(name, fs=fs, units=["mV", "mV"], sig_name=["MLII", "V1"], p_signal=sig,
                fmt=["212", "212"], write_dir=str(folder))  # fmt: skip
    wfdb.wrann(name, "atr", np.array(beats), np.array(symbols), write_dir=str(folder))
    return folder / f"{name}.hea"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder with one synthetic annotated ECG record, and the app pointed at it."""
    root = tmp_path / "data"
    write_synthetic_ecg(root / "synthetic")
    monkeypatch.setenv("CARDIOLIQUID_DATA_DIR", str(root))
    return root


@pytest.fixture
def make_ecg():
    """The synthetic WFDB writer, for tests that need more records."""
    return write_synthetic_ecg


@pytest.fixture(scope="session")
def untrained_ecg_model(tmp_path_factory: pytest.TempPathFactory):
    """A small random liquid arrhythmia model saved and reloaded like a real checkpoint."""
    import torch

    from cardioliquid.models import create_model
    from cardioliquid.models.checkpoint import load_model, save_model
    from cardioliquid.signal.config import BeatPreprocessing
    from cardioliquid.signal.windows import n_beat_features

    torch.manual_seed(0)
    prep = BeatPreprocessing()
    kwargs = {"n_chans": 1, "n_outputs": 5, "n_times": prep.n_times, "sfreq": prep.fs,
              "n_features": n_beat_features(prep), "units": 12, "motor_neurons": 5}  # fmt: skip
    model = create_model("liquid-cfc", **kwargs)
    path = tmp_path_factory.mktemp("models") / "tiny.safetensors"
    save_model(path, model, "liquid-cfc", kwargs, prep, metadata={"test_records": ["syn100"]})
    return load_model(path)


CHBMIT_MONTAGE = [
    "FP1-F7", "F7-T7", "T7-P7", "P7-O1", "FP1-F3", "F3-C3", "C3-P3", "P3-O1", "FP2-F4",
    "F4-C4", "C4-P4", "P4-O2", "FP2-F8", "F8-T8", "T8-P8", "P8-O2", "FZ-CZ", "CZ-PZ",
]  # fmt: skip
"""The 18 bipolar derivations of CHB-MIT (what the shipped ``seizure`` model reads)."""


def write_synthetic_eeg(folder: Path, name: str = "syneeg", seconds: float = 120.0,
                        fs: int = 256, seizure: tuple[float, float] = (40.0, 70.0),
                        seed: int = 0) -> Path:
    """An 18-channel bipolar EEG (EDF) with a rhythmic 3 Hz 'seizure' the expert marked
    (``<name>_events.tsv`` beside it, SzCORE format). Returns the EDF path."""
    import importlib.util

    from cardioliquid.io.recording import Recording

    spec = importlib.util.spec_from_file_location(
        "scoring_helpers_for_app_eeg", Path(__file__).parents[1] / "scoring" / "scoring_helpers.py")
    helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helpers)
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    t = np.arange(n) / fs
    x = 20 * rng.standard_normal((len(CHBMIT_MONTAGE), n))
    inside = (t >= seizure[0]) & (t < seizure[1])
    x[:, inside] += 150 * np.sin(2 * np.pi * 3 * t[inside])
    rec = Recording(x.astype(np.float32), float(fs), list(CHBMIT_MONTAGE), "uV", name, name, "eeg")
    path = helpers.write_edf(rec, folder)
    onset, offset = seizure
    (folder / f"{name}_events.tsv").write_text(
        "onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration\n"
        f"{onset:.4f}\t{offset - onset:.4f}\tsz\tn/a\tn/a\t2000-01-01 00:00:00\t{seconds:.4f}\n")
    return path


@pytest.fixture
def eeg_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder with one synthetic 18-channel EEG with an expert-marked seizure."""
    root = tmp_path / "data"
    write_synthetic_eeg(root / "eeg")
    monkeypatch.setenv("CARDIOLIQUID_DATA_DIR", str(root))
    return root


@pytest.fixture
def play_to_end():
    """Press Play at full speed and rerun the page until the replay has finished (or ``runs``)."""
    def play(at, runs: int = 8):
        at.radio(key="speed").set_value("as fast as possible")
        at.button(key="play").click().run()
        for _ in range(runs):
            if at.session_state["replay"].finished:
                break
            at.run()
        return at
    return play
