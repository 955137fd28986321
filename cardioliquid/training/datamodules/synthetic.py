"""Small, learnable synthetic windows (smoke tests, DDP checks, demos without data)."""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

from cardioliquid.signal.config import BeatPreprocessing, WindowPreprocessing
from cardioliquid.training.augment import Augmentation
from cardioliquid.training.datamodules.base import Sampling, TensorDataModule


class SyntheticDataModule(TensorDataModule):
    """Small, learnable synthetic windows: class ``k`` is a bump at a class-specific place.

    Used by tests and to check a training set-up (DDP, a new strategy) without
    any recordings. The preprocessing is a :class:`BeatPreprocessing` (or a
    :class:`WindowPreprocessing` when ``n_chans > 1``) so checkpoints are complete.

    Parameters
    ----------
    n_train, n_val : int
        Training and validation (and test) examples.
    n_chans, n_classes : int
        Channels and classes (more than one channel: two EEG-like classes).
    fs, window_s : float
        Rate (Hz) and window length (s).
    n_features : int
        Per-window features (single channel only).
    noise : float
        Standard deviation of the noise on the bumps (the data's, not augmentation).
    sampling, augmentation, seed
        As in :class:`~cardioliquid.training.datamodules.base.TensorDataModule`.
    """

    def __init__(
        self,
        n_train: int = 256,
        n_val: int = 64,
        n_chans: int = 1,
        n_classes: int = 3,
        fs: float = 50.0,
        window_s: float = 0.8,
        n_features: int = 2,
        noise: float = 0.3,
        sampling: Sampling = Sampling(batch_size=32, eval_batch_size=256, sampler="shuffle"),
        augmentation: Augmentation = Augmentation(enabled=False, scale=0.1, noise=0.01,
                                                  wander=0.0),
        seed: int = 0,
    ) -> None:
        super().__init__(sampling, augmentation, seed)
        classes = ["N", "S", "V", "F", "Q"][:n_classes] if n_chans == 1 else ["bckg", "sz"]
        if n_chans == 1:
            self.preprocessing = BeatPreprocessing(fs=fs, pre_s=window_s / 2, post_s=window_s / 2,
                                                   rr_features=n_features > 0, classes=classes)
        else:
            self.preprocessing = WindowPreprocessing(
                fs=fs, window_s=window_s, channels=[f"C{i}" for i in range(n_chans)],
                classes=classes,
            )
        self.n_chans = n_chans
        self.n_features = n_features if n_chans == 1 else 0
        self.n_train, self.n_val, self.noise = n_train, n_val, noise

    def make(self, n: int, seed: int) -> TensorDataset:
        """``n`` examples drawn with ``seed``."""
        g = torch.Generator().manual_seed(seed)
        k, t = self.n_outputs, self.n_times
        y = torch.randint(0, k, (n,), generator=g)
        centers = ((y.float() + 1) / (k + 1) * t).view(n, 1, 1)
        tt = torch.arange(t).view(1, 1, t).float()
        x = torch.exp(-0.5 * ((tt - centers) / (t / 20)) ** 2).expand(n, self.n_chans, t).clone()
        x = x + self.noise * torch.randn(n, self.n_chans, t, generator=g)
        tensors = [x]
        if self.n_features:
            f = (y.float().view(n, 1) / k).expand(n, self.n_features).clone()
            tensors.append(f + 0.1 * torch.randn(n, self.n_features, generator=g))
        return TensorDataset(*tensors, y)

    def split_items(self) -> dict[str, list[int]]:
        """The seed of each split's examples (train: ``seed``, val: +1, test: +2)."""
        return {split: [self.seed + i] for i, split in enumerate(("train", "val", "test"))}

    def build(self, split: str, items: list[int]) -> TensorDataset:
        """The split's examples (:meth:`make`), drawn with its seed; val and test are ``n_val``."""
        return self.make(self.n_train if split == "train" else self.n_val, items[0])
