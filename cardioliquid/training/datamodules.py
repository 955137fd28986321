"""LightningDataModules: MIT-BIH heartbeats, CHB-MIT seizure windows, Bonn segments.

Each DataModule fetches its data in :meth:`prepare_data` (a mirror folder, or a
pull through :mod:`cardioliquid.io.pull`), never in ``__init__``, and splits by
patient in :meth:`setup`: validation patients are carved from the training
patients, never from the test set. The signal shape the model needs
(``n_chans``, ``n_times``, ``n_features``, ``n_outputs``, ``sfreq``) and the
preprocessing dict are attributes, so ``cardioliquid-train`` links them into
the model.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset, WeightedRandomSampler

from cardioliquid._check import check_option
from cardioliquid.errors import CardioLiquidError
from cardioliquid.signal.config import BeatPreprocessing, WindowPreprocessing
from cardioliquid.training.augment import augment_batch

MIRROR_ENV = "CARDIOLIQUID_DATA_MIRROR"

CHBMIT_BIPOLAR_18 = [
    "FP1-F7", "F7-T7", "T7-P7", "P7-O1",
    "FP1-F3", "F3-C3", "C3-P3", "P3-O1",
    "FP2-F4", "F4-C4", "C4-P4", "P4-O2",
    "FP2-F8", "F8-T8", "T8-P8", "P8-O2",
    "FZ-CZ", "CZ-PZ",
]  # fmt: skip
"""The canonical 18-channel longitudinal bipolar ("double banana") montage of CHB-MIT."""


def resolve_data_dir(
    data_dir: str | os.PathLike | None, subdir: str, database: str | None = None
) -> Path:
    """Where a database lives: ``data_dir``, else ``$CARDIOLIQUID_DATA_MIRROR/subdir``,
    else ``data/<database>`` (where :mod:`cardioliquid.io.pull` puts it).

    A relative ``data_dir`` that does not exist is looked up under the mirror too.
    """
    mirror = os.environ.get(MIRROR_ENV)
    if data_dir is not None:
        p = Path(data_dir)
        if p.exists() or not mirror or "://" in mirror:
            return p
        return Path(mirror) / p
    if mirror and "://" not in mirror:
        return Path(mirror) / subdir
    return Path("data") / (database or Path(subdir).name)


def _pull(database: str, root: Path, records: list[str] | None = None) -> None:
    """Fetch ``database`` into ``root`` (``<data>/<database>``) through :mod:`cardioliquid.io.pull`.

    The puller copies from ``$CARDIOLIQUID_DATA_MIRROR`` when it is a folder or
    URL, else downloads from PhysioNet, verifying checksums.
    """
    from cardioliquid.io.pull import pull

    if root.name != database:
        raise CardioLiquidError(
            f"{root}: no {database} data here; pull it with `cardioliquid data pull {database}` "
            f"or point data_dir at a folder that holds it"
        )
    pull(database, root.parent, records=records)


# ---------------------------------------------------------------------------
# Shared plumbing
# ---------------------------------------------------------------------------


class _ArrayDataModule(L.LightningDataModule):
    """Common loaders, sampler and augmentation over in-memory tensors."""

    def __init__(
        self,
        batch_size: int,
        eval_batch_size: int,
        sampler: str,
        sampler_power: float,
        augment: bool,
        aug_scale: float,
        aug_noise: float,
        aug_wander: float,
        num_workers: int,
        seed: int,
        aug_shift: int = 0,
    ) -> None:
        super().__init__()
        check_option("sampler", sampler, ["weighted", "shuffle"])
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.sampler = sampler
        self.sampler_power = sampler_power
        self.augment = augment
        self.aug = {"scale": aug_scale, "noise": aug_noise, "wander": aug_wander,
                    "shift": aug_shift}
        self.num_workers = num_workers
        self.seed = seed
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None

    # Subclasses set these.
    preprocessing: BeatPreprocessing | WindowPreprocessing
    n_chans: int
    n_features: int

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

    def _labels(self, ds: Dataset | None) -> torch.Tensor:
        if ds is None:
            raise RuntimeError("call setup('fit') first")
        return ds.tensors[-1] if isinstance(ds, TensorDataset) else torch.as_tensor(
            [int(ds[i][-1]) for i in range(len(ds))]
        )

    def train_features(self) -> torch.Tensor | None:
        """The per-window features of the training set, ``(n, n_features)``, or None.

        The model's fixed feature standardisation is fitted on them.
        """
        ds = self.train_set
        if ds is None:
            raise RuntimeError("call setup('fit') first")
        if isinstance(ds, TensorDataset) and len(ds.tensors) == 3:
            return ds.tensors[1]
        return None

    def class_counts(self) -> torch.Tensor:
        """Training examples per class (for balanced loss weights)."""
        y = self._labels(self.train_set)
        return torch.bincount(y[y >= 0], minlength=self.n_outputs)

    def train_dataloader(self) -> DataLoader:
        g = torch.Generator().manual_seed(self.seed)
        if self.sampler == "weighted":
            y = self._labels(self.train_set)
            counts = torch.bincount(y, minlength=self.n_outputs).double().clamp(min=1)
            w = (1.0 / counts) ** self.sampler_power
            sampler = WeightedRandomSampler(w[y], num_samples=len(y), generator=g)
            return DataLoader(self.train_set, self.batch_size, sampler=sampler,
                              num_workers=self.num_workers, drop_last=len(y) > self.batch_size)
        n = len(self.train_set)
        return DataLoader(self.train_set, self.batch_size, shuffle=True, generator=g,
                          num_workers=self.num_workers, drop_last=n > self.batch_size)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, self.eval_batch_size, num_workers=self.num_workers)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.test_set, self.eval_batch_size, num_workers=self.num_workers)

    def predict_dataloader(self) -> DataLoader:
        return self.test_dataloader()

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Mild augmentation of training batches only (amplitude, wander, noise)."""
        trainer = self.trainer
        if self.augment and trainer is not None and trainer.training:
            batch = list(batch)
            batch[0] = augment_batch(batch[0], fs=self.sfreq, **self.aug)
            batch = tuple(batch)
        return batch


def _stack(parts: list[tuple[np.ndarray, ...]]) -> TensorDataset:
    cols = list(zip(*parts, strict=True))
    tensors = [torch.from_numpy(np.concatenate(c)) for c in cols]
    return TensorDataset(*tensors)


# ---------------------------------------------------------------------------
# MIT-BIH heartbeats
# ---------------------------------------------------------------------------


def _records(spec: str | Sequence[str]) -> list[str]:
    """``"DS1"``/``"DS2"`` or explicit record names."""
    if isinstance(spec, str):
        from cardioliquid.data import splits

        if hasattr(splits, spec):
            return [str(r) for r in getattr(splits, spec)]
        return [r.strip() for r in spec.split(",") if r.strip()]
    return [str(r) for r in spec]


def _extra_specs(specs: Sequence[str]) -> list[tuple[str, str | None]]:
    """``"svdb"`` -> ``("svdb", None)``; ``"incartdb/I01"`` -> ``("incartdb", "I01")``.

    Only WFDB beat databases other than MIT-BIH Arrhythmia (whose records are
    ``train_records``) are accepted, so a typo fails before any training.
    """
    from cardioliquid.io.pull import DATABASES

    allowed = sorted(name for name, db in DATABASES.items() if db.kind == "wfdb" and
                     name != "mitdb")
    out: list[tuple[str, str | None]] = []
    for spec in specs:
        database, _, record = str(spec).strip().strip("/").partition("/")
        if database == "mitdb":
            raise ValueError(f"extra_train_records: {spec!r}: MIT-BIH records go in "
                             f"train_records, where the patient split checks them")
        check_option("extra_train_records database", database, allowed)
        out.append((database, record or None))
    return out


def _patient(record_id: str) -> str:
    from cardioliquid.data.splits import patient_of

    return str(patient_of(record_id))


class MITBIHBeatDataModule(_ArrayDataModule):
    """Heartbeat windows from the MIT-BIH Arrhythmia Database (de Chazal split).

    Parameters
    ----------
    data_dir : str, optional
        Folder with the WFDB records; default ``$CARDIOLIQUID_DATA_MIRROR/mitdb``.
        Missing records are pulled from PhysioNet in :meth:`prepare_data`.
    train_records, test_records : str or list of str
        ``"DS1"``, ``"DS2"`` or record names.
    val_patients : list of str
        Patients carved out of ``train_records`` for validation (checkpoint
        selection). They must belong to the training records.
    shared_patients : list of str
        Patients knowingly on both sides: the published de Chazal split has
        patient 201 (records 201 in DS1, 202 in DS2). Any other overlap is refused.
    preprocessing : BeatPreprocessing
        Filtering, rate, window, RR features, normalisation and classes.
    batch_size, eval_batch_size : int
        Loader batch sizes.
    sampler : {"weighted", "shuffle"}
        Class-rebalancing sampler (``(1/count) ** sampler_power``) or plain shuffling.
    augment : bool
        Amplitude scaling, baseline wander, noise and time shift on training batches.
    aug_shift : int
        Largest random time shift (samples at ``preprocessing.fs``): R-peak jitter.
    aug_irregular : float
        Share of training N beats given the RR context of atrial fibrillation
        (:func:`~cardioliquid.training.augment.irregular_rhythm_features`; needs
        the ``"robust"`` RR set), so irregular normal beats are not called S.
    cache_dir : str
        Where per-record beat arrays are cached (keyed by preprocessing).
    extra_train_records : list of str, optional
        Records of other PhysioNet ECG databases added to the **training** set
        (never to validation or test): ``"<database>"`` for a whole database,
        ``"<database>/<record>"`` for one record, e.g. ``["svdb", "incartdb/I01"]``.
        More patients are how inter-patient models meet rhythms their training
        database lacks. Their labels go through the same AAMI map, their lead
        through ``preprocessing.lead_preference`` and their rate is resampled.
    extra_data_dir : str, optional
        Folder holding one ``<database>/`` folder per extra database; default
        ``$CARDIOLIQUID_DATA_MIRROR``, else ``data``. Missing records are pulled
        in :meth:`prepare_data`.
    train_leads : {"preferred", "all"}
        ``"preferred"``: training beats from the lead the model reads at inference
        (the first of ``preprocessing.lead_preference`` a record has).
        ``"all"``: each training beat once per lead of its record named in
        ``lead_preference`` (MIT-BIH: MLII and V1, V2, V4 or V5), so the model
        meets other leads' morphology, as it will in other databases.
        Validation and test beats always come from the preferred lead.
    """

    n_chans = 1

    def __init__(
        self,
        data_dir: str | None = None,
        train_records: str | list[str] = "DS1",
        test_records: str | list[str] = "DS2",
        val_patients: list[str] | None = None,
        shared_patients: list[str] | None = None,
        preprocessing: BeatPreprocessing | None = None,
        batch_size: int = 256,
        eval_batch_size: int = 2048,
        sampler: str = "weighted",
        sampler_power: float = 0.5,
        augment: bool = True,
        aug_scale: float = 0.2,
        aug_noise: float = 0.03,
        aug_wander: float = 0.1,
        aug_shift: int = 0,
        aug_irregular: float = 0.0,
        num_workers: int = 0,
        seed: int = 0,
        cache_dir: str = "data/cache",
        extra_train_records: list[str] | None = None,
        extra_data_dir: str | None = None,
        train_leads: str = "preferred",
    ) -> None:
        super().__init__(batch_size, eval_batch_size, sampler, sampler_power, augment,
                         aug_scale, aug_noise, aug_wander, num_workers, seed, aug_shift)
        self.train_leads = check_option("train_leads", train_leads, ["preferred", "all"])
        self.data_dir = data_dir
        self.extra_train_records = _extra_specs(extra_train_records or [])
        self.extra_data_dir = extra_data_dir
        self.train_records = train_records
        self.test_records = test_records
        self.val_patients = [str(p) for p in (val_patients or [])]
        self.shared_patients = [str(p) for p in (["201"] if shared_patients is None
                                                 else shared_patients)]
        self.preprocessing = preprocessing or BeatPreprocessing()
        self.cache_dir = cache_dir
        self.aug_irregular = float(aug_irregular)
        if self.aug_irregular > 0:  # refuse a feature set it cannot rewrite now, not mid-fit
            from cardioliquid.signal.windows import beat_feature_names
            from cardioliquid.training.augment import check_irregular_rhythm_features

            self._feature_names = beat_feature_names(self.preprocessing)
            check_irregular_rhythm_features(self._feature_names)
            if "N" not in self.preprocessing.classes:
                raise ValueError(f"aug_irregular rewrites N beats; the classes "
                                 f"{list(self.preprocessing.classes)} have no N")
            self._normal_class = list(self.preprocessing.classes).index("N")

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """The shared augmentation, then the irregular-rhythm one on the features."""
        batch = super().on_after_batch_transfer(batch, dataloader_idx)
        trainer = self.trainer
        if self.aug_irregular > 0 and trainer is not None and trainer.training:
            from cardioliquid.training.augment import irregular_rhythm_features

            x, feats, y = batch
            feats = irregular_rhythm_features(feats, y, self._feature_names, self.aug_irregular,
                                              normal_class=self._normal_class)
            batch = (x, feats, y)
        return batch

    @property
    def n_features(self) -> int:  # type: ignore[override]
        """RR features per beat."""
        from cardioliquid.signal.windows import n_beat_features

        return int(n_beat_features(self.preprocessing))

    @property
    def root(self) -> Path:
        """The record folder."""
        return resolve_data_dir(self.data_dir, "mitdb")

    def extra_root(self, database: str) -> Path:
        """The folder of an extra training database (see ``extra_data_dir``)."""
        if self.extra_data_dir is not None:
            return Path(self.extra_data_dir) / database
        return resolve_data_dir(None, database, database)

    def extra_record_paths(self) -> list[Path]:
        """Paths (without extension) of the extra training records, in the order given.

        A whole database is its ``RECORDS`` list when the folder has one, else
        every record there with a header and reference (``.atr``) annotations.
        """
        paths: list[Path] = []
        for database, record in self.extra_train_records:
            root = self.extra_root(database)
            if record is not None:
                paths.append(root / record)
                continue
            listed = root / "RECORDS"
            names = (listed.read_text().split() if listed.is_file() else
                     sorted(h.stem for h in root.glob("*.hea") if h.with_suffix(".atr").is_file()))
            if not names:
                raise CardioLiquidError(f"{root}: no annotated records of {database}; pull them "
                                        f"with `cardioliquid data pull {database}`")
            paths += [root / n for n in names]
        return list(dict.fromkeys(paths))

    def prepare_data(self) -> None:
        """Make sure every record is on disk (mirror, else pull from PhysioNet)."""
        wanted = _records(self.train_records) + _records(self.test_records)
        missing = [r for r in wanted if not (self.root / f"{r}.hea").is_file()]
        if missing:
            _pull("mitdb", self.root, missing)
        for database in dict.fromkeys(db for db, _ in self.extra_train_records):
            root = self.extra_root(database)
            records = [r for db, r in self.extra_train_records if db == database]
            if None in records:  # the whole database, unless it is already here
                if not any(root.glob("*.hea")):
                    _pull(database, root)
            else:
                absent = [r for r in records if not (root / f"{r}.hea").is_file()]
                if absent:
                    _pull(database, root, absent)

    def split_records(self) -> dict[str, list[str]]:
        """``train``/``val``/``test`` record lists; validation patients come from training."""
        train = _records(self.train_records)
        test = _records(self.test_records)
        train_patients = {_patient(r) for r in train}
        foreign = [p for p in self.val_patients if p not in train_patients]
        if foreign:
            raise ValueError(
                f"validation patients {foreign} are not among the training patients "
                f"{sorted(train_patients)}; validation is carved from training, never from test"
            )
        val = [r for r in train if _patient(r) in self.val_patients]
        fit = [r for r in train if _patient(r) not in self.val_patients]
        from cardioliquid.data.splits import check_disjoint

        check_disjoint(fit + val, test, allow=self.shared_patients)
        return {"train": fit, "val": val, "test": test}

    def _dataset(self, records: list[str], extra: Sequence[Path] = (),
                 all_leads: bool = False) -> TensorDataset:
        from cardioliquid.training.beats import record_beats

        paths = [self.root / r for r in records] + list(extra)
        parts = [record_beats(p, self.preprocessing, self.cache_dir) for p in paths]
        if all_leads:  # the same beats again from each other listed lead
            for p in paths:
                for lead in self._other_leads(p):
                    prep = replace(self.preprocessing, lead_preference=[lead])
                    parts.append(record_beats(p, prep, self.cache_dir))
        return _stack(parts)

    def _other_leads(self, path: Path) -> list[str]:
        """Leads of record ``path`` named in ``lead_preference``, but the preferred one."""
        import wfdb

        from cardioliquid.signal.leads import listed_leads

        names = wfdb.rdheader(str(path)).sig_name
        return listed_leads(names, self.preprocessing.lead_preference)[1:]

    def setup(self, stage: str | None = None) -> None:
        """Build the beat datasets of the patient split (extra databases train only)."""
        split = self.split_records()
        if stage in (None, "fit", "validate"):
            if self.train_set is None and stage != "validate":
                self.train_set = self._dataset(split["train"], self.extra_record_paths(),
                                               all_leads=self.train_leads == "all")
            if self.val_set is None:
                self.val_set = self._dataset(split["val"] or split["train"][:1])
        if stage in (None, "test", "predict") and self.test_set is None:
            self.test_set = self._dataset(split["test"])


# ---------------------------------------------------------------------------
# EEG seizure windows
# ---------------------------------------------------------------------------


class SeizureDataModule(_ArrayDataModule):
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
        Patient ids. Validation patients must not be test patients.
    val_records : list of str
        Record-name prefixes of training-patient files used for validation
        instead of (or besides) whole validation patients.
    exclude : list of str
        Substrings of file names to skip.
    preprocessing : WindowPreprocessing
        Montage, rate, filters, window, normalisation, classes.
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
        batch_size: int = 64,
        eval_batch_size: int = 256,
        sampler: str = "weighted",
        sampler_power: float = 1.0,
        augment: bool = True,
        aug_scale: float = 0.2,
        aug_noise: float = 0.02,
        aug_wander: float = 0.0,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size, eval_batch_size, sampler, sampler_power, augment,
                         aug_scale, aug_noise, aug_wander, num_workers, seed)
        self.data_dir = data_dir
        self.train_patients = list(train_patients or ["chb01", "chb02"])
        self.val_patients = list(val_patients or [])
        self.test_patients = list(test_patients or ["chb03"])
        self.val_records = list(val_records or [])
        self.exclude = list(exclude or [])
        self.preprocessing = preprocessing or WindowPreprocessing(channels=list(CHBMIT_BIPOLAR_18))
        bad = set(self.val_patients + self.train_patients) & set(self.test_patients)
        if bad:
            raise ValueError(f"patients {sorted(bad)} are both training/validation and test")

    n_features = 0

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
            _pull("chbmit", self.root, sorted(set(self.train_patients + self.val_patients
                                                  + self.test_patients)))

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

    def _dataset(self, files: list[Path]) -> TensorDataset:
        from cardioliquid.training.windows import recording_windows

        parts = [recording_windows(f, self.preprocessing) for f in files]
        parts = [p for p in parts if len(p[0])]
        if not parts:
            raise CardioLiquidError(f"no windows from {[f.name for f in files]}")
        return _stack(parts)

    def setup(self, stage: str | None = None) -> None:
        """Window every file of the split."""
        split = self.split_files()
        if not split["train"]:
            raise CardioLiquidError(
                f"no training files for patients {self.train_patients} in {self.root}"
            )
        if stage in (None, "fit", "validate"):
            if self.train_set is None and stage != "validate":
                self.train_set = self._dataset(split["train"])
            if self.val_set is None:
                self.val_set = self._dataset(split["val"] or split["train"])
        if stage in (None, "test", "predict") and self.test_set is None:
            self.test_set = self._dataset(split["test"] or split["val"] or split["train"])


class BonnDataModule(_ArrayDataModule):
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
        Fractions of segments of each set held out.
    """

    n_chans = 1
    n_features = 0
    SETS: ClassVar[dict[str, str]] = {"A": "A_Z", "B": "B_O", "C": "C_N", "D": "D_F", "E": "E_S"}

    def __init__(
        self,
        data_dir: str | None = None,
        val_fraction: float = 0.15,
        test_fraction: float = 0.2,
        preprocessing: WindowPreprocessing | None = None,
        batch_size: int = 64,
        eval_batch_size: int = 512,
        sampler: str = "weighted",
        sampler_power: float = 1.0,
        augment: bool = True,
        aug_scale: float = 0.2,
        aug_noise: float = 0.02,
        aug_wander: float = 0.0,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size, eval_batch_size, sampler, sampler_power, augment,
                         aug_scale, aug_noise, aug_wander, num_workers, seed)
        self.data_dir = data_dir
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.preprocessing = preprocessing or WindowPreprocessing(channels=[])

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

    def _dataset(self, files: list[Path]) -> TensorDataset:
        from cardioliquid.training.windows import recording_windows

        return _stack([recording_windows(f, self.preprocessing) for f in files])

    def setup(self, stage: str | None = None) -> None:
        """Window the segments of each split."""
        split = self.split_segments()
        if stage in (None, "fit", "validate"):
            if self.train_set is None and stage != "validate":
                self.train_set = self._dataset(split["train"])
            if self.val_set is None:
                self.val_set = self._dataset(split["val"])
        if stage in (None, "test", "predict") and self.test_set is None:
            self.test_set = self._dataset(split["test"])


# ---------------------------------------------------------------------------
# Synthetic data (smoke tests, DDP checks, demos without data)
# ---------------------------------------------------------------------------


class SyntheticDataModule(_ArrayDataModule):
    """Small, learnable synthetic windows: class ``k`` is a bump at a class-specific place.

    Used by tests and to check a training set-up (DDP, a new strategy) without
    any recordings. The preprocessing is a :class:`BeatPreprocessing` (or a
    :class:`WindowPreprocessing` when ``n_chans > 1``) so checkpoints are complete.
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
        batch_size: int = 32,
        noise: float = 0.3,
        augment: bool = False,
        sampler: str = "shuffle",
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size, 256, sampler, 1.0, augment, 0.1, 0.01, 0.0, 0, seed)
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

    def _make(self, n: int, seed: int) -> TensorDataset:
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

    def setup(self, stage: str | None = None) -> None:
        self.train_set = self._make(self.n_train, self.seed)
        self.val_set = self._make(self.n_val, self.seed + 1)
        self.test_set = self._make(self.n_val, self.seed + 2)


class ArrayDataModule(_ArrayDataModule):
    """Train/validation/test sets given as arrays (evaluation protocols, experiments).

    Parameters
    ----------
    train, val : tuple of arrays
        ``(x, labels)`` or ``(x, features, labels)``; ``x`` is (n, n_chans, n_times).
    preprocessing : BeatPreprocessing or WindowPreprocessing
        How the arrays were made (saved with the model).
    test : tuple of arrays, optional
        Test set (defaults to ``val``).
    """

    def __init__(
        self,
        train: tuple[np.ndarray, ...],
        val: tuple[np.ndarray, ...],
        preprocessing: BeatPreprocessing | WindowPreprocessing,
        test: tuple[np.ndarray, ...] | None = None,
        batch_size: int = 64,
        sampler: str = "weighted",
        sampler_power: float = 1.0,
        augment: bool = True,
        aug_scale: float = 0.2,
        aug_noise: float = 0.02,
        aug_wander: float = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size, 1024, sampler, sampler_power, augment, aug_scale,
                         aug_noise, aug_wander, 0, seed)
        self.preprocessing = preprocessing
        self.train_set, self.val_set = _stack([train]), _stack([val])
        self.test_set = _stack([test]) if test is not None else self.val_set
        self.n_chans = int(self.train_set.tensors[0].shape[1])
        self.n_features = (
            int(self.train_set.tensors[1].shape[1]) if len(self.train_set.tensors) == 3 else 0
        )

    def setup(self, stage: str | None = None) -> None:
        """Nothing to do: the sets are given."""
