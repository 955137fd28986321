"""Heartbeats of WFDB databases: MIT-BIH Arrhythmia (de Chazal split) plus SVDB, INCART...

:class:`MITBIHBeatDataModule` serves single beat windows, :class:`BeatSequenceDataModule`
runs of consecutive beats (the models of the rhythm). Both split MIT-BIH by
patient, carve validation from the training patients, add other databases'
records to training only, and read every record through the one window cache
(:mod:`cardioliquid.data.records`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
import wfdb
from torch.utils.data import TensorDataset

from cardioliquid._check import check_option
from cardioliquid.data import splits
from cardioliquid.data.records import record_beats
from cardioliquid.data.sequences import chunk_beats
from cardioliquid.errors import CardioLiquidError
from cardioliquid.io.pull import DATABASES
from cardioliquid.signal.config import BeatPreprocessing
from cardioliquid.signal.leads import listed_leads
from cardioliquid.signal.windows import beat_feature_names, n_beat_features
from cardioliquid.training.augment import (
    Augmentation,
    check_irregular_rhythm_features,
    interval_columns,
    irregular_rhythm_features,
    log_uniform_factors,
    record_reference_columns,
    scale_heart_rate,
    scale_record_reference,
    stretch_windows,
)
from cardioliquid.training.datamodules.base import Sampling, TensorDataModule, stack_arrays
from cardioliquid.training.datamodules.locate import pull_database, resolve_data_dir


def _records(spec: str | Sequence[str]) -> list[str]:
    """``"DS1"``/``"DS2"`` or explicit record names."""
    if isinstance(spec, str):
        if hasattr(splits, spec):
            return [str(r) for r in getattr(splits, spec)]
        return [r.strip() for r in spec.split(",") if r.strip()]
    return [str(r) for r in spec]


def _extra_specs(specs: Sequence[str]) -> list[tuple[str, str | None]]:
    """``"svdb"`` -> ``("svdb", None)``; ``"incartdb/I01"`` -> ``("incartdb", "I01")``.

    Only WFDB beat databases other than MIT-BIH Arrhythmia (whose records are
    ``train_records``) are accepted, so a typo fails before any training.
    """
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
    return str(splits.patient_of(record_id))


class MITBIHBeatDataModule(TensorDataModule):
    """Heartbeat windows from the MIT-BIH Arrhythmia Database (de Chazal split).

    Parameters
    ----------
    data_dir : str, optional
        Folder with the WFDB records; default ``$CARDIOLIQUID_DATA_MIRROR/mitdb``.
        Missing records are pulled from PhysioNet in :meth:`prepare_data`.
    train_records, test_records : str or list of str
        ``"DS1"``, ``"DS2"`` or record names. ``test_records: []`` means no
        test stage (asking for test data then raises).
    val_patients : list of str
        Patients carved out of ``train_records`` for validation (checkpoint
        selection). They must belong to the training records. Empty: no
        validation data (train with ``trainer.limit_val_batches: 0``).
    shared_patients : list of str
        Patients knowingly on both sides: the published de Chazal split has
        patient 201 (records 201 in DS1, 202 in DS2). Any other overlap is refused.
    preprocessing : BeatPreprocessing
        Filtering, rate, window, RR features, normalisation and classes.
    sampling : Sampling
        Batch sizes, sampler (``"weighted"``: ``(1/count) ** sampler_power``) and workers.
    augmentation : Augmentation
        Amplitude scaling, baseline wander, noise and time shift (``shift``:
        samples at ``preprocessing.fs``, R-peak jitter) of training batches.
    aug_irregular : float
        Share of training N beats given the RR context of atrial fibrillation
        (:func:`~cardioliquid.training.augment.irregular_rhythm_features`; needs
        the ``"robust"`` RR set), so irregular normal beats are not called S.
    seed : int
        Seed of the training sampler.
    cache_dir : str, optional
        The window cache folder (:mod:`cardioliquid.data.cache`); None: no cache.
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
        meets other leads' morphology, as it will in other databases. With
        leads stacked in the windows (``preprocessing.stack_leads``), each copy
        puts its lead first and the record's other listed leads after it.
        Validation and test beats always come from the preferred lead.
    """

    def __init__(
        self,
        data_dir: str | None = None,
        train_records: str | list[str] = "DS1",
        test_records: str | list[str] = "DS2",
        val_patients: list[str] | None = None,
        shared_patients: list[str] | None = None,
        preprocessing: BeatPreprocessing | None = None,
        sampling: Sampling = Sampling(batch_size=256, eval_batch_size=2048, sampler_power=0.5),
        augmentation: Augmentation = Augmentation(scale=0.2, noise=0.03, wander=0.1),
        aug_irregular: float = 0.0,
        seed: int = 0,
        cache_dir: str | None = "data/cache",
        extra_train_records: list[str] | None = None,
        extra_data_dir: str | None = None,
        train_leads: str = "preferred",
    ) -> None:
        super().__init__(sampling, augmentation, seed)
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
            self._feature_names = beat_feature_names(self.preprocessing)
            check_irregular_rhythm_features(self._feature_names)
            if "N" not in self.preprocessing.classes:
                raise ValueError(f"aug_irregular rewrites N beats; the classes "
                                 f"{list(self.preprocessing.classes)} have no N")
            self._normal_class = list(self.preprocessing.classes).index("N")
        self._interval_columns = self._scaled_columns(
            "heart_rate", interval_columns, "the absolute RR intervals", "'robust_absolute'")
        self._reference_columns = self._scaled_columns(
            "record_reference", record_reference_columns, "the RR ratios over the record",
            "'robust' or 'robust_absolute'")

    def _scaled_columns(self, field: str, find: Any, what: str, use: str) -> list[int]:
        """The feature columns augmentation ``field`` scales (none when it is off); refused
        now, not mid-fit, when the RR set has none."""
        if not (self.augmentation.enabled and getattr(self.augmentation, field) > 0):
            return []
        columns = find(beat_feature_names(self.preprocessing))
        if not columns:
            raise ValueError(
                f"augmentation.{field} scales {what}, but the rr_feature_set "
                f"{self.preprocessing.rr_feature_set!r} has none (use {use}), or set {field} "
                f"to 0")
        return columns

    def _augment_features(self, feats: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The feature augmentations: heart rate, then AF-like rhythm (single beats)."""
        feats = scale_heart_rate(feats, self._interval_columns, self.augmentation.heart_rate)
        feats = scale_record_reference(feats, self._reference_columns,
                                       self.augmentation.record_reference)
        if self.aug_irregular > 0:
            feats = irregular_rhythm_features(feats, y, self._feature_names, self.aug_irregular,
                                              normal_class=self._normal_class)
        return feats

    @property
    def r_peak_index(self) -> int:
        """Index of the R peak in a beat window (``pre_s`` after its start)."""
        return round(self.preprocessing.pre_s * self.preprocessing.fs)  # as signal.windows cuts

    def _stretch(self, x: torch.Tensor, per_group: int = 1) -> torch.Tensor:
        """Beat windows ``x`` (n, C, T) stretched, one factor per ``per_group`` windows."""
        amount = self.augmentation.stretch
        if not self.augmentation.enabled or amount <= 0:
            return x
        factors = log_uniform_factors(x.shape[0] // per_group, amount, x.device)
        return stretch_windows(x, self.r_peak_index, factors.repeat_interleave(per_group))

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """The shared window augmentation, then stretch and the feature augmentations."""
        batch = super().on_after_batch_transfer(batch, dataloader_idx)
        trainer = self.trainer
        if trainer is None or not trainer.training:
            return batch
        batch = (self._stretch(batch[0]), *batch[1:])
        if self.aug_irregular > 0 or self._interval_columns or self._reference_columns:
            x, feats, y = batch
            batch = (x, self._augment_features(feats, y), y)
        return batch

    @property
    def n_chans(self) -> int:  # type: ignore[override]
        """Channels of a beat window: the leads stacked (``preprocessing.stack_leads``)."""
        return int(self.preprocessing.stack_leads)

    @property
    def n_features(self) -> int:  # type: ignore[override]
        """RR features per beat."""
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
            pull_database("mitdb", self.root, missing)
        for database in dict.fromkeys(db for db, _ in self.extra_train_records):
            root = self.extra_root(database)
            records = [r for db, r in self.extra_train_records if db == database]
            if None in records:  # the whole database, unless it is already here
                if not any(root.glob("*.hea")):
                    pull_database(database, root)
            else:
                absent = [r for r in records if not (root / f"{r}.hea").is_file()]
                if absent:
                    pull_database(database, root, absent)

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
        splits.check_disjoint(fit + val, test, allow=self.shared_patients)
        return {"train": fit, "val": val, "test": test}

    def split_items(self) -> dict[str, list[str]]:
        """The MIT-BIH records of each split (extra databases join ``train`` in :meth:`build`)."""
        return self.split_records()

    def records_used(self) -> dict[str, list[str]]:
        """As the base class, with the extra databases' records in ``train`` as ``db/record``."""
        out = super().records_used()
        out["train"] = out["train"] + [f"{p.parent.name}/{p.name}"
                                       for p in self.extra_record_paths()]
        return out

    def empty_reason(self, split: str) -> str:
        """Why ``split`` has no records, naming the argument to change."""
        return {
            "train": f"train_records {self.train_records!r} leave no record outside "
                     f"val_patients {self.val_patients}",
            "val": "val_patients is empty, so no records are carved from train_records for "
                   "validation; name some, or train with trainer.limit_val_batches: 0",
            "test": f"test_records is {self.test_records!r}: this DataModule has no test stage",
        }[split]

    def build(self, split: str, items: list[str]) -> TensorDataset:
        """Beats of ``items`` (training: plus the extra databases, and every lead if asked)."""
        if split == "train":
            return self._dataset(items, self.extra_record_paths(),
                                 all_leads=self.train_leads == "all")
        return self._dataset(items)

    def _record_parts(self, paths: list[Path], all_leads: bool, keep_unlabelled: bool
                      ) -> tuple[list[tuple[Any, ...]], list[Path]]:
        """Per record (and lead), ``(x, features, labels)`` arrays, and each one's record."""
        parts = [record_beats(p, self.preprocessing, self.cache_dir, keep_unlabelled)
                 for p in paths]
        owners = list(paths)
        if all_leads:  # the same beats again from each other listed lead
            for p in paths:
                listed = self._listed_leads(p)
                for lead in listed[1:]:
                    # Stacked leads: this one first, then the others in their order.
                    order = [lead, *(other for other in listed if other != lead)]
                    prep = replace(self.preprocessing, lead_preference=(
                        order if self.preprocessing.stack_leads > 1 else [lead]))
                    parts.append(record_beats(p, prep, self.cache_dir, keep_unlabelled))
                    owners.append(p)
        return parts, owners

    def _dataset(self, records: list[str], extra: Sequence[Path] = (),
                 all_leads: bool = False) -> TensorDataset:
        paths = [self.root / r for r in records] + list(extra)
        return stack_arrays(self._record_parts(paths, all_leads, keep_unlabelled=False)[0])

    def _listed_leads(self, path: Path) -> list[str]:
        """Leads of record ``path`` named in ``lead_preference``, preferred first."""
        names = wfdb.rdheader(str(path)).sig_name
        return listed_leads(names, self.preprocessing.lead_preference)


class BeatSequenceDataModule(MITBIHBeatDataModule):
    """:class:`MITBIHBeatDataModule` serving runs of consecutive beats.

    Same records, patient split, extra databases and leads; each training
    example is a run of ``sequence_length`` consecutive beats of one record
    and lead (all beats, labelled or not, cut by
    :func:`~cardioliquid.data.sequences.chunk_beats`). Parameters beyond those
    of :class:`MITBIHBeatDataModule`:

    Parameters
    ----------
    sequence_length : int
        Beats per run.
    sequence_hop : int, optional
        Beats between run starts (default half a run: every beat is seen
        twice per epoch, once early and once late in a run).
    burn_in : int
        Beats before each run that lead into it unscored (label -1), so its
        first beats meet a warm state, as beats do in scoring (see
        :func:`~cardioliquid.data.sequences.chunk_beats`).
    patient_labels : bool
        Training batches carry a fourth item: each run's patient, an index into
        :attr:`train_patients` (the patient adversary of
        :class:`~cardioliquid.training.module.LiquidClassifierModule` reads it).
        Every lead of a record, and MIT-BIH records 201 and 202, are one patient.
    """

    def __init__(self, *args: Any, sequence_length: int = 128,
                 sequence_hop: int | None = None, burn_in: int = 0,
                 patient_labels: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.aug_irregular > 0:
            raise ValueError("aug_irregular rewrites single beats' RR features; a beat "
                             "sequence keeps its real rhythm (set it to 0)")
        if self.sampling.sampler != "shuffle":
            raise ValueError(f"a beat sequence trains with sampler 'shuffle' (runs hold "
                             f"beats of every class), got {self.sampling.sampler!r}")
        if sequence_length < 2:
            raise ValueError(f"sequence_length must be >= 2, got {sequence_length}")
        self.sequence_length = int(sequence_length)
        self.sequence_hop = int(sequence_hop or max(1, sequence_length // 2))
        if burn_in < 0:
            raise ValueError(f"burn_in must be >= 0, got {burn_in}")
        self.burn_in = int(burn_in)
        self.patient_labels = bool(patient_labels)
        self.train_patients: list[str] = []
        """The training patients, in the order of the indices ``patient_labels`` serves."""

    def build(self, split: str, items: list[str]) -> TensorDataset:
        """As :meth:`MITBIHBeatDataModule.build`; training runs carry their patient if asked."""
        paths = [self.root / r for r in items]
        if split != "train":
            return self._runs(paths)
        paths += self.extra_record_paths()
        parts, owners = self._record_parts(paths, self.train_leads == "all",
                                           keep_unlabelled=True)
        if not self.patient_labels:
            return chunk_beats(parts, self.sequence_length, self.sequence_hop, self.burn_in)
        patients = [self._patient_of(p) for p in owners]
        self.train_patients = sorted(set(patients))
        index = {name: i for i, name in enumerate(self.train_patients)}
        return chunk_beats(parts, self.sequence_length, self.sequence_hop, self.burn_in,
                           groups=[index[name] for name in patients])

    def _patient_of(self, path: Path) -> str:
        """A record's patient: MIT-BIH's by the split's table, another database's record."""
        if path.parent == self.root:
            return f"mitdb/{_patient(path.name)}"
        return f"{path.parent.name}/{path.name}"

    def _runs(self, paths: list[Path]) -> TensorDataset:
        parts, _ = self._record_parts(paths, False, keep_unlabelled=True)
        return chunk_beats(parts, self.sequence_length, self.sequence_hop, self.burn_in)

    @property
    def n_train_patients(self) -> int | None:
        """Patients the training runs' indices count (None without ``patient_labels``)."""
        if not self.patient_labels:
            return None
        self.dataset("train")  # built by setup
        return len(self.train_patients)

    def patient_class_counts(self) -> torch.Tensor:
        """Training examples per patient and class, ``(n_train_patients, n_classes)``.

        Counted over the training runs as the loss sees them (every lead, padding
        and burn-in left out); rows follow :attr:`train_patients`.
        """
        if not self.patient_labels:
            raise ValueError("patient_class_counts needs patient_labels: true")
        _, _, y, patients = self.dataset("train").tensors[:4]
        scored = y >= 0
        rows = patients[:, None].expand_as(y)[scored]
        counts = torch.zeros(len(self.train_patients), self.n_outputs, dtype=torch.int64)
        counts.index_put_((rows, y[scored]), torch.ones_like(rows), accumulate=True)
        return counts

    def _labels(self) -> torch.Tensor:
        return self.dataset("train").tensors[2]

    def train_features(self) -> torch.Tensor | None:
        """Features of the training beats, ``(n, n_features)`` (padding left out)."""
        _, f, y = self.dataset("train").tensors[:3]
        return f[y >= 0]

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """The shared window augmentation on every beat of every run; one heart rate a run."""
        trainer = self.trainer
        if self.augmentation.enabled and trainer is not None and trainer.training:
            x, f, y, *patients = batch
            b, length = x.shape[:2]
            flat = self.augmentation.apply(x.reshape(b * length, *x.shape[2:]), self.sfreq)
            flat = self._stretch(flat, per_group=length)  # one beat width per run
            batch = (flat.reshape(x.shape), self._augment_features(f, y), y, *patients)
        return batch
