"""Early lead fusion: several leads stacked as the channels of one beat window."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from cardioliquid.data.cache import cache_key
from cardioliquid.signal.config import BeatPreprocessing
from cardioliquid.signal.windows import beat_windows

PREP = BeatPreprocessing(rr_feature_set="robust_absolute", template_features=True,
                         atrial_features=True)
STACKED = replace(PREP, stack_leads=2)


@pytest.fixture
def two_leads(ecg):
    """The two-lead ECG with a second lead of its own (inverted, other noise)."""
    v1 = -0.5 * ecg.signal[1] + 0.05 * np.random.default_rng(3).standard_normal(ecg.n_samples)
    return replace(ecg, signal=np.stack([ecg.signal[0], v1]).astype(np.float32))


def test_each_channel_is_its_leads_window_at_the_first_leads_beats(two_leads):
    one, stacked = beat_windows(two_leads, PREP), beat_windows(two_leads, STACKED)
    second = beat_windows(two_leads, replace(PREP, lead_preference=["V1"]))
    assert stacked.x.shape == (len(one), 2, PREP.n_times)
    np.testing.assert_array_equal(stacked.x[:, :1], one.x)
    np.testing.assert_array_equal(stacked.x[:, 1:], second.x)
    assert not np.allclose(stacked.x[:, 0], stacked.x[:, 1], atol=0.1)
    # The features, beats and labels stay the first lead's.
    np.testing.assert_array_equal(stacked.features, one.features)
    np.testing.assert_array_equal(stacked.sample, one.sample)
    np.testing.assert_array_equal(stacked.labels, one.labels)
    assert stacked.lead == "MLII"


def test_the_lead_order_follows_lead_preference(two_leads):
    swapped = beat_windows(two_leads, replace(STACKED, lead_preference=["V1", "MLII"]))
    stacked = beat_windows(two_leads, STACKED)
    np.testing.assert_array_equal(swapped.x[:, 0], beat_windows(
        two_leads, replace(PREP, lead_preference=["V1"])).x[:, 0])
    np.testing.assert_array_equal(swapped.x[:, 1], stacked.x[:, 0])


def test_a_missing_lead_repeats_the_first(ecg):
    one_lead = replace(ecg, signal=ecg.signal[:1], channel_names=["MLII"])
    w = beat_windows(one_lead, STACKED)
    np.testing.assert_array_equal(w.x[:, 0], w.x[:, 1])


def test_a_gap_in_the_second_lead_zeroes_only_its_channel(two_leads):
    sig = two_leads.signal.copy()
    lo, hi = int(20 * two_leads.fs), int(24 * two_leads.fs)
    sig[1, lo:hi] = np.nan
    w = beat_windows(replace(two_leads, signal=sig), STACKED)
    in_gap = (w.sample > lo + 0.5 * two_leads.fs) & (w.sample < hi - 0.5 * two_leads.fs)
    assert in_gap.sum() >= 3 and np.isfinite(w.x).all()
    zeroed = (w.x[:, 1] == 0).all(axis=1)
    near = (w.sample > lo - 2 * two_leads.fs) & (w.sample < hi + 2 * two_leads.fs)
    assert zeroed[in_gap].all() and not zeroed[~near].any()  # its window or RR touches it
    assert w.usable.all()  # usability is the first lead's
    np.testing.assert_array_equal(w.x[:, 0], beat_windows(two_leads, PREP).x[:, 0])


@pytest.mark.parametrize("bad", [0, -2, 1.5, True])
def test_stack_leads_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match="stack_leads"):
        BeatPreprocessing(stack_leads=bad)


def test_one_stacked_lead_keeps_earlier_cache_entries(tmp_path):
    path = tmp_path / "rec.hea"
    path.write_text("rec 1 360 10\n")
    before = PREP.to_dict()
    del before["stack_leads"]  # a preprocessing dict from before stacking existed
    assert cache_key(path, before) == cache_key(path, PREP.to_dict())
    assert cache_key(path, STACKED.to_dict()) != cache_key(path, PREP.to_dict())
