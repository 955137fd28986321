"""The noise stress test of ECG analysis (Moody, Muldrow & Mark 1984), as WFDB ``nst`` runs it.

Real recorded noise is added to a clean ECG at a calibrated signal-to-noise
ratio, in ``nst``'s standard protocol: a clean five-minute learning period, then
two minutes of noise and two minutes without, alternately, to the end.

SNR follows ``nst``'s definition. ``nst`` converts the SNR to a ratio of the
noise's RMS amplitude to the peak-to-peak amplitude of the normal QRS
complexes, ``10 ** (-SNR / 20) * sqrt(2) / 4``; that is
``SNR = 10 log10(S / N)`` with ``S = A_pp ** 2 / 8`` (the power of a sine of
peak-to-peak amplitude ``A_pp``) and ``N`` the noise's mean square. Both
amplitudes are trimmed means, as WFDB ``sigamp`` reports them:

- ``A_pp``: the peak-to-peak amplitude within 50 ms of each normal beat;
- the RMS: over one-second windows, each without its mean.

The top and bottom 5 % of the measurements are left out of each mean.
``nst`` measures the noise record's RMS over the noise record itself. Here it
is measured on the noise that is added, so the stated SNR is that of the noise
actually in the signal.

:func:`recover_noise` takes the noise back out of a stress-test record as
``noisy - clean``. ``nst`` adds nothing outside its noisy periods, so that
difference is exactly zero there. The MIT-BIH Noise Stress Test Database's
``118e06`` minus MIT-BIH ``118`` gives about 14 minutes of real two-channel
electrode-motion noise.
"""

from __future__ import annotations

import itertools

import numpy as np

NST_LEARNING_S = 300.0
"""Clean learning period at the start of an ``nst`` record (s)."""
NST_PERIOD_S = 120.0
"""Length of each noisy and each clean period after it (s)."""
QRS_HALF_WINDOW_S = 0.05
"""Half-width of the window in which a QRS complex's peak-to-peak amplitude is measured."""
RMS_WINDOW_S = 1.0
"""Length of the windows whose RMS amplitudes are averaged."""
TRIM = 0.05
"""Share of measurements left out at each end before averaging (as ``sigamp``)."""


def _trimmed_mean(values: np.ndarray, trim: float = TRIM) -> float:
    v = np.sort(np.asarray(values, dtype=np.float64).reshape(-1))
    if v.size == 0:
        raise ValueError("expected at least one amplitude measurement, got none")
    k = int(v.size * trim)
    return float(v[k:v.size - k].mean() if v.size > 2 * k else v.mean())


def nst_schedule(n_samples: int, fs: float, learning_s: float = NST_LEARNING_S,
                 period_s: float = NST_PERIOD_S) -> np.ndarray:
    """Where ``nst``'s standard protocol adds noise: a bool per sample.

    Parameters
    ----------
    n_samples : int
    fs : float
        Sampling rate (Hz).
    learning_s, period_s : float
        The clean learning period, then alternating noisy and clean periods.

    Returns
    -------
    ndarray of bool, shape (n_samples,)
    """
    t = np.arange(int(n_samples)) / float(fs) - learning_s
    return (t >= 0) & (np.floor(t / period_s) % 2 == 0)


def qrs_amplitude(signal: np.ndarray, fs: float, qrs_samples: np.ndarray,
                  half_window_s: float = QRS_HALF_WINDOW_S) -> float:
    """Trimmed mean peak-to-peak amplitude of the QRS complexes at ``qrs_samples``.

    Parameters
    ----------
    signal : ndarray, shape (n,)
        One ECG channel.
    fs : float
    qrs_samples : ndarray of int
        The normal beats' positions (``nst`` uses the reference's normal QRS).
    half_window_s : float

    Returns
    -------
    float
        In the units of ``signal``.
    """
    x = np.asarray(signal, dtype=np.float64).reshape(-1)
    w = max(1, round(half_window_s * fs))
    q = np.asarray(qrs_samples, dtype=np.int64)
    q = q[(q >= w) & (q < x.size - w)]
    if q.size == 0:
        raise ValueError("expected QRS positions inside the signal, got none")
    windows = x[q[:, None] + np.arange(-w, w + 1)[None, :]]
    return _trimmed_mean(windows.max(axis=1) - windows.min(axis=1))


def rms_amplitude(noise: np.ndarray, fs: float, window_s: float = RMS_WINDOW_S) -> float:
    """Trimmed mean RMS amplitude of ``noise`` over windows of ``window_s``, each without its mean.

    Parameters
    ----------
    noise : ndarray, shape (n,)
    fs : float
    window_s : float

    Returns
    -------
    float
    """
    x = np.asarray(noise, dtype=np.float64).reshape(-1)
    w = max(2, round(window_s * fs))
    n = x.size // w
    if n == 0:
        raise ValueError(f"expected at least {window_s} s of noise, got {x.size / fs:.3f} s")
    chunks = x[: n * w].reshape(n, w)
    chunks = chunks - chunks.mean(axis=1, keepdims=True)
    return _trimmed_mean(np.sqrt(np.mean(chunks**2, axis=1)))


def nst_snr_db(qrs_pp: float, noise_rms: float) -> float:
    """``nst``'s SNR (dB): QRS peak-to-peak amplitude ``qrs_pp``, noise RMS ``noise_rms``."""
    return float(20.0 * np.log10(qrs_pp * np.sqrt(2.0) / 4.0 / noise_rms))


def add_nst_noise(
    signal: np.ndarray,
    fs: float,
    qrs_samples: np.ndarray,
    noise: np.ndarray,
    snr_db: float,
    schedule: np.ndarray | None = None,
) -> np.ndarray:
    """``signal`` with ``noise`` added at ``snr_db`` where ``schedule`` says, as ``nst`` does.

    Channel ``i`` of ``signal`` gets noise channel ``i % n_noise`` (``nst``'s
    pairing), scaled so that its SNR is ``snr_db``: the gain is set from that
    channel's QRS amplitude and the noise channel's RMS amplitude. Noise sample
    ``t`` is added at time ``t``; a shorter noise record starts again from its
    beginning. At the start of each noisy period the noise is offset to zero,
    so that the signal has no step (``nst`` recomputes its offsets there too).

    Parameters
    ----------
    signal : ndarray, shape (n_channels, n)
        The clean ECG, physical units.
    fs : float
    qrs_samples : ndarray of int
        Normal beats' positions, for the QRS amplitude.
    noise : ndarray, shape (n_noise_channels, m)
        The noise record, the same units and rate.
    snr_db : float
    schedule : ndarray of bool, shape (n,), optional
        Where noise is added; default :func:`nst_schedule`.

    Returns
    -------
    ndarray, shape (n_channels, n)
    """
    x = np.asarray(signal, dtype=np.float64)
    nz = np.atleast_2d(np.asarray(noise, dtype=np.float64))
    n = x.shape[1]
    on = nst_schedule(n, fs) if schedule is None else np.asarray(schedule, dtype=bool)
    if on.shape != (n,):
        raise ValueError(f"expected a schedule of {n} samples, got {on.shape}")
    reps = int(np.ceil(n / nz.shape[1]))
    tiled = np.tile(nz, (1, reps))[:, :n]
    # Offset each noisy period's noise to start at zero: no step where it begins.
    starts = np.flatnonzero(on & ~np.r_[False, on[:-1]])
    period = np.cumsum(np.isin(np.arange(n), starts)) - 1
    out = x.copy()
    for i in range(x.shape[0]):
        src = tiled[i % nz.shape[0]]
        gain = (10.0 ** (-snr_db / 20.0) * np.sqrt(2.0) / 4.0
                * qrs_amplitude(x[i], fs, qrs_samples) / rms_amplitude(src, fs))  # fmt: skip
        if on.any():
            added = gain * (src - src[starts][np.clip(period, 0, None)])
            out[i] += np.where(on, added, 0.0)
    return out


BASELINE_DRIFT_HZ = 0.333
"""Frequency of Friesen et al.'s baseline drift (a respiration-like sinusoid), Hz."""


def friesen_noise(kind: str, n_samples: int, fs: float, n_channels: int = 2,
                  seed: int = 0) -> np.ndarray:
    """Synthetic noise of a published model: Friesen et al. (1990), scaled later by SNR.

    Parameters
    ----------
    kind : {"baseline", "muscle"}
        ``"baseline"``: baseline drift, a sinusoid at :data:`BASELINE_DRIFT_HZ` with a
        random phase per channel. ``"muscle"``: electromyographic noise, zero-mean
        Gaussian, white up to the Nyquist frequency.
    n_samples : int
    fs : float
    n_channels : int
    seed : int
        Seeds the phases and the Gaussian noise (the same noise for every record).

    Returns
    -------
    ndarray, shape (n_channels, n_samples)
        Unit-scale noise; :func:`add_nst_noise` sets its level from the SNR.

    References
    ----------
    Friesen GM, Jannett TC, Jadallah MA, Yates SL, Quint SR, Nagle HT. A comparison of
    the noise sensitivity of nine QRS detection algorithms. IEEE Trans Biomed Eng
    37(1):85-98, 1990.
    """
    rng = np.random.default_rng(seed)
    if kind == "baseline":
        t = np.arange(int(n_samples)) / float(fs)
        phase = rng.uniform(0, 2 * np.pi, (n_channels, 1))
        return np.sin(2 * np.pi * BASELINE_DRIFT_HZ * t[None, :] + phase)
    if kind == "muscle":
        return rng.standard_normal((n_channels, int(n_samples)))
    raise ValueError(f"expected noise kind 'baseline' or 'muscle', got {kind!r}")


def recover_noise(noisy: np.ndarray, clean: np.ndarray, fs: float) -> np.ndarray:
    """The noise an ``nst`` stress test added, out of ``noisy - clean``, period by period.

    ``nst`` removes the clean record's ADC offset and, each time it switches the
    noise on or off, adds a constant offset so the output has no step. So
    ``noisy - clean`` is a constant in every clean period, and noise plus a
    constant in every noisy one. Each noisy period is returned from its first
    sample, which is zero.

    Parameters
    ----------
    noisy, clean : ndarray, shape (n_channels, n)
        The stress-test record and the clean record it was made from (physical units).
    fs : float
        Their sampling rate (Hz), for :func:`nst_schedule`.

    Returns
    -------
    ndarray, shape (n_channels, m)
        The noisy periods one after another.

    Raises
    ------
    ValueError
        The records differ in shape, a clean period is not constant (not ``nst``'s
        standard protocol), or no noise was added.
    """
    a, b = np.asarray(noisy, dtype=np.float64), np.asarray(clean, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"expected records of the same shape, got {a.shape} and {b.shape}")
    diff = a - b
    on = nst_schedule(diff.shape[1], fs)
    edges = np.flatnonzero(np.diff(np.r_[-1, on.astype(int), -1]) != 0)
    parts = []
    scale = max(float(np.abs(b).max()), 1.0)
    for lo, hi in itertools.pairwise(edges):
        seg = diff[:, lo:hi] - diff[:, lo:lo + 1]
        if on[lo]:
            parts.append(seg)
        elif np.abs(seg).max() > 1e-9 * scale:
            raise ValueError(
                f"expected no noise from {lo / fs:.0f} s to {hi / fs:.0f} s (nst's standard "
                f"protocol), got a difference of up to {np.abs(seg).max():.3g}")
    noise = np.concatenate(parts, axis=1) if parts else np.zeros((diff.shape[0], 0))
    if not np.abs(noise).max(initial=0.0) > 0:
        raise ValueError("the noisy record equals the clean one: no noise to recover")
    return noise
