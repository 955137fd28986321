"""The training losses beside cross-entropy, and the class weights every loss uses.

A :class:`~cardioliquid.training.module.LiquidClassifierModule` and patient
adaptation (:mod:`cardioliquid.training.adapt`) share them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cardioliquid._check import check_positive


def focal_loss(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor,
               gamma: float) -> torch.Tensor:
    """Class-weighted focal loss (Lin et al. 2017), normalised as weighted cross-entropy.

    Each example's cross-entropy is scaled by ``(1 - p_true) ** gamma``, so beats the
    model already gets right with confidence count less and its confident mistakes count
    as much as before; ``gamma = 0`` is :func:`torch.nn.functional.cross_entropy` with
    ``weight`` exactly. The sum is divided by the targets' total class weight, as
    cross-entropy's ``"mean"`` does.
    """
    if target.numel() == 0:
        return logits.sum() * 0.0
    log_p = F.log_softmax(logits, dim=-1).gather(1, target[:, None]).squeeze(1)
    w = weight[target]
    per_example = -w * (1.0 - log_p.exp()).pow(gamma) * log_p
    return per_example.sum() / w.sum()


FORECAST_AHEAD = 2
"""Beats ahead whose pre-RR the forecast read-out predicts: the next beat's pre-RR is the
current beat's post-RR, an input, so the first interval no input holds is the one after it."""


def rhythm_forecast_head(model: nn.Module) -> nn.Linear:
    """The linear read-out of a beat-sequence model's state that ``rhythm_forecast`` trains."""
    if not getattr(model, "beat_sequence", False) or getattr(model, "timespan_feature",
                                                                None) is None:
        raise ValueError("rhythm_forecast needs a model of the beat sequence whose features "
                         "hold each beat's pre-RR in seconds (timespan_feature)")
    # Every sequence cell returns states of (batch, steps, state_size).
    return nn.Linear(int(model.rnn.state_size), 1)


def rhythm_forecast_loss(head: nn.Module, states: torch.Tensor, features: torch.Tensor,
                         labels: torch.Tensor, column: int,
                         ahead: int = FORECAST_AHEAD) -> torch.Tensor:
    """How much of the rhythm the state leaves unexplained.

    ``head`` reads every neuron's state after beat ``t`` (``states``: batch, beats,
    neurons) and predicts the log pre-RR of beat ``t + ahead`` (``features[..., column]``,
    seconds). The mean squared error is divided by the variance of those targets in the
    batch, so the loss is 1 - R² of the forecast: 1 for a state that knows nothing of the
    rhythm beyond its mean, whatever the patients' heart rates. Pairs where either beat
    has no label (padding, unlabelled or burn-in beats) do not count.
    """
    if states.shape[1] <= ahead:
        return states.sum() * 0.0
    log_rr = features[..., column].to(states.dtype).clamp_min(1e-3).log()
    pred = head(states[:, :-ahead]).squeeze(-1)
    target = log_rr[:, ahead:]
    valid = (labels[:, :-ahead] >= 0) & (labels[:, ahead:] >= 0)
    if int(valid.sum()) < 2:
        return pred.sum() * 0.0
    target = target[valid]
    err = pred[valid] - target
    return err.pow(2).mean() / target.var().detach().clamp_min(1e-4)


def balanced_weights(
    counts: torch.Tensor, power: float = 0.5, max_ratio: float | None = None
) -> torch.Tensor:
    """Inverse-frequency class weights, normalised to mean 1 over present classes.

    Parameters
    ----------
    counts : Tensor, shape (n_classes,)
        Training examples per class.
    power : float
        ``(n / count) ** power``; 1 is fully balanced, 0 is unweighted.
        Absent classes get weight 0.
    max_ratio : float, optional
        No class weighs more than ``max_ratio`` times the most frequent class.
    """
    counts = counts.double()
    present = counts > 0
    w = torch.zeros_like(counts)
    w[present] = (counts[present].sum() / counts[present]) ** power
    if max_ratio is not None:
        check_positive("max_ratio", max_ratio)
        w[present] = w[present].clamp(max=float(w[present].min()) * max_ratio)
    w[present] = w[present] / w[present].mean()
    return w.float()


def patient_balanced_weights(counts: torch.Tensor, power: float = 1.0,
                             floor: float = 40.0) -> torch.Tensor:
    """Per-patient factors that even out each class's patients, keeping its total weight.

    A class's training examples are spread very unevenly over patients (of the 7,673 S
    beats of DS1 and the 39 SVDB records, three patients hold 40 %), so a loss that
    counts every example alike learns that class mostly from those few patients. The
    factor of an example of class ``c`` from patient ``p`` is proportional to
    ``max(n[p, c], floor) ** -power`` and scaled so that the class's examples still sum
    to its count: the loss moves weight between a class's patients, never between
    classes (that is the class weights' job).

    Parameters
    ----------
    counts : Tensor, shape (n_patients, n_classes)
        Training examples of each class from each patient.
    power : float
        0 leaves every factor at 1; 1 gives each patient of a class the same total
        weight (as far as ``floor`` allows).
    floor : float
        Counts below it are taken as it, so a patient with a handful of examples of a
        class (possibly mislabelled ones) does not weigh as much as one with hundreds.

    Returns
    -------
    Tensor, shape (n_patients, n_classes)
        The factors; 0 where a patient has no example of the class.
    """
    if power < 0:
        raise ValueError(f"power must be >= 0, got {power}")
    check_positive("floor", floor)
    counts = counts.double()
    raw = counts.clamp(min=float(floor)) ** -float(power)
    raw = torch.where(counts > 0, raw, torch.zeros_like(raw))
    mass = (counts * raw).sum(dim=0)  # each class's weighted total
    scale = torch.where(mass > 0, counts.sum(dim=0) / mass.clamp(min=1e-12),
                        torch.zeros_like(mass))
    return (raw * scale).float()
