"""How concentrated and how stable the circuit behind a decision is.

Given attribution shares (rows: decisions, columns: neurons, rows summing to
1, see :class:`~cardioliquid.explain.NeuronAttribution`):

- concentration of one decision: the share held by its top-k neurons, the
  normalised Shannon entropy of the shares (0 = one neuron, 1 = uniform), and
  the effective number of neurons ``exp(entropy)``;
- stability across decisions of the same class: the mean pairwise Jaccard
  overlap of their top-k neuron sets and the mean pairwise cosine similarity of
  their attribution vectors (1 = the same circuit every time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Concentration:
    """Concentration of one decision's attribution (see module docstring)."""

    top_k_share: float
    entropy: float
    effective_neurons: float
    k: int


@dataclass
class Stability:
    """Stability of the circuit across decisions of one class."""

    top_k_jaccard: float
    cosine: float
    n_decisions: int
    k: int


def _top_sets(share: np.ndarray, k: int) -> list[frozenset[int]]:
    share = np.atleast_2d(share)
    k = max(1, min(k, share.shape[1]))
    return [frozenset(np.argsort(-row, kind="stable")[:k].tolist()) for row in share]


def concentration(share: np.ndarray, k: int = 3) -> Concentration:
    """Concentration of one decision's neuron shares.

    Parameters
    ----------
    share : ndarray, shape (n_neurons,)
        Non-negative shares (normalised here if they do not sum to 1).
    k : int
        Number of top neurons.
    """
    p = np.clip(np.asarray(share, dtype=np.float64).ravel(), 0, None)
    n = p.size
    p = p / p.sum() if p.sum() > 0 else np.full(n, 1.0 / n)
    nz = p[p > 0]
    h = float(-(nz * np.log(nz)).sum())
    k = max(1, min(k, n))
    return Concentration(
        top_k_share=float(np.sort(p)[::-1][:k].sum()),
        entropy=h / np.log(n) if n > 1 else 0.0,
        effective_neurons=float(np.exp(h)),
        k=k,
    )


def top_k_overlap(share_a: np.ndarray, share_b: np.ndarray, k: int = 3) -> float:
    """Mean Jaccard overlap of the top-k neuron sets of paired decisions."""
    sets_a, sets_b = _top_sets(share_a, k), _top_sets(share_b, k)
    return float(np.mean([len(a & b) / len(a | b) for a, b in zip(sets_a, sets_b, strict=True)]))


def stability(share: np.ndarray, k: int = 3) -> Stability:
    """Stability of the circuit over several decisions (e.g. beats of one class).

    Parameters
    ----------
    share : ndarray, shape (n_decisions, n_neurons)
        Shares or signed attributions of each decision.
    k : int
        Size of the top-k sets.

    Returns
    -------
    Stability
        Mean pairwise top-k Jaccard and cosine similarity; NaN with fewer than
        two decisions.
    """
    share = np.atleast_2d(np.asarray(share, dtype=np.float64))
    n = share.shape[0]
    if n < 2:
        return Stability(float("nan"), float("nan"), n, k)
    sets = _top_sets(np.abs(share), k)
    iu = np.triu_indices(n, 1)
    jacc = [len(sets[i] & sets[j]) / len(sets[i] | sets[j]) for i, j in zip(*iu, strict=True)]
    norms = np.linalg.norm(share, axis=1, keepdims=True)
    unit = share / np.where(norms > 0, norms, 1.0)
    cos = (unit @ unit.T)[iu]
    return Stability(float(np.mean(jacc)), float(np.mean(cos)), n, min(k, share.shape[1]))


def stability_by_class(share: np.ndarray, labels: np.ndarray, k: int = 3) -> dict[str, Stability]:
    """:func:`stability` for the decisions of each class label."""
    labels = np.asarray(labels)
    return {str(c): stability(share[labels == c], k) for c in np.unique(labels)}


def active_circuit(
    share: np.ndarray, adjacency: np.ndarray, k: int = 3
) -> tuple[list[int], list[tuple[int, int]]]:
    """The top-k neurons of a decision and the synapses among them.

    Parameters
    ----------
    share : ndarray, shape (n_neurons,)
    adjacency : ndarray, shape (n_neurons, n_neurons)
        Synapse matrix (source, target), non-zero where a synapse exists.
    k : int

    Returns
    -------
    neurons : list of int
    edges : list of (int, int)
    """
    (top,) = _top_sets(share, k)
    neurons = sorted(top)
    edges = [(i, j) for i in neurons for j in neurons if adjacency[i, j] != 0]
    return neurons, edges
