"""Mild, physiologically plausible augmentation of training batches.

Applied on the batch after it reaches the device, so it is vectorised and
costs almost nothing: per-example amplitude scaling (gain differences between
leads and databases), a slow sinusoidal baseline wander, and white noise.
Amplitudes are relative to the normalised signal (robust scale ~1). The beat
models' features get their own: a change of heart rate
(:func:`scale_heart_rate`), and AF-like rhythm for single beats
(:func:`irregular_rhythm_features`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from cardioliquid.signal.rr import ROBUST_RR_FEATURE_NAMES


@dataclass(frozen=True)
class Augmentation:
    """What :func:`augment_batch` does to training batches: one setting for every DataModule.

    A DataModule's ``augmentation`` argument; in a config (LightningCLI fills it)::

        augmentation:
          enabled: true
          scale: 0.2
          noise: 0.03

    Fields a config leaves out keep the DataModule's own default (its signature's).

    Parameters
    ----------
    enabled : bool
        Augment training batches at all (validation and test batches never are).
    scale, noise, wander, shift
        As in :func:`augment_batch`.
    heart_rate : float
        Largest relative change of heart rate given to a training example's absolute
        intervals (:func:`scale_heart_rate`; beat DataModules with absolute RR features
        only). 0 leaves the features alone.
    stretch : float
        Largest relative change of a beat's duration (:func:`stretch_windows`, about the R
        peak; beat DataModules only, one factor per run of beats in the sequence ones).
    record_reference : float
        Largest relative change of the record-level reference interval behind the RR
        ratios over the record (:func:`scale_record_reference`; beat DataModules whose
        RR set has such ratios). 0 leaves them alone.
    """

    enabled: bool = True
    scale: float = 0.2
    noise: float = 0.03
    wander: float = 0.1
    shift: int = 0
    heart_rate: float = 0.0
    stretch: float = 0.0
    record_reference: float = 0.0

    def apply(self, x: torch.Tensor, fs: float,
              generator: torch.Generator | None = None) -> torch.Tensor:
        """``x`` augmented (a copy), or ``x`` itself when not ``enabled``."""
        if not self.enabled:
            return x
        return augment_batch(x, fs, scale=self.scale, noise=self.noise, wander=self.wander,
                             shift=self.shift, generator=generator)


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
        out = out * log_uniform_factors(b, scale, x.device, generator).view(b, 1, 1)
    if wander > 0:
        freq = 0.05 + 0.45 * torch.rand(b, 1, 1, **kw)
        phase = 2 * math.pi * torch.rand(b, 1, 1, **kw)
        amp = wander * torch.rand(b, 1, 1, **kw)
        tt = torch.arange(t, device=x.device, dtype=x.dtype).view(1, 1, t) / fs
        out = out + amp * torch.sin(2 * math.pi * freq * tt + phase)
    if noise > 0:
        out = out + noise * torch.randn(b, c, t, **kw)
    return out.to(x.dtype)


def log_uniform_factors(n: int, amount: float, device: torch.device | None = None,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` factors drawn log-uniformly in ``[1/(1+amount), 1+amount]`` (gain, rate, width)."""
    u = torch.rand(n, device=device, generator=generator) * 2 - 1
    return (u * math.log1p(amount)).exp()


def stretch_windows(x: torch.Tensor, center: int, factors: torch.Tensor) -> torch.Tensor:
    """Beat windows resampled in time about their R peak: a wider or narrower beat.

    QRS and QT durations differ between patients (and with heart rate); a model
    trained on a few dozen patients sees few of them. Sample ``i`` of the output
    is the input at ``center + (i - center) / factor`` (linear interpolation,
    edges repeated), so a factor above 1 widens the beat and the R peak stays put.

    Parameters
    ----------
    x : Tensor, shape (batch, channels, times)
    center : int
        Index of the R peak in the window.
    factors : Tensor, shape (batch,)

    Returns
    -------
    Tensor
        Same shape and dtype as ``x``.
    """
    b, c, t = x.shape
    pos = torch.arange(t, device=x.device, dtype=torch.float32).view(1, t)
    src = (center + (pos - center) / factors.view(b, 1).float()).clamp(0, t - 1)
    lo = src.floor().long().clamp(max=t - 1)
    hi = (lo + 1).clamp(max=t - 1)
    frac = (src - lo.float()).unsqueeze(1).to(x.dtype)
    lo, hi = lo.unsqueeze(1).expand(b, c, t), hi.unsqueeze(1).expand(b, c, t)
    return torch.lerp(x.gather(2, lo), x.gather(2, hi), frac)


def interval_columns(names: tuple[str, ...]) -> list[int]:
    """Indices of the features that are intervals in seconds (names ending ``_s``)."""
    return [i for i, name in enumerate(names) if name.endswith("_s")]


def scale_heart_rate(
    features: torch.Tensor,
    columns: list[int],
    amount: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Give each example a different heart rate: its intervals in seconds times one factor.

    Ratios of intervals (the patient-relative RR features) are unchanged by a
    change of rate, while the absolute intervals are what tells one patient's
    rhythm from another's. Drawing one factor per example (per run of beats
    for the sequence models, so the run's rhythm keeps its shape) keeps a model
    from learning each training patient's own rate.

    Parameters
    ----------
    features : Tensor, shape (batch, ..., n_features)
        Raw (unstandardised) features.
    columns : list of int
        The interval columns (:func:`interval_columns`).
    amount : float
        Factors are drawn log-uniformly in ``[1/(1+amount), 1+amount]``.
    generator : torch.Generator, optional

    Returns
    -------
    Tensor
        A copy of ``features`` (``features`` itself when there is nothing to scale).
    """
    return _scale_columns(features, columns, amount, generator)


def _scale_columns(features: torch.Tensor, columns: list[int], amount: float,
                   generator: torch.Generator | None) -> torch.Tensor:
    """``features`` with ``columns`` times one log-uniform factor per example (a copy)."""
    if amount <= 0 or not columns:
        return features
    shape = (features.shape[0],) + (1,) * (features.dim() - 1)
    factor = log_uniform_factors(shape[0], amount, features.device, generator)
    factor = factor.view(shape).to(features.dtype)
    out = features.clone()
    out[..., columns] = features[..., columns] * factor
    return out


def record_reference_columns(names: tuple[str, ...]) -> list[int]:
    """Indices of the ratios over a record-level reference (names with ``_over_record``)."""
    return [i for i, name in enumerate(names) if "_over_record" in name]


def scale_record_reference(
    features: torch.Tensor,
    columns: list[int],
    amount: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Give each example a different record reference: its ratios over the record times one factor.

    A record's median interval is set by whatever rhythm is its majority: sinus
    in most records, but ectopic beats where they dominate (a record of runs of
    supraventricular tachycardia), and then its premature beats look ordinary
    against it. Moving the reference by a random factor per example (per run of
    beats for the sequence models) keeps a model from trusting it more than the
    local rhythm and the intervals themselves.

    The arguments and the result are those of :func:`scale_heart_rate`, with
    ``columns`` the ratio columns over the record (:func:`record_reference_columns`).
    """
    return _scale_columns(features, columns, amount, generator)


IRREGULAR_RHYTHM_FEATURES: tuple[str, ...] = ROBUST_RR_FEATURE_NAMES
"""The RR features :func:`irregular_rhythm_features` rewrites (the ``"robust"`` set)."""


def check_irregular_rhythm_features(names: tuple[str, ...]) -> None:
    """Raise ``ValueError`` unless ``names`` hold :data:`IRREGULAR_RHYTHM_FEATURES`."""
    missing = [n for n in IRREGULAR_RHYTHM_FEATURES if n not in names]
    if missing:
        raise ValueError(f"irregular-rhythm augmentation (aug_irregular) needs the RR features "
                         f"{missing}; got {list(names)} (use rr_feature_set 'robust')")


def irregular_rhythm_features(
    features: torch.Tensor,
    labels: torch.Tensor,
    names: tuple[str, ...],
    fraction: float,
    normal_class: int = 0,
    spread: float = 0.2,
    mad_range: tuple[float, float] = (0.08, 0.2),
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Give a random ``fraction`` of normal beats the RR context of atrial fibrillation.

    In atrial fibrillation every interval is irregular and the beats are
    normal (N) in the AAMI classes, yet a short pre-RR is what marks a
    supraventricular beat in a regular rhythm. With few AF patients to learn
    from, a model calls AF beats S. This draws, for the chosen N beats, an
    irregular preceding rhythm (MAD over median in ``mad_range``) and pre/post
    intervals log-normally spread around the local median, and rewrites the
    ratios consistently; labels stay N.

    Parameters
    ----------
    features : Tensor, shape (batch, n_features)
        Raw (unstandardised) beat features named by ``names``.
    labels : Tensor, shape (batch,)
    names : tuple of str
        Feature names (:func:`cardioliquid.signal.windows.beat_feature_names`);
        must hold :data:`IRREGULAR_RHYTHM_FEATURES`.
    fraction : float
        Share of the batch's normal beats rewritten.
    normal_class : int
        Index of N.
    spread : float
        Standard deviation of log(pre-RR / local median) and of log(post-RR / local median).
    mad_range : (float, float)
        Uniform range of the irregularity feature.
    generator : torch.Generator, optional

    Returns
    -------
    Tensor
        A copy of ``features``.
    """
    check_irregular_rhythm_features(names)
    pick = (labels == normal_class) & (
        torch.rand(labels.shape, device=labels.device, generator=generator) < fraction)
    n = int(pick.sum())
    if n == 0:
        return features
    kw = {"device": features.device, "generator": generator}
    pre = torch.exp(spread * torch.randn(n, **kw))
    post = torch.exp(spread * torch.randn(n, **kw))
    mad = mad_range[0] + (mad_range[1] - mad_range[0]) * torch.rand(n, **kw)
    i = {name: names.index(name) for name in IRREGULAR_RHYTHM_FEATURES}
    out = features.clone()
    rows = out[pick]
    local_over_record = rows[:, i["local_median_over_record_median"]]
    rows[:, i["pre_over_local_median"]] = pre
    rows[:, i["post_over_local_median"]] = post
    rows[:, i["post_over_pre"]] = post / pre
    rows[:, i["pre_over_record_median"]] = pre * local_over_record
    rows[:, i["local_rr_mad"]] = mad
    out[pick] = rows.to(out.dtype)
    return out
