"""A patient adversary: beat features that do not tell the training patients apart.

An inter-patient model fails on new patients when it learns what a class looks
like *in each training patient*: the beat shapes that identify a patient also
predict that patient's classes. Domain-adversarial training (Ganin & Lempitsky
2015, "Unsupervised domain adaptation by backpropagation") with the training
patients as the domains asks for features that carry the class but not the
patient: a linear read-out tries to name each beat's patient from what the cell
reads of the beat's shape, and the gradient reversal makes the encoder work
against it. Only training uses it; the exported model is unchanged in size.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cardioliquid.errors import CardioLiquidError


class _ReverseGradient(torch.autograd.Function):
    """Identity forward; the gradient times ``-scale`` backward."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.scale * grad, None


def reverse_gradient(x: torch.Tensor, scale: float) -> torch.Tensor:
    """``x`` unchanged, with its gradient multiplied by ``-scale`` on the way back."""
    return _ReverseGradient.apply(x, float(scale))


def adversary_ramp(progress: float) -> float:
    """Ganin & Lempitsky's schedule, ``2 / (1 + exp(-10 p)) - 1``: from 0 to ~1 over training.

    The encoder first learns the classes, then is asked more and more to hide
    the patient, so the adversary's early noise does not steer it.
    """
    p = min(max(float(progress), 0.0), 1.0)
    return 2.0 / (1.0 + math.exp(-10.0 * p)) - 1.0


class PatientAdversary(nn.Module):
    """The read-out that names a beat's training patient from its morphology.

    Parameters
    ----------
    n_inputs : int
        Width of the morphology the cell reads (``model.n_morphology``).
    capacity : int
        Patients it can name: at least the training set's (checked when
        training starts). Fixed, so a checkpoint loads without the data.
    """

    def __init__(self, n_inputs: int, capacity: int) -> None:
        super().__init__()
        if capacity < 2:
            raise ValueError(f"a patient adversary needs capacity >= 2, got {capacity}")
        self.capacity = int(capacity)
        self.head = nn.Linear(int(n_inputs), self.capacity)

    def loss(self, morphology: torch.Tensor, patients: torch.Tensor, labels: torch.Tensor,
             scale: float) -> torch.Tensor:
        """Cross-entropy of naming the patient of every scored beat.

        Parameters
        ----------
        morphology : Tensor, shape (batch, beats, n_inputs)
        patients : Tensor, shape (batch,)
            Each run's patient index (one patient per run).
        labels : Tensor, shape (batch, beats)
            Beats labelled -1 (padding, burn-in, unlabelled) are left out.
        scale : float
            How strongly the reversed gradient pushes the encoder.

        Returns
        -------
        Tensor
            The adversary's loss: minimised by the head, maximised (through the
            reversal, times ``scale``) by the encoder.
        """
        if int(patients.max()) >= self.capacity:
            raise CardioLiquidError(
                f"patient index {int(patients.max())} outside the adversary's capacity "
                f"{self.capacity}: raise model.adversary_patients")
        scored = labels >= 0
        if not bool(scored.any()):
            return morphology.sum() * 0.0
        who = patients.reshape(-1, 1).expand_as(labels)[scored]
        logits = self.head(reverse_gradient(morphology[scored], scale))
        return F.cross_entropy(logits, who)
