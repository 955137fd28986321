"""Seizure windows of CHB-MIT scalp EEG recordings, split by patient."""

from __future__ import annotations

from pathlib import Path

from cardioliquid.signal.config import WindowPreprocessing
from cardioliquid.training.augment import Augmentation
from cardioliquid.training.datamodules.base import NO_WANDER, Sampling
from cardioliquid.training.datamodules.eeg import EEGFilesDataModule
from cardioliquid.training.datamodules.locate import pull_database, resolve_data_dir

CHBMIT_BIPOLAR_18 = [
    "FP1-F7", "F7-T7", "T7-P7", "P7-O1",
    "FP1-F3", "F3-C3", "C3-P3", "P3-O1",
    "FP2-F4", "F4-C4", "C4-P4", "P4-O2",
    "FP2-F8", "F8-T8", "T8-P8", "P8-O2",
    "FZ-CZ", "CZ-PZ",
]  # fmt: skip
"""The canonical 18-channel longitudinal bipolar ("double banana") montage of CHB-MIT."""


class SeizureDataModule(EEGFilesDataModule):
    """Seizure windows from CHB-MIT recordings (EDF+ excerpts or full PhysioNet files).

    Every ``*.edf`` under ``data_dir`` is read with its seizure annotations;
    the patient is taken from the recording (``chb01``...). Training,
    validation and test sets are disjoint by patient, or, with
    ``val_records``, validation is carved from the training patients' files.

    Parameters
    ----------
    data_dir : str, optional
        Folder of EDF files (searched recursively); default
        ``$CARDIOLIQUID_DATA_MIRROR/eeg/chbmit_edf``, else ``data/chbmit``, pulled
        from PhysioNet (full one-hour recordings) when empty.
    train_patients, val_patients, test_patients : list of str
        Patient ids (default: train chb01 and chb02, test chb03). Validation
        patients must not be test patients. ``test_patients: []`` means no
        test stage; no validation patients or records means no validation data
        (train with ``trainer.limit_val_batches: 0``).
    val_records : list of str
        Record-name prefixes of training-patient files used for validation
        instead of (or besides) whole validation patients.
    exclude : list of str
        Substrings of file names to skip.
    preprocessing : WindowPreprocessing
        Montage, rate, filters, window, normalisation, classes.
    sampling, augmentation, seed
        As in :class:`~cardioliquid.training.datamodules.base.TensorDataModule`.
    cache_dir : str, optional
        As in :class:`~cardioliquid.training.datamodules.eeg.EEGFilesDataModule`.
    """

    def __init__(
        self,
        data_dir: str | None = None,
        train_patients: list[str] | None = None,
        val_patients: list[str] | None = None,
        test_patients: list[str] | None = None,
        val_records: list[str] | None = None,
        exclude: list[str] | None = None,
        preprocessing: WindowPreprocessing | None = None,
        sampling: Sampling = Sampling(batch_size=64, eval_batch_size=256),
        augmentation: Augmentation = NO_WANDER,
        seed: int = 0,
        cache_dir: str | None = "data/cache",
    ) -> None:
        super().__init__(data_dir, preprocessing or WindowPreprocessing(
            channels=list(CHBMIT_BIPOLAR_18)), sampling, augmentation, seed, cache_dir)
        self.train_patients = ["chb01", "chb02"] if train_patients is None else list(train_patients)
        self.val_patients = list(val_patients or [])
        self.test_patients = ["chb03"] if test_patients is None else list(test_patients)
        self.val_records = list(val_records or [])
        self.exclude = list(exclude or [])
        bad = set(self.val_patients + self.train_patients) & set(self.test_patients)
        if bad:
            raise ValueError(f"patients {sorted(bad)} are both training/validation and test")

    @property
    def n_chans(self) -> int:  # type: ignore[override]
        """Channels of the montage (1 when the montage is any single channel)."""
        return max(1, len(self.preprocessing.channels))

    @property
    def root(self) -> Path:
        """The EDF folder."""
        return resolve_data_dir(self.data_dir, "eeg/chbmit_edf", "chbmit")

    def prepare_data(self) -> None:
        """Check that the EDF folder holds recordings (pull CHB-MIT otherwise)."""
        if not any(self.root.rglob("*.edf")):
            pull_database("chbmit", self.root, sorted(set(
                self.train_patients + self.val_patients + self.test_patients)))

    def files(self) -> list[Path]:
        """EDF files used, sorted, minus ``exclude``."""
        return sorted(
            (p for p in self.root.rglob("*.edf") if not any(s in p.name for s in self.exclude)),
            key=lambda p: p.name,
        )

    def split_files(self) -> dict[str, list[Path]]:
        """``train``/``val``/``test`` files, disjoint by patient (or by file: ``val_records``)."""
        out: dict[str, list[Path]] = {"train": [], "val": [], "test": []}
        for p in self.files():
            patient = p.name.split("_")[0]
            if patient in self.test_patients:
                out["test"].append(p)
            elif patient in self.val_patients or p.name.startswith(tuple(self.val_records)):
                out["val"].append(p)
            elif patient in self.train_patients:
                out["train"].append(p)
        return out

    def split_items(self) -> dict[str, list[Path]]:
        """The EEG files of each split (:meth:`split_files`)."""
        return self.split_files()

    def empty_reason(self, split: str) -> str:
        """Why ``split`` has no files, naming the patients or records to change."""
        return {
            "train": f"no files of train_patients {self.train_patients} in {self.root}",
            "val": f"no files of val_patients {self.val_patients} or val_records "
                   f"{self.val_records} in {self.root}; name some, or train with "
                   f"trainer.limit_val_batches: 0",
            "test": f"no files of test_patients {self.test_patients} in {self.root}",
        }[split]
