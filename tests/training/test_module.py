"""LiquidClassifierModule: fits synthetic data, logs metrics, checkpoints load safely."""

from __future__ import annotations

import itertools

import lightning as L
import pytest
import torch

from cardioliquid.models.checkpoint import load_model
from cardioliquid.training.datamodules import SyntheticDataModule
from cardioliquid.training.module import LiquidClassifierModule


def _module(dm: SyntheticDataModule, model_name: str, **kw) -> LiquidClassifierModule:
    return LiquidClassifierModule(
        model_name, {"units": 12}, n_chans=dm.n_chans, n_outputs=dm.n_outputs,
        n_times=dm.n_times, sfreq=dm.sfreq, n_features=dm.n_features,
        preprocessing=dm.preprocessing_dict, lr=1e-2, **kw,
    )


def _trainer(tmp_path, epochs: int = 3, **kw) -> L.Trainer:
    return L.Trainer(
        max_epochs=epochs, accelerator="cpu", devices=1, deterministic=True,
        default_root_dir=tmp_path, enable_progress_bar=False, logger=False,
        enable_model_summary=False, **kw,
    )


def test_fit_learns_synthetic_classes_and_logs_metrics(tmp_path, model_name):
    L.seed_everything(0)
    dm = SyntheticDataModule(n_train=384, n_val=96, n_classes=3, noise=0.2)
    module = _module(dm, model_name)
    trainer = _trainer(tmp_path, epochs=6)
    trainer.fit(module, dm)
    m = trainer.callback_metrics
    for key in ("val/macro_f1", "val/balanced_accuracy", "val/recall_S", "val/precision_V"):
        assert key in m
    # Three well-separated bumps: far above the 1/3 chance level.
    assert float(m["val/balanced_accuracy"]) > 0.6
    # Balanced weights were taken from the training labels (mean 1 over classes).
    assert torch.isclose(module.loss_weights.mean(), torch.tensor(1.0), atol=1e-5)


def test_checkpoint_round_trip_with_weights_only(tmp_path, model_name):
    L.seed_everything(0)
    dm = SyntheticDataModule(n_train=64, n_val=32, n_classes=3)
    module = _module(dm, model_name)
    trainer = _trainer(tmp_path, epochs=1)
    trainer.fit(module, dm)
    ckpt = tmp_path / "m.ckpt"
    trainer.save_checkpoint(ckpt)
    # The file must load with the safe unpickler, through the shared loader.
    raw = torch.load(ckpt, weights_only=True)
    assert raw["hyper_parameters"]["model_name"] == model_name
    loaded = load_model(ckpt)
    assert loaded.task == "arrhythmia"
    assert loaded.classes == ["N", "S", "V"]
    assert loaded.model_kwargs["n_outputs"] == 3
    dm.setup("fit")
    x, f, _ = dm.val_set[:4]
    module.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x, f), module(x, f))


def test_contradicting_shape_is_rejected(model_name):
    with pytest.raises(ValueError, match="contradicts the data"):
        LiquidClassifierModule(model_name, {"n_chans": 2}, n_chans=1, n_outputs=2, n_times=10)
    with pytest.raises(ValueError, match="link them from the data"):
        LiquidClassifierModule(model_name, {})
    with pytest.raises(ValueError, match="class_weights"):
        LiquidClassifierModule(model_name, {}, 1, 2, 10, class_weights="inverse")


def test_step_schedule_warms_up_then_anneals_to_the_floor_by_the_last_step(tmp_path, model_name):
    from lightning.pytorch.callbacks import Callback

    class RecordLR(Callback):
        def __init__(self):
            self.lrs = []

        def on_train_batch_start(self, trainer, *args):
            self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])

    L.seed_everything(0)
    dm = SyntheticDataModule(n_train=128, n_val=32, n_classes=3)
    rec = RecordLR()
    trainer = _trainer(tmp_path, epochs=3, callbacks=[rec], limit_val_batches=0)
    trainer.fit(_module(dm, model_name, schedule="step", warmup_epochs=1), dm)
    lrs = rec.lrs
    assert len(lrs) == 12  # 4 steps per epoch, a new rate at every one
    assert lrs[0] < lrs[1] < lrs[2] < lrs[3] < lrs[4]  # warm-up over the first epoch
    assert lrs[4] == pytest.approx(1e-2)
    assert all(a > b for a, b in itertools.pairwise(lrs[4:]))  # cosine decay
    assert lrs[-1] == pytest.approx(0.05 * 1e-2)  # the last step trains at the floor
    with pytest.raises(ValueError, match="schedule"):
        _module(dm, model_name, schedule="hourly")


def test_fit_sets_the_fixed_feature_statistics_from_the_training_set(tmp_path, model_name):
    L.seed_everything(0)
    dm = SyntheticDataModule(n_train=96, n_val=32, n_classes=3, n_features=2)
    module = LiquidClassifierModule(
        model_name, {"units": 12, "feature_stats": "fixed"}, n_chans=dm.n_chans,
        n_outputs=dm.n_outputs, n_times=dm.n_times, sfreq=dm.sfreq, n_features=dm.n_features,
        preprocessing=dm.preprocessing_dict, lr=1e-2,
    )
    norm = module.model.feature_norm
    assert not norm.fitted
    _trainer(tmp_path, epochs=1).fit(module, dm)
    train = dm.train_features()
    assert bool(norm.fitted)
    torch.testing.assert_close(norm.center, train.median(dim=0).values, atol=0.05, rtol=0)


def test_focal_loss_trains_and_refuses_to_mix_with_label_smoothing(tmp_path, model_name):
    dm = SyntheticDataModule(n_train=64, n_val=32, n_classes=3)
    with pytest.raises(ValueError, match="two different losses"):
        _module(dm, model_name, focal_gamma=2.0, label_smoothing=0.1)
    with pytest.raises(ValueError, match="focal_gamma must be >= 0"):
        _module(dm, model_name, focal_gamma=-1.0)
    L.seed_everything(0)
    module = _module(dm, model_name, focal_gamma=2.0)
    trainer = _trainer(tmp_path, epochs=1)
    trainer.fit(module, dm)
    assert torch.isfinite(trainer.callback_metrics["train/loss"])


def test_rhythm_forecast_trains_the_state_and_stays_out_of_the_model():
    from cardioliquid.training.losses import rhythm_forecast_loss

    kw = dict(n_chans=1, n_outputs=5, n_times=126, sfreq=180.0, n_features=12)
    model_kwargs = {"units": 16, "motor_neurons": 5, "timespan_feature": 6}
    with pytest.raises(ValueError, match="must be >= 0"):
        LiquidClassifierModule("liquid-rhythm-cfc", model_kwargs, rhythm_forecast=-1.0, **kw)
    with pytest.raises(ValueError, match="model of the beat sequence"):
        LiquidClassifierModule("liquid-cfc", {"units": 12}, rhythm_forecast=0.3, **kw)
    torch.manual_seed(0)
    module = LiquidClassifierModule("liquid-rhythm-cfc", model_kwargs, rhythm_forecast=0.3,
                                    class_weights=None, **kw)
    plain = LiquidClassifierModule("liquid-rhythm-cfc", model_kwargs, class_weights=None, **kw)
    # The read-out is the module's, not the network's: exported files do not change.
    assert set(module.model.state_dict()) == set(plain.model.state_dict())
    assert module.forecast_head.in_features == 16  # every neuron's state
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 32, 1, 126, generator=g)
    feats = torch.rand(4, 32, 12, generator=g) + 0.4
    y = torch.randint(0, 5, (4, 32), generator=g)
    module.train()
    _, _, states = module.model.forward_stateful(x, feats)
    forecast = rhythm_forecast_loss(module.forecast_head, states, feats, y, 6)
    forecast.backward()
    # The forecast's gradient reaches the liquid cell and the encoder, not the class head.
    assert module.forecast_head.weight.grad.abs().sum() > 0
    cell = [p.grad for p in module.model.rnn.parameters() if p.grad is not None]
    assert cell and sum(float(g.abs().sum()) for g in cell) > 0
    assert module.model.front[0].weight.grad.abs().sum() > 0
    assert module.model.head.weight.grad is None
    module.zero_grad()
    torch.manual_seed(2)
    total = module.training_step((x, feats, y), 0)
    torch.manual_seed(2)
    plain.load_state_dict(module.state_dict(), strict=False)
    plain.train()
    ce = plain.training_step((x, feats, y), 0)
    assert float(total) > float(ce)  # the training loss carries the forecast's share
