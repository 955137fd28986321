"""Knowledge distillation: the loss, teachers trained from a config, and the CLI path."""

from __future__ import annotations

import lightning as L
import pytest
import torch
import yaml

from cardioliquid.errors import CardioLiquidError
from cardioliquid.models.checkpoint import load_model
from cardioliquid.training.cli import main
from cardioliquid.training.datamodules import SyntheticDataModule
from cardioliquid.training.distill import (
    Distillation,
    distillation_loss,
    prepare_teachers,
    teacher_proba,
)
from cardioliquid.training.module import LiquidClassifierModule


def _module(dm: SyntheticDataModule, model_name: str, **kw) -> LiquidClassifierModule:
    return LiquidClassifierModule(
        model_name, {"units": 12}, n_chans=dm.n_chans, n_outputs=dm.n_outputs,
        n_times=dm.n_times, sfreq=dm.sfreq, n_features=dm.n_features,
        preprocessing=dm.preprocessing_dict, lr=1e-2, **kw,
    )


def _fit(module: LiquidClassifierModule, dm: SyntheticDataModule, tmp_path) -> L.Trainer:
    trainer = L.Trainer(max_epochs=1, accelerator="cpu", devices=1, deterministic=True,
                        default_root_dir=tmp_path, enable_progress_bar=False, logger=False,
                        enable_model_summary=False, enable_checkpointing=False)
    trainer.fit(module, dm)
    return trainer


def test_the_loss_is_zero_only_where_the_student_agrees_with_its_teachers():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0]])
    same = torch.softmax(logits / 2.0, -1)
    assert float(distillation_loss(logits, same, 2.0)) == pytest.approx(0.0, abs=1e-6)
    other = torch.softmax(logits.flip(-1) / 2.0, -1)
    assert float(distillation_loss(logits, other, 2.0)) > 0.1
    # No scored beat: a zero that still has a graph (a run of padding only).
    empty = distillation_loss(logits[:0].requires_grad_(), same[:0], 2.0)
    assert float(empty.detach()) == 0.0 and empty.requires_grad


def test_teacher_probabilities_are_the_mean_of_each_teachers():
    a, b = torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)

    class Wrap(torch.nn.Module):
        def __init__(self, lin):
            super().__init__()
            self.lin = lin

        def forward(self, x, features=None):
            return self.lin(x)

    x = torch.randn(5, 4)
    got = teacher_proba([Wrap(a), Wrap(b)], x, None, 1.0)
    want = (torch.softmax(a(x), -1) + torch.softmax(b(x), -1)) / 2
    torch.testing.assert_close(got, want)
    assert torch.allclose(got.sum(-1), torch.ones(5))


@pytest.mark.parametrize("bad, match", [
    ({"teachers": []}, "at least one teacher"),
    ({"teachers": ["t.pt"]}, "model file"),
    ({"teachers": ["t.yaml"], "weight": 1.5}, r"\[0, 1\]"),
    ({"teachers": ["t.yaml"], "temperature": 0}, "temperature"),
    ({"teachers": ["t.yaml"], "alpha": 0.3}, "unknown distillation settings"),
])
def test_bad_settings_fail_before_training(bad, match):
    with pytest.raises(ValueError, match=match):
        Distillation.from_dict(bad)


def test_a_distilled_recipe_without_prepared_teachers_says_how_to_prepare_them(
        tmp_path, model_name):
    dm = SyntheticDataModule(n_train=32, n_val=16, n_classes=3)
    module = _module(dm, model_name, distill={"teachers": ["t.yaml"]})
    with pytest.raises(CardioLiquidError, match="prepare_teachers"):
        _fit(module, dm, tmp_path)


def test_a_missing_teacher_config_is_named(tmp_path, model_name):
    dm = SyntheticDataModule(n_train=32, n_val=16, n_classes=3)
    missing = tmp_path / "nowhere.yaml"
    module = _module(dm, model_name, distill={"teachers": [str(missing)]})
    with pytest.raises(CardioLiquidError, match=r"nowhere\.yaml: teacher config not found"):
        prepare_teachers(module, dm, epochs=1, seed=0)


def test_teachers_trained_from_a_config_steer_the_student_and_stay_out_of_its_weights(
        tmp_path, model_name, make_config):
    teacher_cfg = make_config(tmp_path, model_name, epochs=1)
    dm = SyntheticDataModule(n_train=96, n_val=32, n_classes=3)
    L.seed_everything(0)
    plain = _module(dm, model_name)
    L.seed_everything(0)
    student = _module(dm, model_name, distill={"teachers": [str(teacher_cfg)] * 2,
                                               "weight": 0.7, "temperature": 2.0})
    torch.testing.assert_close(plain.state_dict(), student.state_dict())  # same start
    teachers = prepare_teachers(student, dm, epochs=1, seed=0)
    assert len(teachers) == 2
    assert all(not p.requires_grad for t in teachers for p in t.parameters())
    # Distinct seeds: two different teachers from one config.
    w0, w1 = (next(iter(t.parameters())) for t in teachers)
    assert not torch.equal(w0, w1)
    L.seed_everything(0)
    _fit(plain, dm, tmp_path)
    L.seed_everything(0)
    trainer = _fit(student, dm, tmp_path)
    assert "train/distill_loss" in trainer.callback_metrics
    assert student.state_dict().keys() == plain.state_dict().keys()  # no teacher inside
    diff = [not torch.equal(a, b) for a, b in zip(plain.state_dict().values(),
                                                  student.state_dict().values(), strict=True)]
    assert any(diff)  # the teachers changed what the student learned


def test_the_cli_trains_the_teachers_and_exports_the_student_alone(tmp_path, model_name,
                                                                 make_config):
    teacher_cfg = make_config(tmp_path, model_name, epochs=1)
    cfg = yaml.safe_load(teacher_cfg.read_text())
    cfg["model"]["distill"] = {"teachers": [str(teacher_cfg)]}
    student_cfg = tmp_path / "student.yaml"
    student_cfg.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "student.safetensors"
    main(["fit", "--config", str(student_cfg), "--export_to", str(out)])
    loaded = load_model(out)
    reference = _module(SyntheticDataModule(n_train=96, n_val=32, n_classes=3), model_name)
    assert set(loaded.model.state_dict()) == set(reference.model.state_dict())
    assert "distill" in loaded.metadata["config"]  # provenance names the teachers
