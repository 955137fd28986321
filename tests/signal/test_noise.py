"""The noise stress test: nst's schedule, SNR definition, noise added and recovered."""

from __future__ import annotations

import numpy as np
import pytest

from cardioliquid.signal.noise import (
    add_nst_noise,
    nst_schedule,
    nst_snr_db,
    qrs_amplitude,
    recover_noise,
    rms_amplitude,
)

FS = 250.0


def _clean_ecg(minutes: float = 12.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two channels of spikes (QRS 1.6 and 0.8 mV peak to peak) every 0.8 s, and their beats."""
    n = int(minutes * 60 * FS)
    beats = np.arange(int(0.4 * FS), n - int(0.4 * FS), int(0.8 * FS))
    x = np.zeros((2, n))
    shape = np.r_[np.linspace(0, 1, 5), np.linspace(1, -0.6, 6)[1:], np.linspace(-0.6, 0, 4)[1:]]
    for b in beats:
        x[0, b:b + shape.size] += 1.0 * shape
        x[1, b:b + shape.size] += 0.5 * shape
    x += 0.01 * np.random.default_rng(seed).standard_normal(x.shape)
    return x, beats + 4


def _noise(seconds: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    white = rng.standard_normal((2, int(seconds * FS)))
    drift = np.cumsum(rng.standard_normal((2, white.shape[1])), axis=1) * 0.01
    return white + drift


def test_schedule_is_five_clean_minutes_then_two_on_two_off():
    on = nst_schedule(int(14 * 60 * FS), FS)
    minute = np.add.reduceat(on, np.arange(0, on.size, int(60 * FS))) > 0
    assert minute.tolist() == [False] * 5 + [True, True, False, False] * 2 + [True]


@pytest.mark.parametrize("snr", [24.0, 12.0, 6.0, 0.0, -6.0])
def test_noise_is_added_at_the_target_snr_and_nowhere_else(snr):
    clean, beats = _clean_ecg()
    noise = _noise(200.0)  # shorter than the record: nst starts it again from the beginning
    noisy = add_nst_noise(clean, FS, beats, noise, snr)
    on = nst_schedule(clean.shape[1], FS)
    added = noisy - clean
    assert np.all(added[:, ~on] == 0)
    for ch in range(2):
        measured = nst_snr_db(qrs_amplitude(clean[ch], FS, beats), rms_amplitude(added[ch, on], FS))
        assert measured == pytest.approx(snr, abs=0.5)
    # Each noisy period starts from zero: no step where the noise is switched on.
    starts = np.flatnonzero(on & ~np.r_[False, on[:-1]])
    assert np.all(added[:, starts] == 0)


def test_snr_definition_is_nsts():
    """nst: noise RMS over QRS peak-to-peak = 10 ** (-SNR / 20) * sqrt(2) / 4."""
    assert nst_snr_db(4.0, np.sqrt(2.0)) == pytest.approx(0.0)
    assert nst_snr_db(4.0, np.sqrt(2.0) / 10) == pytest.approx(20.0)


def test_recovered_noise_is_what_was_added_without_its_offsets():
    clean, beats = _clean_ecg()
    noisy = add_nst_noise(clean, FS, beats, _noise(720.0), 6.0)
    on = nst_schedule(clean.shape[1], FS)
    # nst's own output carries a constant offset per period (ADC zero, step cancelling).
    period = np.cumsum(np.r_[True, on[1:] != on[:-1]])
    shifted = noisy + 0.3 * period[None, :]
    got = recover_noise(shifted, clean, FS)
    np.testing.assert_allclose(got, (noisy - clean)[:, on], atol=1e-9)
    with pytest.raises(ValueError, match="expected no noise from 0 s to 300 s"):
        bad = shifted.copy()
        bad[0, 100] += 1.0
        recover_noise(bad, clean, FS)
    with pytest.raises(ValueError, match="no noise to recover"):
        recover_noise(clean, clean, FS)
    with pytest.raises(ValueError, match="same shape"):
        recover_noise(clean[:, :-1], clean, FS)


@pytest.mark.realdata
def test_electrode_motion_noise_recovered_from_nstdb(shared_data):
    """118e06 - 118 is about 13 minutes of real two-channel electrode-motion noise; 118e24
    holds the same noise 18 dB weaker, which nst's SNR definition measures exactly."""
    import wfdb

    clean = wfdb.rdrecord(str(shared_data / "mitdb" / "118"))
    ann = wfdb.rdann(str(shared_data / "mitdb" / "118"), "atr")
    qrs = ann.sample[np.asarray(ann.symbol) == "R"]  # 118's normal beats are RBBB
    snr = {}
    for name in ("118e06", "118e24"):
        rec = wfdb.rdrecord(str(shared_data / "nstdb" / name))
        noise = recover_noise(rec.p_signal.T, clean.p_signal.T, clean.fs)
        assert noise.shape == (2, 282_800)  # 13.1 min: minutes 5-7, 9-11, ..., 29-30
        snr[name] = [nst_snr_db(qrs_amplitude(clean.p_signal[:, c], clean.fs, qrs),
                                rms_amplitude(noise[c], clean.fs)) for c in range(2)]
    np.testing.assert_allclose(np.subtract(snr["118e24"], snr["118e06"]), 18.0, atol=0.05)


@pytest.mark.parametrize("kind", ["baseline", "muscle"])
def test_published_noise_models_are_added_at_the_target_snr(kind):
    from cardioliquid.signal.noise import BASELINE_DRIFT_HZ, friesen_noise

    clean, beats = _clean_ecg()
    noise = friesen_noise(kind, clean.shape[1], FS)
    assert noise.shape == clean.shape
    np.testing.assert_array_equal(noise, friesen_noise(kind, clean.shape[1], FS))  # seeded
    if kind == "baseline":  # one spectral line at the drift frequency
        spectrum = np.abs(np.fft.rfft(noise[0]))
        peak = np.fft.rfftfreq(noise.shape[1], 1 / FS)[spectrum.argmax()]
        assert peak == pytest.approx(BASELINE_DRIFT_HZ, abs=0.01)
    noisy = add_nst_noise(clean, FS, beats, noise, 6.0)
    on = nst_schedule(clean.shape[1], FS)
    added = (noisy - clean)[0, on]
    measured = nst_snr_db(qrs_amplitude(clean[0], FS, beats), rms_amplitude(added, FS))
    assert measured == pytest.approx(6.0, abs=0.5)
    with pytest.raises(ValueError, match="expected noise kind"):
        friesen_noise("hum", 10, FS)
