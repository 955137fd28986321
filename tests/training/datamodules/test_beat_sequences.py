"""Runs of consecutive beats for models of the beat sequence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cardioliquid.data.sequences import chunk_beats
from cardioliquid.training.module import LiquidClassifierModule


def _record(n: int, offset: int = 0):
    x = np.arange(n, dtype=np.float32)[:, None, None] * np.ones((1, 1, 4), np.float32) + offset
    f = np.tile(np.arange(n, dtype=np.float32)[:, None], (1, 3)) + offset
    y = (np.arange(n) % 3).astype(np.int64)
    return x, f, y


def test_runs_keep_beat_order_and_cover_every_beat():
    parts = [_record(10), _record(3, offset=100)]
    x, f, y = chunk_beats(parts, length=4, hop=4).tensors
    assert x.shape == (4, 4, 1, 4) and f.shape == (4, 4, 3) and y.shape == (4, 4)
    # Record 1: runs start at 0, 4 and 6 (the last run ends on the last beat).
    np.testing.assert_array_equal(x[:3, :, 0, 0].numpy(), [[0, 1, 2, 3], [4, 5, 6, 7],
                                                           [6, 7, 8, 9]])
    # Record 2 is shorter than a run: padded with label -1 and its last beat's features.
    np.testing.assert_array_equal(y[3].numpy(), [0, 1, 2, -1])
    np.testing.assert_array_equal(f[3, :, 0].numpy(), [100, 101, 102, 102])
    assert float(x[3, 3].abs().sum()) == 0.0


def test_burn_in_leads_into_each_run_unscored():
    from cardioliquid.signal.config import BeatPreprocessing
    from cardioliquid.training.datamodules import BeatSequenceDataModule, Sampling

    x, f, y = chunk_beats([_record(10)], length=4, hop=4, burn_in=2).tensors
    assert x.shape == (3, 6, 1, 4) and f.shape == (3, 6, 3) and y.shape == (3, 6)
    beats = x[:, :, 0, 0].numpy()
    np.testing.assert_array_equal(f[:, :, 0].numpy()[1:], beats[1:])  # features go along
    # The record's first run has nothing before it: its real beats come first, then padding.
    np.testing.assert_array_equal(beats[0], [0, 1, 2, 3, 0, 0])
    np.testing.assert_array_equal(y[0].numpy(), [0, 1, 2, 0, -1, -1])
    # Later runs: two beats of the record lead in with label -1, then the scored run.
    np.testing.assert_array_equal(beats[1], [2, 3, 4, 5, 6, 7])
    np.testing.assert_array_equal(y[1].numpy(), [-1, -1, 1, 2, 0, 1])
    np.testing.assert_array_equal(beats[2], [4, 5, 6, 7, 8, 9])
    np.testing.assert_array_equal(y[2].numpy(), [-1, -1, 0, 1, 2, 0])
    # Every beat is scored, once per run that scores it, as without the burn-in.
    plain = chunk_beats([_record(10)], length=4, hop=4).tensors[2]
    assert sorted(y[y >= 0].tolist()) == sorted(plain[plain >= 0].tolist())
    with pytest.raises(ValueError, match="burn_in"):
        chunk_beats([_record(5)], length=4, hop=4, burn_in=-1)
    with pytest.raises(ValueError, match="burn_in must be >= 0"):
        BeatSequenceDataModule(preprocessing=BeatPreprocessing(fs=100.0),
                               sampling=Sampling(sampler="shuffle"), burn_in=-1)


def test_runs_carry_their_part_group():
    parts = [_record(10), _record(3, offset=100), _record(5, offset=200)]
    tensors = chunk_beats(parts, length=4, hop=4, groups=[2, 0, 2]).tensors
    assert len(tensors) == 4
    x, _, _, groups = tensors
    # Runs of record 1 (three), record 2 (one), record 3 (two).
    assert groups.tolist() == [2, 2, 2, 0, 2, 2]
    assert x[3, 0, 0, 0] == 100 and x[4, 0, 0, 0] == 200
    with pytest.raises(ValueError, match="one group per part"):
        chunk_beats(parts, length=4, hop=4, groups=[0, 1])


def test_refuses_empty_or_bad_runs():
    with pytest.raises(ValueError, match="length and hop"):
        chunk_beats([_record(5)], length=0, hop=1)
    with pytest.raises(ValueError, match="no beats"):
        chunk_beats([_record(0)], length=4, hop=2)


@pytest.mark.parametrize("name", ["liquid-rhythm-cfc", "liquid-rhythm-ltc", "rhythm-lstm",
                                  "rhythm-gru", "rhythm-cnn"])
def test_module_scores_every_labelled_beat_and_ignores_padding(name):
    """The liquid models and every peer train through the same module and loss."""
    torch.manual_seed(0)
    kwargs = {"units": 12, "timespan_feature": 0}
    if name.startswith("liquid"):
        kwargs["motor_neurons"] = 5
    module = LiquidClassifierModule(
        name, kwargs,
        n_chans=1, n_outputs=5, n_times=126, sfreq=180.0, n_features=3, class_weights=None)
    x = torch.randn(2, 8, 1, 126)
    f = torch.rand(2, 8, 3) + 0.5
    y = torch.randint(0, 5, (2, 8))
    y_pad = y.clone()
    y_pad[1, 6:] = -1
    loss = module._step((x, f, y_pad), module.train_metrics, "train")
    assert torch.isfinite(loss)
    # The padded beats add nothing: the loss is the mean over the labelled ones.
    logits = module(x, f).reshape(-1, 5)
    keep = y_pad.reshape(-1) >= 0
    expected = torch.nn.functional.cross_entropy(logits[keep], y_pad.reshape(-1)[keep])
    torch.testing.assert_close(loss, expected)
    loss.backward()
    # the sequence model itself learns (not only the head)
    grads = [p.grad for p in module.model.rnn.parameters() if p.requires_grad]
    assert grads and any(g is not None and float(g.abs().sum()) > 0 for g in grads)


@pytest.mark.parametrize("field, columns, refused_set", [
    ("heart_rate", "interval_columns", "robust"),
    ("record_reference", "record_reference_columns", "robust_absolute_local"),
])
def test_feature_augmentations_change_only_training_runs_columns(field, columns, refused_set):
    """Heart rate scales the intervals in seconds, record reference the ratios over the
    record: one factor a run, training batches only, refused by an RR set without them."""
    from types import SimpleNamespace

    from cardioliquid.signal.config import BeatPreprocessing
    from cardioliquid.signal.windows import beat_feature_names
    from cardioliquid.training import augment
    from cardioliquid.training.datamodules import BeatSequenceDataModule, Sampling

    setting = augment.Augmentation(scale=0.0, noise=0.0, wander=0.0, **{field: 0.3})
    with pytest.raises(ValueError, match=f"{field}.*rr_feature_set '{refused_set}'"):
        BeatSequenceDataModule(
            preprocessing=BeatPreprocessing(fs=100.0, rr_feature_set=refused_set),
            augmentation=setting, sampling=Sampling(sampler="shuffle"))
    prep = BeatPreprocessing(fs=100.0, rr_feature_set="robust_absolute")
    dm = BeatSequenceDataModule(preprocessing=prep, augmentation=setting,
                                sampling=Sampling(sampler="shuffle"))
    names = beat_feature_names(prep)
    cols = getattr(augment, columns)(names)
    assert len(cols) >= 2
    x = torch.zeros(2, 5, 1, prep.n_times)
    f = torch.rand(2, 5, len(names)) + 0.5
    y = torch.zeros(2, 5, dtype=torch.long)
    dm.trainer = SimpleNamespace(training=True)
    _, got, _ = dm.on_after_batch_transfer((x, f, y), 0)
    ratio = got[..., cols] / f[..., cols]
    assert not torch.allclose(ratio, torch.ones_like(ratio))
    torch.testing.assert_close(ratio, ratio[:, :1, :1].expand_as(ratio))  # one factor a run
    keep = [i for i in range(len(names)) if i not in cols]
    assert torch.equal(got[..., keep], f[..., keep])
    dm.trainer = SimpleNamespace(training=False)
    assert dm.on_after_batch_transfer((x, f, y), 0)[1] is f


def test_stretch_augmentation_gives_each_run_one_beat_width():
    from types import SimpleNamespace

    from cardioliquid.signal.config import BeatPreprocessing
    from cardioliquid.signal.windows import beat_feature_names
    from cardioliquid.training.augment import Augmentation
    from cardioliquid.training.datamodules import BeatSequenceDataModule, Sampling

    prep = BeatPreprocessing(fs=100.0)
    dm = BeatSequenceDataModule(
        preprocessing=prep, sampling=Sampling(sampler="shuffle"),
        augmentation=Augmentation(scale=0.0, noise=0.0, wander=0.0, stretch=0.3))
    t, r = prep.n_times, dm.r_peak_index
    pos = torch.arange(t, dtype=torch.float32)
    beat = torch.exp(-0.5 * ((pos - r) / 3.0) ** 2)
    x = beat.view(1, 1, 1, t).repeat(4, 6, 1, 1)  # 4 runs of 6 identical beats
    f = torch.zeros(4, 6, len(beat_feature_names(prep)))
    dm.trainer = SimpleNamespace(training=True)
    out, _, _ = dm.on_after_batch_transfer((x, f, torch.zeros(4, 6, dtype=torch.long)), 0)
    assert torch.equal(out, out[:, :1].expand_as(out))  # every beat of a run alike
    assert not torch.allclose(out[0], out[1]) or not torch.allclose(out[1], out[2])
    assert (out.argmax(-1) == r).all()
