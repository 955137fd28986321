"""LiquidClassifierModule: fits synthetic data, logs metrics, checkpoints load safely."""

from __future__ import annotations

import itertools

import lightning as L
import pytest
import torch

from cardioliquid.models.checkpoint import load_model
from cardioliquid.training.datamodules import SyntheticDataModule
from cardioliquid.training.module import LiquidClassifierModule, balanced_weights


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


def test_balanced_weights_favour_rare_classes():
    w = balanced_weights(torch.tensor([900, 90, 10, 0]), power=1.0)
    assert w[3] == 0
    assert w[2] > w[1] > w[0]
    assert torch.isclose(w[:3].mean(), torch.tensor(1.0))
    # power 0 means unweighted
    assert torch.allclose(balanced_weights(torch.tensor([5, 50]), power=0.0), torch.ones(2))


def test_class_weight_cap_bounds_the_rarest_class():
    counts = torch.tensor([45866, 944, 3788, 415, 8])  # DS1's N S V F Q
    free = balanced_weights(counts, power=1.0)
    assert free[4] / free[0] > 5000  # 8 Q beats would dominate the loss
    capped = balanced_weights(counts, power=1.0, max_ratio=20.0)
    ratio = capped / capped[0]
    assert torch.isclose(ratio.max(), torch.tensor(20.0))
    assert torch.isclose(ratio[2], free[2] / free[0])  # V (ratio ~12) is under the cap
    assert torch.isclose(capped.mean(), torch.tensor(1.0))
    with pytest.raises(ValueError, match="max_ratio"):
        balanced_weights(counts, max_ratio=0.0)


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


def test_focal_loss_is_weighted_cross_entropy_at_gamma_zero_and_discounts_easy_beats():
    from cardioliquid.training.module import focal_loss

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(12, 3, generator=g)
    target = torch.randint(0, 3, (12,), generator=g)
    weight = torch.tensor([0.5, 2.0, 1.0])
    torch.testing.assert_close(focal_loss(logits, target, weight, 0.0),
                               torch.nn.functional.cross_entropy(logits, target, weight=weight))
    # A sure, right beat loses almost all its loss; a sure, wrong one keeps almost all of it.
    easy, hard = torch.tensor([[6.0, 0.0, 0.0]]), torch.tensor([[0.0, 6.0, 0.0]])
    zero = torch.tensor([0])
    ones = torch.ones(3)
    assert focal_loss(easy, zero, ones, 2.0) < 1e-3 * focal_loss(easy, zero, ones, 0.0)
    assert focal_loss(hard, zero, ones, 2.0) > 0.99 * focal_loss(hard, zero, ones, 0.0)


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


def test_rhythm_forecast_loss_is_one_minus_r2_over_labelled_pairs():
    from cardioliquid.training.module import FORECAST_AHEAD, rhythm_forecast_loss

    g = torch.Generator().manual_seed(0)
    rr = 0.6 + 0.5 * torch.rand(2, 40, generator=g)
    feats = torch.zeros(2, 40, 3)
    feats[..., 1] = rr
    labels = torch.zeros(2, 40, dtype=torch.long)
    # A state whose first neuron after beat t holds log RR of beat t + 2: a perfect forecast.
    states = torch.zeros(2, 40, 4)
    states[:, :-FORECAST_AHEAD, 0] = rr[:, FORECAST_AHEAD:].log()
    head = torch.nn.Linear(4, 1).requires_grad_(False)
    with torch.no_grad():
        head.weight.zero_()
        head.weight[0, 0] = 1.0
        head.bias.zero_()
    assert float(rhythm_forecast_loss(head, states, feats, labels, column=1)) < 1e-10
    # Knowing only the mean: 1 - R² = 1 (n - 1 over n, from the unbiased variance).
    target = rr[:, FORECAST_AHEAD:].log()
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(float(target.mean()))
    assert abs(float(rhythm_forecast_loss(head, states, feats, labels, column=1)) - 1) < 0.02
    # Padding (label -1) takes no part: changing its interval changes nothing.
    labels[0, 30:] = -1
    before = rhythm_forecast_loss(head, states, feats, labels, column=1)
    feats[0, 30:, 1] = 5.0
    torch.testing.assert_close(rhythm_forecast_loss(head, states, feats, labels, column=1),
                               before)


def test_rhythm_forecast_trains_the_state_and_stays_out_of_the_model():
    from cardioliquid.training.module import rhythm_forecast_loss

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
