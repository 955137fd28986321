"""Training-batch augmentation: windows (gain, wander, noise, shift) and irregular RR context."""

from __future__ import annotations

import pytest
import torch

from cardioliquid.signal.config import BeatPreprocessing
from cardioliquid.signal.windows import beat_feature_names
from cardioliquid.training.augment import (
    Augmentation,
    augment_batch,
    interval_columns,
    irregular_rhythm_features,
    scale_heart_rate,
)


def test_augmentation_keeps_shape_and_changes_values():
    x = torch.zeros(8, 1, 100)
    out = augment_batch(x + 1.0, fs=100.0, scale=0.2, noise=0.05, wander=0.1,
                        generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert not torch.allclose(out, x + 1.0)
    # Gains stay within [1/1.2, 1.2] around the unit signal before noise/wander.
    assert out.mean().abs().item() == pytest.approx(1.0, abs=0.25)
    same = augment_batch(x, fs=100.0, scale=0, noise=0, wander=0)
    assert torch.equal(same, x)


def test_the_augmentation_setting_is_augment_batch_with_its_fields():
    x = torch.randn(16, 2, 64)
    setting = Augmentation(scale=0.3, noise=0.05, wander=0.2, shift=2)
    out = setting.apply(x, 50.0, generator=torch.Generator().manual_seed(3))
    ref = augment_batch(x, 50.0, scale=0.3, noise=0.05, wander=0.2, shift=2,
                        generator=torch.Generator().manual_seed(3))
    assert torch.equal(out, ref)
    assert Augmentation(enabled=False, noise=1.0).apply(x, 50.0) is x


def test_shift_augmentation_moves_a_spike_within_the_limit():
    x = torch.zeros(64, 1, 50)
    x[:, 0, 25] = 1.0
    out = augment_batch(x, fs=100.0, scale=0, noise=0, wander=0, shift=3,
                        generator=torch.Generator().manual_seed(0))
    peaks = out[:, 0].argmax(-1) - 25
    assert peaks.abs().max() <= 3
    assert len(set(peaks.tolist())) > 3  # lags are drawn per example
    assert torch.allclose(out.sum(-1), torch.ones(64, 1))  # shifted, not smeared
    ramp = torch.arange(10.0).view(1, 1, 10)
    edge = augment_batch(ramp, fs=100.0, scale=0, noise=0, wander=0, shift=2,
                         generator=torch.Generator().manual_seed(1))
    assert set(edge.flatten().tolist()) <= set(range(10))  # edges repeat real samples


def test_irregular_rhythm_augmentation_rewrites_normal_beats_consistently():
    names = beat_feature_names(BeatPreprocessing(rr_feature_set="robust", template_features=True))
    n = 4000
    feats = torch.ones(n, len(names))  # a perfectly regular rhythm
    feats[:, names.index("local_median_over_record_median")] = 0.8
    feats[:, names.index("template_corr")] = 0.99
    labels = torch.zeros(n, dtype=torch.long)
    labels[::2] = 1  # half are S: never touched
    gen = torch.Generator().manual_seed(0)
    out = irregular_rhythm_features(feats, labels, names, 0.5, generator=gen)
    changed = (out != feats).any(1)
    assert not changed[labels == 1].any()
    assert 0.4 < changed[labels == 0].float().mean() < 0.6  # half of the N beats
    c = out[changed]
    col = {k: c[:, names.index(k)] for k in names}
    torch.testing.assert_close(col["post_over_pre"],
                               col["post_over_local_median"] / col["pre_over_local_median"])
    torch.testing.assert_close(col["pre_over_record_median"], col["pre_over_local_median"] * 0.8)
    assert ((col["local_rr_mad"] >= 0.08) & (col["local_rr_mad"] <= 0.2)).all()
    assert (col["pre_over_local_median"] < 0.8).float().mean() > 0.1  # "premature" yet N
    assert torch.equal(col["template_corr"], torch.full((len(c),), 0.99))  # morphology kept
    with pytest.raises(ValueError, match="robust"):
        irregular_rhythm_features(feats, labels, ("pre_rr_s",), 0.5)


def test_heart_rate_augmentation_scales_each_runs_intervals_by_one_factor():
    names = beat_feature_names(BeatPreprocessing(rr_feature_set="robust_absolute"))
    cols = interval_columns(names)
    assert [names[i] for i in cols] == ["pre_rr_s", "post_rr_s", "local_rr_median_s"]
    feats = torch.rand(6, 20, len(names)) + 0.5  # 6 runs of 20 beats
    out = scale_heart_rate(feats, cols, 0.3, generator=torch.Generator().manual_seed(0))
    others = [i for i in range(len(names)) if i not in cols]
    assert torch.equal(out[..., others], feats[..., others])  # ratios untouched
    factor = out[..., cols] / feats[..., cols]
    per_run = factor[:, :1, :1]
    torch.testing.assert_close(factor, per_run.expand_as(factor))  # one factor per run
    assert ((per_run >= 1 / 1.3 - 1e-6) & (per_run <= 1.3 + 1e-6)).all()
    assert per_run.std() > 0.01  # and runs differ
    assert scale_heart_rate(feats, cols, 0.0) is feats
    assert scale_heart_rate(feats, [], 0.3) is feats


def test_record_reference_augmentation_moves_only_the_ratios_over_the_record():
    from cardioliquid.training.augment import record_reference_columns, scale_record_reference

    names = beat_feature_names(BeatPreprocessing(rr_feature_set="robust_absolute"))
    cols = record_reference_columns(names)
    assert [names[i] for i in cols] == ["pre_over_record_median",
                                        "local_median_over_record_median"]
    feats = torch.rand(6, 20, len(names)) + 0.5
    out = scale_record_reference(feats, cols, 0.5, generator=torch.Generator().manual_seed(0))
    others = [i for i in range(len(names)) if i not in cols]
    assert torch.equal(out[..., others], feats[..., others])
    factor = out[..., cols] / feats[..., cols]
    per_run = factor[:, :1, :1]
    torch.testing.assert_close(factor, per_run.expand_as(factor))  # one reference per run
    assert ((per_run >= 1 / 1.5 - 1e-6) & (per_run <= 1.5 + 1e-6)).all()
    assert per_run.std() > 0.01
    assert scale_record_reference(feats, cols, 0.0) is feats
    local = beat_feature_names(BeatPreprocessing(rr_feature_set="robust_absolute_local"))
    assert record_reference_columns(local) == []


def test_stretch_keeps_the_r_peak_and_widens_the_beat():
    from cardioliquid.training.augment import log_uniform_factors, stretch_windows

    t, center = 101, 40
    pos = torch.arange(t, dtype=torch.float32)
    beat = torch.exp(-0.5 * ((pos - center) / 4.0) ** 2).view(1, 1, t).repeat(3, 1, 1)
    out = stretch_windows(beat, center, torch.tensor([1.0, 1.25, 0.8]))
    torch.testing.assert_close(out[0], beat[0])  # factor 1: unchanged
    assert (out.argmax(-1) == center).all()  # the R peak stays where it was
    width = (out > 0.5).sum(-1).flatten()  # samples above half height
    assert width[1] > width[0] > width[2]
    f = log_uniform_factors(1000, 0.1, generator=torch.Generator().manual_seed(0))
    assert f.min() >= 1 / 1.1 - 1e-6 and f.max() <= 1.1 + 1e-6 and f.std() > 0.02
