"""Train/validation/test sets given as in-memory arrays (evaluation protocols, experiments)."""

from __future__ import annotations

import numpy as np
from torch.utils.data import TensorDataset

from cardioliquid.signal.config import BeatPreprocessing, WindowPreprocessing
from cardioliquid.training.augment import Augmentation
from cardioliquid.training.datamodules.base import (
    NO_WANDER,
    Sampling,
    TensorDataModule,
    stack_arrays,
)


class ArrayDataModule(TensorDataModule):
    """Train/validation/test sets given as arrays.

    Parameters
    ----------
    train, val : tuple of arrays
        ``(x, labels)`` or ``(x, features, labels)``; ``x`` is (n, n_chans, n_times).
    preprocessing : BeatPreprocessing or WindowPreprocessing
        How the arrays were made (saved with the model).
    test : tuple of arrays, optional
        Test set; None: no test stage (asking for test data raises).
    sampling, augmentation, seed
        As in :class:`~cardioliquid.training.datamodules.base.TensorDataModule`.
    """

    def __init__(
        self,
        train: tuple[np.ndarray, ...],
        val: tuple[np.ndarray, ...],
        preprocessing: BeatPreprocessing | WindowPreprocessing,
        test: tuple[np.ndarray, ...] | None = None,
        sampling: Sampling = Sampling(batch_size=64, eval_batch_size=1024),
        augmentation: Augmentation = NO_WANDER,
        seed: int = 0,
    ) -> None:
        super().__init__(sampling, augmentation, seed)
        self.preprocessing = preprocessing
        self.arrays = {"train": train, "val": val, "test": test}
        self.setup()
        self.n_chans = int(self.train_set.tensors[0].shape[1])
        self.n_features = (
            int(self.train_set.tensors[1].shape[1]) if len(self.train_set.tensors) == 3 else 0
        )

    def split_items(self) -> dict[str, list[tuple[np.ndarray, ...]]]:
        """The arrays given for each split (none: an empty split)."""
        return {split: [] if a is None else [a] for split, a in self.arrays.items()}

    def empty_reason(self, split: str) -> str:
        """Why ``split`` is empty: its array was not given."""
        return f"no {split} arrays were given ({split}=None)"

    def build(self, split: str, items: list[tuple[np.ndarray, ...]]) -> TensorDataset:
        """The split's arrays as a ``TensorDataset``."""
        return stack_arrays(items)
