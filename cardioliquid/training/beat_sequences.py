"""Training data for models of the beat sequence: consecutive beats cut into chunks.

A beat-rhythm model (:class:`~cardioliquid.models.rhythm.BeatRhythmClassifier`)
steps once per beat, so it trains on runs of consecutive beats of one record
and lead rather than on shuffled single beats. Every beat stays in its run,
labelled or not, as in scoring; unlabelled beats (label -1) are stepped over
but not scored by the loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import TensorDataset

from cardioliquid.training.augment import augment_batch
from cardioliquid.training.beats import record_beats
from cardioliquid.training.datamodules import MITBIHBeatDataModule


def chunk_beats(
    parts: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], length: int, hop: int
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

    Returns
    -------
    TensorDataset
        ``(x (N, length, C, T), features (N, length, F), labels (N, length))``.
    """
    if length < 1 or hop < 1:
        raise ValueError(f"expected length and hop >= 1, got {length} and {hop}")
    xs, fs, ys = [], [], []
    for x, f, y in parts:
        n = len(y)
        if n == 0:
            continue
        starts = list(range(0, max(n - length, 0) + 1, hop))
        if starts[-1] + length < n:
            starts.append(n - length)
        for s in starts:
            stop = min(s + length, n)
            pad = length - (stop - s)
            xs.append(np.concatenate([x[s:stop], np.zeros((pad, *x.shape[1:]), x.dtype)]))
            fs.append(np.concatenate([f[s:stop], np.repeat(f[stop - 1:stop], pad, axis=0)]))
            ys.append(np.concatenate([y[s:stop], np.full(pad, -1, dtype=np.int64)]))
    if not xs:
        raise ValueError("no beats to cut into runs")
    return TensorDataset(torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(fs)),
                         torch.from_numpy(np.stack(ys).astype(np.int64)))


class BeatSequenceDataModule(MITBIHBeatDataModule):
    """:class:`MITBIHBeatDataModule` serving runs of consecutive beats.

    Same records, patient split, extra databases and leads; each training
    example is a run of ``sequence_length`` consecutive beats of one record
    and lead (all beats, labelled or not). Parameters beyond those of
    :class:`MITBIHBeatDataModule`:

    Parameters
    ----------
    sequence_length : int
        Beats per run.
    sequence_hop : int, optional
        Beats between run starts (default half a run: every beat is seen
        twice per epoch, once early and once late in a run).
    """

    def __init__(self, *args: Any, sequence_length: int = 128,
                 sequence_hop: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.aug_irregular > 0:
            raise ValueError("aug_irregular rewrites single beats' RR features; a beat "
                             "sequence keeps its real rhythm (set it to 0)")
        if self.sampler != "shuffle":
            raise ValueError(f"a beat sequence trains with sampler 'shuffle' (runs hold "
                             f"beats of every class), got {self.sampler!r}")
        if sequence_length < 2:
            raise ValueError(f"sequence_length must be >= 2, got {sequence_length}")
        self.sequence_length = int(sequence_length)
        self.sequence_hop = int(sequence_hop or max(1, sequence_length // 2))

    def _dataset(self, records: list[str], extra: Sequence[Path] = (),
                 all_leads: bool = False) -> TensorDataset:
        paths = [self.root / r for r in records] + list(extra)
        parts = [record_beats(p, self.preprocessing, self.cache_dir, keep_unlabelled=True)
                 for p in paths]
        if all_leads:
            for p in paths:
                for lead in self._other_leads(p):
                    prep = replace(self.preprocessing, lead_preference=[lead])
                    parts.append(record_beats(p, prep, self.cache_dir, keep_unlabelled=True))
        return chunk_beats(parts, self.sequence_length, self.sequence_hop)

    def train_features(self) -> torch.Tensor | None:
        """Features of the training beats, ``(n, n_features)`` (padding left out)."""
        ds = self.train_set
        if ds is None:
            raise RuntimeError("call setup('fit') first")
        _, f, y = ds.tensors
        return f[y >= 0]

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """The shared window augmentation, applied to every beat of every run."""
        trainer = self.trainer
        if self.augment and trainer is not None and trainer.training:
            x, f, y = batch
            b, length = x.shape[:2]
            flat = augment_batch(x.reshape(b * length, *x.shape[2:]), fs=self.sfreq, **self.aug)
            batch = (flat.reshape(x.shape), f, y)
        return batch
