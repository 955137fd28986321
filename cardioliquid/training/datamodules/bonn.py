"""Single-channel seizure windows of the Bonn EEG data set (set E vs sets A-D)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from cardioliquid.errors import CardioLiquidError
from cardioliquid.signal.config import WindowPreprocessing
from cardioliquid.training.augment import Augmentation
from cardioliquid.training.datamodules.base import NO_WANDER, Sampling
from cardioliquid.training.datamodules.eeg import EEGFilesDataModule
from cardioliquid.training.datamodules.locate import resolve_data_dir


class BonnDataModule(EEGFilesDataModule):
    """Single-channel seizure windows from the Bonn data set (set E vs sets A-D).

    Bonn has no patient ids, so the split is by **segment** (seeded, stratified
    by set): windows of one segment never cross sets, but segments of the same
    subject can. It shows what a single channel separates; it cannot show
    generalisation to new patients.

    Parameters
    ----------
    data_dir : str, optional
        Bonn folder (``A_Z`` ... ``E_S``); default ``$CARDIOLIQUID_DATA_MIRROR/bonn``.
    val_fraction, test_fraction : float
        Fractions of segments of each set held out (0: no such split; asking
        for its data raises).
    preprocessing : WindowPreprocessing
        Rate, filters, window, normalisation, classes.
    sampling, augmentation, seed
        As in :class:`~cardioliquid.training.datamodules.base.TensorDataModule`.
    cache_dir : str, optional
        As in :class:`~cardioliquid.training.datamodules.eeg.EEGFilesDataModule`.
    """

    n_chans = 1
    SETS: ClassVar[dict[str, str]] = {"A": "A_Z", "B": "B_O", "C": "C_N", "D": "D_F", "E": "E_S"}

    def __init__(
        self,
        data_dir: str | None = None,
        val_fraction: float = 0.15,
        test_fraction: float = 0.2,
        preprocessing: WindowPreprocessing | None = None,
        sampling: Sampling = Sampling(batch_size=64, eval_batch_size=512),
        augmentation: Augmentation = NO_WANDER,
        seed: int = 0,
        cache_dir: str | None = "data/cache",
    ) -> None:
        super().__init__(data_dir, preprocessing or WindowPreprocessing(channels=[]), sampling,
                         augmentation, seed, cache_dir)
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction

    @property
    def root(self) -> Path:
        """The Bonn folder."""
        return resolve_data_dir(self.data_dir, "bonn")

    def prepare_data(self) -> None:
        """Check the five set folders exist."""
        missing = [d for d in self.SETS.values() if not (self.root / d).is_dir()]
        if missing:
            raise CardioLiquidError(f"{self.root}: expected Bonn set folders {missing}")

    def split_segments(self) -> dict[str, list[Path]]:
        """Seeded segment-level split, stratified by set."""
        rng = np.random.default_rng(self.seed)
        out: dict[str, list[Path]] = {"train": [], "val": [], "test": []}
        for folder in self.SETS.values():
            files = sorted(p for p in (self.root / folder).iterdir() if p.suffix.lower() == ".txt")
            order = rng.permutation(len(files))
            n_test = round(self.test_fraction * len(files))
            n_val = round(self.val_fraction * len(files))
            out["test"] += [files[i] for i in order[:n_test]]
            out["val"] += [files[i] for i in order[n_test : n_test + n_val]]
            out["train"] += [files[i] for i in order[n_test + n_val :]]
        return out

    def split_items(self) -> dict[str, list[Path]]:
        """The Bonn segment files of each split (:meth:`split_segments`)."""
        return self.split_segments()

    def empty_reason(self, split: str) -> str:
        """Why ``split`` has no segments, naming the fraction to change."""
        return {
            "train": f"val_fraction {self.val_fraction} and test_fraction "
                     f"{self.test_fraction} leave no training segments in {self.root}",
            "val": f"val_fraction is {self.val_fraction}: no validation segments",
            "test": f"test_fraction is {self.test_fraction}: no test segments",
        }[split]
