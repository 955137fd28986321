"""Knowledge distillation: a compact student learns from the averaged beliefs of teachers.

A model trained on a few dozen patients is confidently wrong on some beats of a
new patient; an ensemble of models is less so (its members err on different
beats), but an ensemble costs its size in every beat decision. Distillation
(Hinton et al. 2015) keeps the shipped size: the student trains on the labels
*and* on the teachers' mean class probabilities, which say how ambiguous each
training beat is. Teachers are used during training only; the exported file
holds the student alone.

A teacher is a model file (``.safetensors``/``.ckpt``, loaded safely) or a
training recipe (a ``cardioliquid-train`` YAML config), whose ``model:`` block
is trained first on the student's own datamodule, for the student's number of
epochs, with its own seed (``seed + 1000 * (i + 1)``): so a distilled recipe is
one command, and in cross-validation its teachers never see the held-out fold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
import yaml
from torch import Tensor, nn

from cardioliquid._check import check_positive
from cardioliquid.errors import CardioLiquidError

MODEL_SUFFIXES = (".safetensors", ".ckpt")
CONFIG_SUFFIXES = (".yaml", ".yml")
TEACHER_SEED_STEP = 1000
"""Teacher ``i`` trains with seed ``seed + TEACHER_SEED_STEP * (i + 1)``."""


@dataclass(frozen=True)
class Distillation:
    """How a student learns from its teachers.

    Parameters
    ----------
    teachers : list of str
        Model files or training configs (see the module docstring).
    weight : float
        Share of the distillation term in the loss, in [0, 1]:
        ``(1 - weight) * cross-entropy(labels) + weight * T² * KL(teachers || student)``.
    temperature : float
        Softmax temperature ``T`` of both sides of the KL term (> 0); above 1 the
        teachers' second choices weigh more.
    """

    teachers: list[str] = field(default_factory=list)
    weight: float = 0.5
    temperature: float = 2.0

    def __post_init__(self) -> None:
        if not self.teachers:
            raise ValueError("distillation needs at least one teacher")
        bad = [t for t in self.teachers
               if not str(t).endswith(MODEL_SUFFIXES + CONFIG_SUFFIXES)]
        if bad:
            raise ValueError(f"a teacher is a model file ({', '.join(MODEL_SUFFIXES)}) or a "
                             f"training config ({', '.join(CONFIG_SUFFIXES)}); got {bad}")
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError(f"distillation weight must be in [0, 1], got {self.weight}")
        check_positive("temperature", self.temperature)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Distillation:
        """From the module's ``distill`` hyperparameter (unknown keys are an error)."""
        unknown = sorted(set(values) - {"teachers", "weight", "temperature"})
        if unknown:
            raise ValueError(f"unknown distillation settings {unknown}; expected teachers, "
                             "weight, temperature")
        return cls(**{**values, "teachers": [str(t) for t in values.get("teachers", [])]})


def distillation_loss(student_logits: Tensor, teacher_proba: Tensor, temperature: float) -> Tensor:
    """``T² · KL(teachers || student)`` at temperature ``T``, mean over rows.

    Parameters
    ----------
    student_logits : Tensor
        ``(n, classes)`` logits of the scored beats.
    teacher_proba : Tensor
        ``(n, classes)`` the teachers' mean probabilities at temperature ``T``.
    temperature : float
        ``T``; the ``T²`` factor keeps the gradient's scale independent of it.
    """
    if student_logits.shape[0] == 0:
        return student_logits.sum() * 0.0
    log_student = F.log_softmax(student_logits / temperature, dim=-1)
    kl = F.kl_div(log_student, teacher_proba, reduction="batchmean")
    return kl * temperature**2


@torch.no_grad()
def teacher_proba(teachers: list[nn.Module], x: Tensor, features: Tensor | None,
                  temperature: float) -> Tensor:
    """The teachers' mean class probabilities at ``temperature`` (same shape as their logits)."""
    probs = [torch.softmax(t(x, features) / temperature, dim=-1) for t in teachers]
    return torch.stack(probs).mean(0)


def _model_block(config: Path) -> dict[str, Any]:
    try:
        cfg = yaml.safe_load(config.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CardioLiquidError(f"{config}: cannot read this teacher config ({exc})") from exc
    block = (cfg or {}).get("model") if isinstance(cfg, dict) else None
    if not isinstance(block, dict):
        raise CardioLiquidError(f"{config}: a teacher config needs a model: block")
    block = dict(block.get("init_args", block))
    # The teacher's own teachers are not trained again (one level of distillation).
    block.pop("distill", None)
    return block


def fit_teacher(config: str | Path, datamodule: L.LightningDataModule, epochs: int,
                seed: int, module_class: type[L.LightningModule]) -> nn.Module:
    """Train the ``model:`` block of ``config`` on ``datamodule``; the frozen network.

    Parameters
    ----------
    config : path
        A ``cardioliquid-train`` config; only its ``model:`` block is read (the data,
        augmentation and sampling are the student's).
    datamodule : LightningDataModule
        The student's datamodule (shapes and preprocessing are linked from it, as
        ``cardioliquid-train`` links them).
    epochs, seed : int
        Training epochs and the teacher's seed.
    module_class : type
        The LightningModule that trains it (the student's own class, whose
        arguments the ``model:`` block holds).

    Notes
    -----
    Teachers train on the CPU, deterministically, as every shipped recipe does;
    for teachers trained elsewhere (a GPU, more epochs), export them and list
    the model files instead.
    """
    path = Path(config)
    if not path.is_file():
        raise CardioLiquidError(f"{path}: teacher config not found (paths are relative to "
                                "the working directory)")
    block = _model_block(path)
    L.seed_everything(seed, verbose=False)
    dm = datamodule
    module = module_class(
        **block, n_chans=dm.n_chans, n_outputs=dm.n_outputs, n_times=dm.n_times,
        sfreq=dm.sfreq, n_features=dm.n_features, preprocessing=dm.preprocessing_dict,
    )
    trainer = L.Trainer(
        max_epochs=int(epochs), accelerator="cpu", devices=1, deterministic=True, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0, limit_val_batches=0,
    )
    trainer.fit(module, dm)
    return _frozen(module.model)


def load_teacher(path: str | Path) -> nn.Module:
    """A teacher from a model file (safe loading: safetensors or a weights-only checkpoint)."""
    from cardioliquid.models.checkpoint import load_model

    return _frozen(load_model(path).model)


def _frozen(model: nn.Module) -> nn.Module:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def prepare_teachers(module: Any, datamodule: L.LightningDataModule, epochs: int,
                     seed: int | bool | None) -> list[nn.Module]:
    """Load or train ``module``'s teachers and hand them to it (before ``trainer.fit``).

    Does nothing for a module without a ``distill`` setting. ``seed`` is the
    student's (a run's ``seed_everything``; anything but an int counts as 0):
    teacher ``i`` trains with ``seed + 1000 * (i + 1)``, and every random
    generator is re-seeded with ``seed`` afterwards, so the student's run
    depends on its seed alone.
    """
    settings = module.distillation
    if settings is None:
        return []
    seed = seed if isinstance(seed, int) and not isinstance(seed, bool) else 0
    teachers = []
    for i, spec in enumerate(settings.teachers):
        if spec.endswith(MODEL_SUFFIXES):
            teachers.append(load_teacher(spec))
        else:
            teachers.append(fit_teacher(spec, datamodule, epochs,
                                        seed + TEACHER_SEED_STEP * (i + 1), type(module)))
    L.seed_everything(seed, verbose=False)
    module.set_teachers(teachers)
    return teachers
