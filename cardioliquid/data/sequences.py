"""Runs of consecutive beats: the training examples of models of the beat sequence.

A beat-rhythm model (:class:`~cardioliquid.models.rhythm.BeatRhythmClassifier`)
steps once per beat, so it trains on runs of consecutive beats of one record
and lead rather than on shuffled single beats. Every beat stays in its run,
labelled or not, as in scoring; unlabelled beats (label -1) are stepped over
but not scored by the loss.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import TensorDataset


def chunk_beats(
    parts: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], length: int, hop: int,
    burn_in: int = 0, groups: Sequence[int] | None = None,
) -> TensorDataset:
    """Cut each record's beat arrays into runs of ``length`` consecutive beats.

    Parameters
    ----------
    parts : sequence of (x, features, labels)
        One record (and lead) each, beats in order: x (n, C, T), features (n, F),
        labels (n,).
    length : int
        Beats per run.
    hop : int
        Beats between the starts of consecutive runs (< ``length``: overlapping).
        A record's last run is padded with label -1 beats (zeros, the last
        beat's features), which the loss ignores and which come after every
        real beat, so they cannot change a real beat's output.
    burn_in : int
        Beats of the record before each run's first beat that lead into it
        with label -1: the state reaches the scored beats warm, as in scoring,
        where it is carried from the record's start. The first runs of a record
        have fewer (none at its start). Runs are then ``length + burn_in`` beats.
    groups : sequence of int, optional
        One group (e.g. the patient) per part: each run then also carries its part's.

    Returns
    -------
    TensorDataset
        ``(x (N, length + burn_in, C, T), features (N, length + burn_in, F),
        labels (N, length + burn_in))``, then ``groups (N,)`` if given.
    """
    if length < 1 or hop < 1:
        raise ValueError(f"expected length and hop >= 1, got {length} and {hop}")
    if burn_in < 0:
        raise ValueError(f"expected burn_in >= 0, got {burn_in}")
    if groups is not None and len(groups) != len(parts):
        raise ValueError(f"expected one group per part ({len(parts)}), got {len(groups)}")
    xs, fs, ys, gs = [], [], [], []
    for i, (x, f, y) in enumerate(parts):
        n = len(y)
        if n == 0:
            continue
        starts = list(range(0, max(n - length, 0) + 1, hop))
        if starts[-1] + length < n:
            starts.append(n - length)
        for s in starts:
            first, stop = max(0, s - burn_in), min(s + length, n)
            pad = length + burn_in - (stop - first)
            labels = np.asarray(y[first:stop], dtype=np.int64).copy()
            labels[: s - first] = -1  # the burn-in leads in and is not scored
            xs.append(np.concatenate([x[first:stop],
                                      np.zeros((pad, *x.shape[1:]), x.dtype)]))
            fs.append(np.concatenate([f[first:stop],
                                      np.repeat(f[stop - 1:stop], pad, axis=0)]))
            ys.append(np.concatenate([labels, np.full(pad, -1, dtype=np.int64)]))
            if groups is not None:
                gs.append(int(groups[i]))
    if not xs:
        raise ValueError("no beats to cut into runs")
    tensors = [torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(fs)),
               torch.from_numpy(np.stack(ys).astype(np.int64))]
    if groups is not None:
        tensors.append(torch.tensor(gs, dtype=torch.int64))
    return TensorDataset(*tensors)
