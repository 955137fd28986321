"""The LightningModule that trains every CardioLiquid classifier.

The network is built by name through the model registry and held as
``self.model`` (the backbone is injected, after Lightning's image-classifier
example). The hyper-parameters saved in each ``.ckpt`` are plain JSON types
(``model_name``, ``model_kwargs``, ``preprocessing`` as a dict...), so a
checkpoint loads with ``torch.load(weights_only=True)`` through
:func:`cardioliquid.models.checkpoint.load_model` and carries everything
scoring needs to reproduce the preprocessing.
"""

from __future__ import annotations

import math
import re
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
)

from cardioliquid._check import check_option, check_positive
from cardioliquid.errors import CardioLiquidError, ContractError
from cardioliquid.models.classifier import FeatureStandardizer
from cardioliquid.models.registry import create_model, list_models
from cardioliquid.training.adversary import PatientAdversary, adversary_ramp
from cardioliquid.training.distill import Distillation, distillation_loss, teacher_proba
from cardioliquid.training.losses import (
    balanced_weights,
    focal_loss,
    patient_balanced_weights,
    rhythm_forecast_head,
    rhythm_forecast_loss,
)
from cardioliquid.training.records import CHECKPOINT_KEY, records_metadata

Batch = tuple[torch.Tensor, ...]


def split_batch(batch: Batch | dict[str, torch.Tensor]) -> tuple[torch.Tensor, Any, torch.Tensor]:
    """Return ``(x, features or None, labels)`` from a ``(x, [features,] y)`` batch.

    Datasets in :mod:`cardioliquid.data.datasets` yield either
    ``(x, features, label)`` (beats) or ``(x, label)`` (EEG windows); a dict
    with keys ``x``, ``features``, ``label`` is accepted too.
    """
    if isinstance(batch, dict):
        feats = batch.get("features")
        return batch["x"], feats, batch.get("label", batch.get("y"))
    if len(batch) in (3, 4):  # a fourth item is each run's patient (patient_labels)
        return batch[0], batch[1], batch[2]
    if len(batch) == 2:
        return batch[0], None, batch[1]
    raise ValueError(f"expected a (x, [features,] label) batch, got {len(batch)} items")


def _metrics(n_classes: int, prefix: str) -> MetricCollection:
    return MetricCollection(
        {
            "recall": MulticlassRecall(n_classes, average=None),
            "precision": MulticlassPrecision(n_classes, average=None),
            "f1": MulticlassF1Score(n_classes, average=None),
            "macro_f1": MulticlassF1Score(n_classes, average="macro"),
            # Macro-averaged recall is balanced accuracy.
            "balanced_accuracy": MulticlassAccuracy(n_classes, average="macro"),
        },
        prefix=prefix,
    )


class LiquidClassifierModule(L.LightningModule):
    """Train a registered classifier on any CardioLiquid task.

    Parameters
    ----------
    model_name : str
        Registry name (``"liquid-cfc"``, ``"liquid-ltc"``).
    model_kwargs : dict
        Builder arguments other than the signal shape (``units``, ...).
    n_chans, n_outputs, n_times, n_features : int, optional
        Signal shape; the CLI links them from the DataModule. They are merged
        into the saved ``model_kwargs``.
    sfreq : float, optional
        Sampling rate the model reads (linked from the DataModule).
    preprocessing : dict, optional
        ``prep.to_dict()`` of the data's preprocessing; saved in every checkpoint.
    class_weights : "balanced", list of float or None
        Loss weights per class. ``"balanced"`` takes inverse-frequency weights
        (raised to ``class_weight_power``) from the DataModule's training split
        in :meth:`setup`.
    class_weight_power : float
        Exponent on the inverse frequencies (0.5 softens them).
    class_weight_max : float, optional
        Cap on any class's weight relative to the most frequent class's. Without
        it a class with a handful of training examples (MIT-BIH DS1 has 8 Q
        beats) outweighs thousands of others and the model learns to call it.
    lr, weight_decay : float
        AdamW settings; the learning rate follows a cosine schedule with warm-up.
    warmup_epochs : int
        Linear warm-up epochs.
    schedule : {"epoch", "step"}
        How often the learning rate moves: once per epoch, or every optimizer
        step, which anneals smoothly to 5 % of ``lr`` by the last step (the
        final weights then come from a small, settled learning rate).
    label_smoothing : float
        Cross-entropy label smoothing.
    focal_gamma : float
        Above 0, the class-weighted focal loss
        (:func:`~cardioliquid.training.losses.focal_loss`) with this exponent replaces
        cross-entropy (not together with label smoothing).
    key_classes : list of str, optional
        Classes whose mean F1 is logged as ``<stage>/key_f1`` (e.g. ``[S, V]``
        for arrhythmia): a selection metric that rare, unimportant classes do
        not swamp.
    rhythm_forecast : float
        Above 0, the weight of an auxiliary loss for beat-sequence models
        (:func:`~cardioliquid.training.losses.rhythm_forecast_loss`): a linear read-out
        of every neuron's state after a beat predicts the interval after the next
        beat, which no input holds yet, so the state must model the patient's
        rhythm. The read-out is a training device: it is not part of the model and
        not exported.
    patient_adversary : float
        Above 0, the weight of a patient adversary for beat-sequence models
        (:class:`~cardioliquid.training.adversary.PatientAdversary`): a linear
        read-out names each training beat's patient from what the cell reads of
        its shape, through a gradient reversal that ramps up over training, so
        the encoder keeps the class and loses the patient. Needs a DataModule
        that serves each run's patient (``patient_labels: true``); not exported.
    adversary_patients : int
        Patients the adversary can name (at least the training set's).
    patient_balance : float
        Above 0, each training beat's loss is also weighted by its patient's share
        of its class (:func:`~cardioliquid.training.losses.patient_balanced_weights`
        with this power): a class then learns from all its patients, not mostly
        from the few who hold most of its beats. Beat-sequence DataModules with
        ``patient_labels: true``; cross-entropy only.
    patient_balance_floor : float
        Examples of a class below which a patient counts as having this many.
    distill : dict, optional
        Knowledge distillation (:class:`~cardioliquid.training.distill.Distillation`:
        ``teachers``, ``weight``, ``temperature``): the training loss adds the KL
        divergence to the teachers' mean probabilities. The teachers are prepared
        before ``fit`` (``cardioliquid-train`` does it) and are not saved with the
        model.
    """

    def __init__(
        self,
        model_name: str = "liquid-cfc",
        model_kwargs: dict[str, Any] | None = None,
        n_chans: int | None = None,
        n_outputs: int | None = None,
        n_times: int | None = None,
        sfreq: float | None = None,
        n_features: int | None = None,
        preprocessing: dict[str, Any] | None = None,
        class_weights: str | list[float] | None = "balanced",
        class_weight_power: float = 0.5,
        class_weight_max: float | None = None,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        warmup_epochs: int = 1,
        schedule: str = "epoch",
        label_smoothing: float = 0.0,
        focal_gamma: float = 0.0,
        key_classes: list[str] | None = None,
        rhythm_forecast: float = 0.0,
        patient_adversary: float = 0.0,
        adversary_patients: int = 128,
        patient_balance: float = 0.0,
        patient_balance_floor: float = 40.0,
        distill: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        check_option("model_name", model_name, list_models())
        check_positive("lr", lr)
        check_option("schedule", schedule, ["epoch", "step"])
        if isinstance(class_weights, str):
            check_option("class_weights", class_weights, ["balanced"])
        if rhythm_forecast < 0:
            raise ValueError(f"rhythm_forecast must be >= 0, got {rhythm_forecast}")
        if patient_adversary < 0:
            raise ValueError(f"patient_adversary must be >= 0, got {patient_adversary}")
        if focal_gamma < 0:
            raise ValueError(f"focal_gamma must be >= 0, got {focal_gamma}")
        if patient_balance < 0:
            raise ValueError(f"patient_balance must be >= 0, got {patient_balance}")
        if patient_balance > 0 and focal_gamma > 0:
            raise ValueError("patient_balance weights the cross-entropy; it is not "
                             "implemented with focal_gamma")
        check_positive("patient_balance_floor", patient_balance_floor)
        if focal_gamma > 0 and label_smoothing > 0:
            raise ValueError("focal_gamma and label_smoothing are two different losses: "
                             "set one of them")
        kwargs = dict(model_kwargs or {})
        shape = {"n_chans": n_chans, "n_outputs": n_outputs, "n_times": n_times,
                 "sfreq": sfreq, "n_features": n_features}  # fmt: skip
        for key, value in shape.items():
            if value is None:
                continue
            if key in kwargs and kwargs[key] != value:
                raise ContractError(
                    f"model_kwargs[{key!r}]={kwargs[key]!r} contradicts the data's {key}={value!r}"
                )
            kwargs[key] = int(value) if key != "sfreq" else float(value)
        missing = [k for k in ("n_chans", "n_outputs", "n_times") if k not in kwargs]
        if missing:
            raise ValueError(f"model needs {missing}: pass them or link them from the data")
        # Only plain JSON types go into the checkpoint (weights_only=True loading).
        self.save_hyperparameters(
            {
                "model_name": model_name,
                "model_kwargs": kwargs,
                "preprocessing": dict(preprocessing) if preprocessing else {},
                "class_weights": class_weights,
                "class_weight_power": float(class_weight_power),
                "class_weight_max": None if class_weight_max is None else float(class_weight_max),
                "lr": float(lr),
                "weight_decay": float(weight_decay),
                "warmup_epochs": int(warmup_epochs),
                "schedule": schedule,
                "label_smoothing": float(label_smoothing),
                "focal_gamma": float(focal_gamma),
                "key_classes": list(key_classes) if key_classes else None,
                "rhythm_forecast": float(rhythm_forecast),
                "patient_adversary": float(patient_adversary),
                "adversary_patients": int(adversary_patients),
                "patient_balance": float(patient_balance),
                "patient_balance_floor": float(patient_balance_floor),
                "distill": dict(distill) if distill else None,
            }
        )
        # Validated now: a bad teacher list fails before any training.
        self.distillation = Distillation.from_dict(distill) if distill else None
        # Teachers live outside the module's parameters and state dict (training only).
        self._teachers: list[nn.Module] = []
        self.model: nn.Module = _build_model(model_name, kwargs)
        n_classes = int(kwargs["n_outputs"])
        weights = torch.ones(n_classes)
        if isinstance(class_weights, list | tuple):
            if len(class_weights) != n_classes:
                raise ValueError(
                    f"expected {n_classes} class weights, got {len(class_weights)}"
                )
            weights = torch.tensor(class_weights, dtype=torch.float32)
        self.register_buffer("loss_weights", weights)
        # Per (patient, class) loss factors of patient_balance, set in setup; a training
        # device, so not part of the saved state.
        self.register_buffer("patient_factors", torch.ones(0, n_classes), persistent=False)
        self.forecast_head = (rhythm_forecast_head(self.model) if rhythm_forecast > 0
                              else None)  # fmt: skip
        self.adversary = (_patient_adversary(self.model, adversary_patients)
                          if patient_adversary > 0 else None)  # fmt: skip
        self.train_metrics = _metrics(n_classes, "train/")
        self.val_metrics = _metrics(n_classes, "val/")
        self.test_metrics = _metrics(n_classes, "test/")

    @property
    def classes(self) -> list[str]:
        """Class names from the preprocessing, else ``0..n-1``."""
        names = self.hparams["preprocessing"].get("classes")
        n = self.hparams["model_kwargs"]["n_outputs"]
        return list(names) if names else [str(i) for i in range(n)]

    def setup(self, stage: str) -> None:
        """Take balanced class weights and feature statistics from the training set."""
        if stage != "fit":
            return
        dm = getattr(self.trainer, "datamodule", None) if self._trainer else None
        if self.adversary is not None:
            n = _train_patients(dm, "model.patient_adversary")
            if n > self.adversary.capacity:
                raise CardioLiquidError(
                    f"the training set has {n} patients, more than the adversary's "
                    f"{self.adversary.capacity}: raise model.adversary_patients")
        if self.hparams.get("patient_balance", 0.0) > 0:
            _train_patients(dm, "model.patient_balance")
            self.patient_factors = patient_balanced_weights(
                dm.patient_class_counts(), self.hparams["patient_balance"],
                self.hparams["patient_balance_floor"]).to(self.loss_weights.device)
        norm = getattr(self.model, "feature_norm", None)
        train_features = getattr(dm, "train_features", None)
        if isinstance(norm, FeatureStandardizer) and not norm.fitted and train_features:
            feats = train_features()
            if feats is not None:
                norm.fit(feats)
        if self.hparams["class_weights"] != "balanced":
            return
        counts = getattr(dm, "class_counts", None)
        if counts is None:
            return
        self.loss_weights.copy_(
            balanced_weights(torch.as_tensor(counts()), self.hparams["class_weight_power"],
                             self.hparams.get("class_weight_max"))
        )

    def forward(self, x: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(batch, n_outputs)``."""
        return self.model(x, features)

    def set_teachers(self, teachers: list[nn.Module]) -> None:
        """The frozen teachers of a distilled recipe (see :mod:`~cardioliquid.training.distill`)."""
        self._teachers = list(teachers)

    def on_fit_start(self) -> None:
        """Refuse a distilled recipe whose teachers were not prepared."""
        if self.distillation is not None and not self._teachers:
            raise CardioLiquidError(
                "this recipe distils from teachers (model.distill) but none were prepared: "
                "train it with cardioliquid-train, or call "
                "cardioliquid.training.distill.prepare_teachers(module, datamodule, epochs, "
                "seed) before trainer.fit")
        for teacher in self._teachers:
            teacher.to(self.device)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Write the records this run reads into the checkpoint (plain lists and text, so
        ``torch.load(weights_only=True)`` reads them back), for the provenance of a model
        evaluated or exported from it."""
        trainer = self._trainer  # None outside a Trainer: nothing to say
        meta = records_metadata(getattr(trainer, "datamodule", None)) if trainer else {}
        if meta:
            checkpoint[CHECKPOINT_KEY] = meta

    def _step(self, batch: Batch, metrics: MetricCollection, stage: str) -> torch.Tensor:
        x, feats, y = split_batch(batch)
        forecast = adversary = None
        if stage == "train" and (self.forecast_head is not None or self.adversary is not None):
            logits, states, morphology = self.model.forward_training(x, feats)
            if self.forecast_head is not None:
                forecast = rhythm_forecast_loss(self.forecast_head, states, feats, y,
                                                self.model.timespan_feature)
            if self.adversary is not None:
                adversary = self.adversary.loss(morphology, _run_patients(batch), y,
                                                adversary_ramp(self._progress()))
        else:
            logits = self(x, feats)
        factors = (self._patient_factors(batch, y)
                   if stage == "train" and self.hparams.get("patient_balance", 0.0) > 0
                   else None)  # fmt: skip
        # A model of the beat sequence returns (batch, beats, classes); beats without a
        # class (label -1: unlabelled, or padding after a record's end) are not scored.
        logits, y = logits.reshape(-1, logits.shape[-1]), y.reshape(-1)
        scored = y >= 0
        if factors is not None:
            y_scored = y[scored]
            per_beat = F.cross_entropy(
                logits[scored], y_scored, weight=self.loss_weights, reduction="none",
                label_smoothing=self.hparams["label_smoothing"])
            f = factors.reshape(-1)[scored]
            # Normalised as cross-entropy's weighted mean: with every factor 1 it is that.
            loss = (per_beat * f).sum() / (self.loss_weights[y_scored] * f).sum().clamp(
                min=1e-12)
        elif self.hparams.get("focal_gamma", 0.0) > 0:
            loss = focal_loss(logits[scored], y[scored], self.loss_weights,
                              self.hparams["focal_gamma"])
        else:
            loss = F.cross_entropy(
                logits, y, weight=self.loss_weights, ignore_index=-1,
                label_smoothing=self.hparams["label_smoothing"],
            )
        if stage == "train" and self._teachers:
            d = self.distillation
            target = teacher_proba(self._teachers, x, feats, d.temperature)
            target = target.reshape(-1, target.shape[-1])[scored]
            kd = distillation_loss(logits[scored], target, d.temperature)
            self.log("train/distill_loss", kd, batch_size=int(scored.sum()), sync_dist=True)
            loss = (1.0 - d.weight) * loss + d.weight * kd
        if forecast is not None:
            self.log("train/forecast_loss", forecast, batch_size=int(scored.sum()),
                     sync_dist=True)
            loss = loss + self.hparams["rhythm_forecast"] * forecast
        if adversary is not None:
            self.log("train/adversary_loss", adversary, batch_size=int(scored.sum()),
                     sync_dist=True)
            loss = loss + self.hparams["patient_adversary"] * adversary
        metrics.update(logits.detach()[scored], y[scored])
        self.log(f"{stage}/loss", loss, prog_bar=True, batch_size=int(scored.sum()),
                 sync_dist=True)
        return loss

    def _log_metrics(self, metrics: MetricCollection) -> None:
        values = metrics.compute()
        flat: dict[str, torch.Tensor] = {}
        for name, value in values.items():
            if value.ndim == 0:
                flat[name] = value
            else:  # per-class recall / precision
                for cls, v in zip(self.classes, value, strict=True):
                    flat[f"{name}_{cls}"] = v
        key = self.hparams["key_classes"]
        if key and "f1" in {n.split("/")[-1] for n in values}:
            prefix = next(iter(values)).rsplit("/", 1)[0]
            flat[f"{prefix}/key_f1"] = torch.stack([flat[f"{prefix}/f1_{c}"] for c in key]).mean()
        prog = {k for k in flat if k.endswith(("macro_f1", "balanced_accuracy", "key_f1"))}
        self.log_dict({k: v for k, v in flat.items() if k in prog}, prog_bar=True, sync_dist=True)
        self.log_dict({k: v for k, v in flat.items() if k not in prog}, sync_dist=True)
        metrics.reset()

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        """The training loss of one batch, as configured (see the class docstring)."""
        return self._step(batch, self.train_metrics, "train")

    def on_train_epoch_end(self) -> None:
        """Log the epoch's training metrics (per-class Se/+P, key F1)."""
        self._log_metrics(self.train_metrics)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        """Accumulate the validation metrics of one batch."""
        self._step(batch, self.val_metrics, "val")

    def on_validation_epoch_end(self) -> None:
        """Log the validation metrics."""
        self._log_metrics(self.val_metrics)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        """Accumulate the test metrics of one batch."""
        self._step(batch, self.test_metrics, "test")

    def on_test_epoch_end(self) -> None:
        """Log the test metrics."""
        self._log_metrics(self.test_metrics)

    def predict_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        """Class probabilities ``(batch, n_outputs)``."""
        x, feats, _ = split_batch(batch) if not torch.is_tensor(batch) else (batch, None, None)
        return torch.softmax(self(x, feats), dim=-1)

    def _patient_factors(self, batch: Batch, y: torch.Tensor) -> torch.Tensor:
        """Each beat's ``patient_balance`` factor, shaped like ``y`` (runs, beats)."""
        patients = _run_patients(batch, "model.patient_balance")
        rows = patients.reshape(-1, *([1] * (y.ndim - 1))).expand_as(y)
        return self.patient_factors[rows, y.clamp(min=0)]

    def _progress(self) -> float:
        """Share of the training's optimizer steps done (0 outside a trainer)."""
        if not self._trainer:
            return 0.0
        total = self.trainer.estimated_stepping_batches
        if not math.isfinite(total) or total <= 0:
            return 0.0
        return self.global_step / float(total)

    def configure_optimizers(self) -> dict[str, Any]:
        """AdamW with linear warm-up then cosine decay over ``max_epochs``."""
        opt = torch.optim.AdamW(
            self.parameters(), lr=self.hparams["lr"], weight_decay=self.hparams["weight_decay"]
        )
        max_epochs = int(self.trainer.max_epochs or 1) if self._trainer else 1
        max_epochs = max(1, max_epochs)
        warm = min(self.hparams["warmup_epochs"], max_epochs - 1)
        if self.hparams.get("schedule", "epoch") == "step":
            total = max(1, int(self.trainer.estimated_stepping_batches)) if self._trainer else 1
            per_epoch = max(1, total // max_epochs)
            # Progress reaches 1 at the last step: the final weights see the floor rate.
            factor = _warmup_cosine(warm * per_epoch, total - 1)
            sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
        sched = torch.optim.lr_scheduler.LambdaLR(opt, _warmup_cosine(warm, max_epochs))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}


def _build_model(model_name: str, kwargs: dict[str, Any]) -> nn.Module:
    """The registered network; a ``model_kwargs`` key its builder does not take is named."""
    try:
        return create_model(model_name, **kwargs)
    except TypeError as e:
        found = re.search(r"unexpected keyword argument '(\w+)'", str(e))
        if found is None or found.group(1) not in kwargs:
            raise
        raise CardioLiquidError(
            f"model_kwargs: {found.group(1)!r} is not an argument of model {model_name!r} "
            f"({e})") from e


def _warmup_cosine(warmup: int, total: int):
    def factor(epoch: int) -> float:
        if epoch < warmup:
            return (epoch + 1) / (warmup + 1)
        progress = (epoch - warmup) / max(1, total - warmup)
        return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def _patient_adversary(model: nn.Module, capacity: int) -> PatientAdversary:
    if not getattr(model, "beat_sequence", False) or not hasattr(model, "n_morphology"):
        raise ValueError("patient_adversary needs a model of the beat sequence "
                         "(liquid-rhythm-cfc and its peers)")
    return PatientAdversary(int(model.n_morphology), int(capacity))


def _train_patients(dm: Any, option: str) -> int:
    """The training patients a DataModule's runs name; ``option`` needs them."""
    n = getattr(dm, "n_train_patients", None)
    if n is None:
        raise CardioLiquidError(
            f"{option} needs each training run's patient: use "
            "BeatSequenceDataModule with data.init_args.patient_labels: true")
    return n


def _run_patients(batch: Batch, option: str = "model.patient_adversary") -> torch.Tensor:
    """The patient index of each run: the fourth item of a training batch."""
    if isinstance(batch, dict) or len(batch) != 4:
        raise CardioLiquidError(
            f"{option} needs each training run's patient: set "
            "data.init_args.patient_labels: true")
    return batch[3]
