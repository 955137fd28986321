"""What the EEG DataModules share: a folder of recordings, windowed through the one cache."""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import TensorDataset

from cardioliquid.data.records import recording_windows
from cardioliquid.errors import CardioLiquidError
from cardioliquid.signal.config import WindowPreprocessing
from cardioliquid.training.augment import Augmentation
from cardioliquid.training.datamodules.base import Sampling, TensorDataModule, stack_arrays


class EEGFilesDataModule(TensorDataModule):
    """Labelled windows of EEG files (CHB-MIT EDF, Bonn ``.txt``); no per-window features.

    Parameters
    ----------
    data_dir : str, optional
        Where the files are (each subclass says its default).
    preprocessing : WindowPreprocessing
        Montage, rate, filters, window, normalisation, classes.
    sampling, augmentation, seed
        As in :class:`~cardioliquid.training.datamodules.base.TensorDataModule`.
    cache_dir : str, optional
        The window cache folder (:mod:`cardioliquid.data.cache`); None: no cache.
    """

    n_features = 0

    def __init__(self, data_dir: str | None, preprocessing: WindowPreprocessing,
                 sampling: Sampling, augmentation: Augmentation, seed: int,
                 cache_dir: str | None) -> None:
        super().__init__(sampling, augmentation, seed)
        self.data_dir = data_dir
        self.preprocessing = preprocessing
        self.cache_dir = cache_dir

    def build(self, split: str, items: list[Path]) -> TensorDataset:
        """Window every file; files without a labelled window are left out."""
        parts = [recording_windows(f, self.preprocessing, self.cache_dir) for f in items]
        parts = [p for p in parts if len(p[0])]
        if not parts:
            raise CardioLiquidError(f"no windows from {[f.name for f in items]}")
        return stack_arrays(parts)
