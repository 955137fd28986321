"""Sanity check of an attribution: the model-randomisation test.

Adebayo et al., "Sanity checks for saliency maps", NeurIPS 2018: an
explanation that depends on what the model learned must change when the
learned weights are replaced by random ones. We re-draw the weights (each
tensor from a normal with its own mean and standard deviation, kept
non-negative where the trained tensor was, so constrained parameters stay
valid), optionally cascading from the head down to the input, attribute the
same windows again and compare the rankings of neuron importance.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn
from scipy.stats import spearmanr

from cardioliquid.explain.attribution import attribute_neurons
from cardioliquid.explain.circuit import top_k_overlap


@dataclass
class SanityResult:
    """Outcome of the model-randomisation test.

    Attributes
    ----------
    rank_correlation : float
        Mean Spearman correlation, over windows, between the absolute
        attributions of the trained and the randomised model (1 = same ranking).
    top_k_overlap : float
        Mean Jaccard overlap of the top-k neuron sets.
    threshold : float
        The test passes when ``rank_correlation`` is below it.
    cascade : list of (str, float)
        With ``cascade=True``: rank correlation after randomising each stage,
        from the head down.
    """

    rank_correlation: float
    top_k_overlap: float
    threshold: float
    cascade: list[tuple[str, float]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when the attribution changed enough under randomisation."""
        return self.rank_correlation < self.threshold


def _redraw_(tensor: torch.Tensor, generator: torch.Generator) -> None:
    if tensor.numel() < 2 or not tensor.is_floating_point():
        return
    mean, std = tensor.mean(), tensor.std()
    if float(std) == 0.0:
        std = tensor.abs().mean().clamp_min(1e-3)
    new = torch.randn(tensor.shape, generator=generator, dtype=tensor.dtype) * std + mean
    if bool((tensor >= 0).all()):
        new = new.abs()
    tensor.copy_(new)


def randomize_weights(
    model: nn.Module, seed: int = 0, modules: list[str] | None = None
) -> nn.Module:
    """Return a copy of ``model`` with its learned parameters re-drawn at random.

    Parameters
    ----------
    model : nn.Module
        The trained model (left untouched).
    seed : int
        Seed of the random weights.
    modules : list of str, optional
        Names of the top-level child modules to randomise (default: all
        parameters). Buffers such as sparsity masks are kept, so the wiring stays.
    """
    clone = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in clone.named_parameters():
            if modules is None or name.split(".")[0] in modules:
                _redraw_(param, generator)
    return clone


def _stages(model: nn.Module) -> list[str]:
    """Top-level parameter groups, from the output back to the input."""
    seen: list[str] = []
    for name, _ in model.named_parameters():
        top = name.split(".")[0]
        if top not in seen:
            seen.append(top)
    return seen[::-1]


def _rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    values = []
    for ra, rb in zip(np.abs(a), np.abs(b), strict=True):
        if np.ptp(ra) == 0 or np.ptp(rb) == 0:
            values.append(0.0)
            continue
        values.append(float(spearmanr(ra, rb).statistic))
    return float(np.mean(values))


def model_randomization_test(
    model: nn.Module,
    x: torch.Tensor | np.ndarray,
    features: torch.Tensor | np.ndarray | None = None,
    method: str = "integrated_gradients",
    k: int = 3,
    threshold: float = 0.5,
    seed: int = 0,
    cascade: bool = False,
    steps: int = 16,
) -> SanityResult:
    """Run the model-randomisation sanity check on some windows.

    The class explained is the trained model's prediction, for both models,
    so only the weights differ.

    Parameters
    ----------
    model : nn.Module
        A liquid classifier (see :func:`~cardioliquid.explain.attribute_neurons`).
    x, features : arrays
        Preprocessed windows (and their extra features).
    method : str
        Attribution method.
    k : int
        Size of the top-k sets compared.
    threshold : float
        Largest mean rank correlation that still counts as "changed".
    seed : int
        Seed of the random weights.
    cascade : bool
        Also randomise stage by stage from the head down and report each step.
    steps : int
        Integration steps for integrated gradients.

    Returns
    -------
    SanityResult
    """
    trained = attribute_neurons(model, x, features, method=method, steps=steps)
    randomized = randomize_weights(model, seed=seed)
    rand = attribute_neurons(
        randomized, x, features, target=trained.target, method=method, steps=steps
    )
    stages: list[tuple[str, float]] = []
    if cascade:
        done: list[str] = []
        for stage in _stages(model):
            done.append(stage)
            partial = randomize_weights(model, seed=seed, modules=list(done))
            att = attribute_neurons(
                partial, x, features, target=trained.target, method=method, steps=steps
            )
            stages.append((stage, _rank_correlation(trained.scores, att.scores)))
    return SanityResult(
        rank_correlation=_rank_correlation(trained.scores, rand.scores),
        top_k_overlap=top_k_overlap(trained.share, rand.share, k),
        threshold=threshold,
        cascade=stages,
    )
