"""What every DataModule shares: loaders, the class sampler, augmentation, split bookkeeping.

Each DataModule fetches its data in ``prepare_data`` (never in ``__init__``)
and builds its splits in :meth:`TensorDataModule.setup` from two hooks,
``split_items`` (which records go where) and ``build`` (their windows as a
:class:`~torch.utils.data.TensorDataset`). A split with no records is never
filled in from another one: asking for its loader raises an error that says
which argument left it empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset, WeightedRandomSampler

from cardioliquid._check import check_option
from cardioliquid.errors import CardioLiquidError
from cardioliquid.signal.config import BeatPreprocessing, WindowPreprocessing
from cardioliquid.training.augment import Augmentation

SPLITS = ("train", "val", "test")

NO_WANDER = Augmentation(scale=0.2, noise=0.02, wander=0.0)
"""The default augmentation of the window DataModules: gain and noise, no baseline wander."""


@dataclass(frozen=True)
class Sampling:
    """How training examples are drawn and batched: one setting for every DataModule.

    A DataModule's ``sampling`` argument; fields a config leaves out keep the
    DataModule's own default (its signature's).

    Parameters
    ----------
    batch_size : int
        Training batch size.
    eval_batch_size : int
        Validation, test and prediction batch size.
    sampler : {"weighted", "shuffle"}
        Class-rebalancing sampler (class weights ``(1/count) ** sampler_power``)
        or plain shuffling.
    sampler_power : float
        Exponent of the weighted sampler (0: no rebalancing, 1: balanced classes).
    num_workers : int
        Loader worker processes.
    """

    batch_size: int = 64
    eval_batch_size: int = 512
    sampler: Literal["weighted", "shuffle"] = "weighted"
    sampler_power: float = 1.0
    num_workers: int = 0

    def __post_init__(self) -> None:
        check_option("sampler", self.sampler, ["weighted", "shuffle"])


def stack_arrays(parts: Sequence[tuple[np.ndarray, ...]]) -> TensorDataset:
    """One :class:`TensorDataset` from per-record tuples of arrays (concatenated column-wise)."""
    cols = list(zip(*parts, strict=True))
    return TensorDataset(*[torch.from_numpy(np.concatenate(c)) for c in cols])


class TensorDataModule(L.LightningDataModule):
    """Loaders, sampler and augmentation over in-memory :class:`TensorDataset` splits.

    Parameters
    ----------
    sampling : Sampling
        Batch sizes, sampler, workers.
    augmentation : Augmentation
        Training-batch augmentation.
    seed : int
        Seed of the training sampler (and of seeded splits: Bonn, synthetic data).

    Subclasses document these three as "As in :class:`TensorDataModule`".
    """

    # Subclasses set these.
    preprocessing: BeatPreprocessing | WindowPreprocessing
    n_chans: int
    n_features: int

    def __init__(self, sampling: Sampling, augmentation: Augmentation, seed: int = 0) -> None:
        super().__init__()
        self.sampling = sampling
        self.augmentation = augmentation
        self.seed = seed
        self.train_set: TensorDataset | None = None
        self.val_set: TensorDataset | None = None
        self.test_set: TensorDataset | None = None
        self.empty_splits: dict[str, str] = {}
        """Split name -> why it has no data (the argument that left it empty)."""

    # -- the two hooks of setup() ------------------------------------------------------------
    def split_items(self) -> dict[str, list[Any]]:
        """``train``/``val``/``test`` -> the records (files, names...) of each split."""
        raise NotImplementedError

    def build(self, split: str, items: list[Any]) -> TensorDataset:
        """The windows of ``items`` as the ``split`` set."""
        raise NotImplementedError

    def empty_reason(self, split: str) -> str:
        """Why ``split`` has no records, naming the argument to change."""
        return f"no {split} records"

    def records_used(self) -> dict[str, list[str]]:
        """``train``/``val``/``test`` -> the names of the records each split reads.

        What an exported model's provenance lists: files by name without
        extension, records by name; in-memory arrays have no names (empty lists).
        """
        out = {}
        for split, items in self.split_items().items():
            out[split] = [Path(i).stem if isinstance(i, Path) else i for i in items
                          if isinstance(i, str | Path)]
        return out

    def setup(self, stage: str | None = None) -> None:
        """Build the splits a stage needs; an empty split is recorded, never borrowed."""
        items = self.split_items()
        if not items["train"]:
            raise CardioLiquidError(f"{type(self).__name__}: no training data: "
                                    f"{self.empty_reason('train')}")
        wanted = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",),
                  "predict": ("test",), None: SPLITS}[stage]
        for split in wanted:
            if getattr(self, f"{split}_set") is not None:
                continue
            if items[split]:
                setattr(self, f"{split}_set", self.build(split, items[split]))
            else:
                self.empty_splits[split] = self.empty_reason(split)

    def dataset(self, split: str) -> TensorDataset:
        """The ``split`` set; a clear error when the split is empty or not set up."""
        ds = getattr(self, f"{split}_set")
        if ds is not None:
            return ds
        if split in self.empty_splits:
            raise CardioLiquidError(f"{type(self).__name__} has no {split} data: "
                                    f"{self.empty_splits[split]}")
        raise RuntimeError(f"call setup() before asking for the {split} data")

    # -- what the model is linked to ------------------------------------------------------------
    @property
    def n_outputs(self) -> int:
        """Number of classes."""
        return len(self.preprocessing.classes)

    @property
    def n_times(self) -> int:
        """Samples per window."""
        return self.preprocessing.n_times

    @property
    def sfreq(self) -> float:
        """Rate the model reads (Hz)."""
        return float(self.preprocessing.fs)

    @property
    def preprocessing_dict(self) -> dict[str, Any]:
        """The preprocessing as a plain dict, saved in every checkpoint."""
        return self.preprocessing.to_dict()

    # -- training-set statistics ---------------------------------------------------------------
    def _labels(self) -> torch.Tensor:
        return self.dataset("train").tensors[-1]

    def train_features(self) -> torch.Tensor | None:
        """The per-window features of the training set, ``(n, n_features)``, or None.

        The model's fixed feature standardisation is fitted on them.
        """
        ds = self.dataset("train")
        return ds.tensors[1] if len(ds.tensors) == 3 else None

    def class_counts(self) -> torch.Tensor:
        """Training examples per class (for balanced loss weights)."""
        y = self._labels()
        return torch.bincount(y[y >= 0], minlength=self.n_outputs)

    # -- loaders ---------------------------------------------------------------------------------
    def train_dataloader(self) -> DataLoader:
        """Training batches (class-balanced sampling when the sampling config asks for it)."""
        s = self.sampling
        ds = self.dataset("train")
        g = torch.Generator().manual_seed(self.seed)
        if s.sampler == "weighted":
            y = self._labels()
            counts = torch.bincount(y, minlength=self.n_outputs).double().clamp(min=1)
            w = (1.0 / counts) ** s.sampler_power
            sampler = WeightedRandomSampler(w[y], num_samples=len(y), generator=g)
            return DataLoader(ds, batch_size=s.batch_size, sampler=sampler,
                              num_workers=s.num_workers, drop_last=len(y) > s.batch_size)
        return DataLoader(ds, batch_size=s.batch_size, shuffle=True, generator=g,
                          num_workers=s.num_workers, drop_last=len(ds) > s.batch_size)

    # Loaders take their sizes by keyword: Lightning rebuilds a loader from the arguments it
    # was made with (``predict`` swaps in its own batch sampler), and a positional
    # ``batch_size`` then arrives twice.
    def val_dataloader(self) -> DataLoader:
        """Validation batches, in order."""
        return DataLoader(self.dataset("val"), batch_size=self.sampling.eval_batch_size,
                          num_workers=self.sampling.num_workers)

    def test_dataloader(self) -> DataLoader:
        """Test batches, in order."""
        return DataLoader(self.dataset("test"), batch_size=self.sampling.eval_batch_size,
                          num_workers=self.sampling.num_workers)

    def predict_dataloader(self) -> DataLoader:
        """The test set's batches, in order, for ``Trainer.predict``."""
        return self.test_dataloader()

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """The augmentation, on training batches only."""
        trainer = self.trainer
        if self.augmentation.enabled and trainer is not None and trainer.training:
            batch = (self.augmentation.apply(batch[0], self.sfreq), *batch[1:])
        return batch
