"""Mild, physiologically plausible augmentation of training batches.

Applied on the batch after it reaches the device, so it is vectorised and
costs almost nothing: per-example amplitude scaling (gain differences between
leads and databases), a slow sinusoidal baseline wander, and white noise.
Amplitudes are relative to the normalised signal (robust scale ~1).
"""

from __future__ import annotations

import math

import torch


def augment_batch(
    x: torch.Tensor,
    fs: float,
    scale: float = 0.2,
    noise: float = 0.03,
    wander: float = 0.1,
    shift: int = 0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Return an augmented copy of ``x``.

    Parameters
    ----------
    x : Tensor, shape (batch, channels, times)
        Normalised windows.
    fs : float
        Sampling rate of ``x`` (Hz), for the wander frequency.
    scale : float
        Gains are drawn log-uniformly in ``[1/(1+scale), 1+scale]``.
    noise : float
        Standard deviation of added white noise.
    wander : float
        Peak amplitude of a 0.05-0.5 Hz sinusoidal baseline wander.
    shift : int
        Largest time shift in samples (uniform in ``[-shift, shift]``, edges
        repeated): the R-peak jitter of a QRS detector, which scoring uses.
    generator : torch.Generator, optional
        Source of randomness (the global, seeded one by default).
    """
    b, c, t = x.shape
    kw = {"device": x.device, "generator": generator}
    out = x
    if shift > 0:
        lag = torch.randint(-shift, shift + 1, (b, 1, 1), **kw)
        idx = (torch.arange(t, device=x.device).view(1, 1, t) - lag).clamp(0, t - 1)
        out = out.gather(2, idx.expand(b, c, t))
    if scale > 0:
        log_gain = (torch.rand(b, 1, 1, **kw) * 2 - 1) * math.log1p(scale)
        out = out * log_gain.exp()
    if wander > 0:
        freq = 0.05 + 0.45 * torch.rand(b, 1, 1, **kw)
        phase = 2 * math.pi * torch.rand(b, 1, 1, **kw)
        amp = wander * torch.rand(b, 1, 1, **kw)
        tt = torch.arange(t, device=x.device, dtype=x.dtype).view(1, 1, t) / fs
        out = out + amp * torch.sin(2 * math.pi * freq * tt + phase)
    if noise > 0:
        out = out + noise * torch.randn(b, c, t, **kw)
    return out.to(x.dtype)
