"""A model that stacks two leads in its beat windows scores alike in batch, stream and fused."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from cardioliquid.decision.settings import DecisionSettings
from cardioliquid.io.recording import Recording
from cardioliquid.scoring.beats import (
    fusion_partners,
    model_beat_windows,
    predict_beats,
    score_beat_segment,
    stacked_partners,
)


def _two_leads(rec: Recording, second: np.ndarray | None = None) -> Recording:
    v1 = -0.6 * rec.signal[0] if second is None else second
    return replace(rec, signal=np.stack([rec.signal[0], v1]).astype(np.float32),
                   channel_names=["MLII", "V1"])


@pytest.fixture
def stacked():
    from scoring_helpers import make_rhythm_model

    return make_rhythm_model(stack_leads=2)


def test_a_stacked_model_reads_both_leads_at_once(ecg_rec, stacked):
    rec = _two_leads(ecg_rec)
    pred = predict_beats(rec, stacked, beats="reference")
    windows, _ = model_beat_windows(rec, stacked)
    assert windows.x.shape[1] == 2 and pred.lead == "MLII+V1"
    # The second channel matters: another second lead, other probabilities.
    other = predict_beats(_two_leads(ecg_rec, 0.3 * ecg_rec.signal[0] ** 2), stacked,
                          beats="reference")
    np.testing.assert_array_equal(other.sample, pred.sample)
    assert not np.allclose(other.proba, pred.proba, atol=1e-4)


def test_fusing_a_stacked_model_averages_both_lead_orders(ecg_rec, stacked):
    rec = _two_leads(ecg_rec)
    fused = replace(stacked, preprocessing=replace(stacked.preprocessing, fuse_leads=2))
    [partner] = fusion_partners(rec, fused)
    assert partner.preprocessing.lead_preference == ["V1", "MLII"]
    first = predict_beats(rec, stacked, beats="reference")
    swapped = predict_beats(rec, partner, beats="reference")
    both = predict_beats(rec, fused, beats="reference")
    np.testing.assert_allclose(both.proba, (first.proba + swapped.proba) / 2, atol=1e-6)


@pytest.mark.parametrize("beats", ["reference", "detect"])
def test_stacked_stream_equals_stacked_batch(ecg_rec, stacked, beats):
    from scoring_helpers import assert_stream_equals_batch

    _, batch = assert_stream_equals_batch(_two_leads(ecg_rec), stacked, 3.3, beats=beats,
                                          segment_s=10.0)
    assert len(batch) > 20


def test_the_gate_reads_the_stacked_leads_atrial_consistency():
    from scoring_helpers import make_rhythm_model, synthetic_ecg

    rec = synthetic_ecg(60.0, p_waves=True, af_from_s=30.0)
    t = np.arange(rec.n_samples) / rec.fs
    v1 = 0.02 * np.random.default_rng(1).standard_normal(rec.n_samples)
    for beat in rec.beats.sample / rec.fs:  # a P wave before every beat on V1
        v1 += 0.8 * np.exp(-0.5 * ((t - beat) / 0.015) ** 2)
        v1 += 0.2 * np.exp(-0.5 * ((t - beat + 0.16) / 0.02) ** 2)
    rec, ref = _two_leads(rec, v1), rec.beats.sample

    def gated(atrial_leads: str):
        model = make_rhythm_model(stack_leads=2)
        return replace(model, decision=DecisionSettings(af_gate=True, af_gate_rule="atrial",
                                                        atrial_leads=atrial_leads))

    [v1_model] = stacked_partners(rec, gated("max"))
    per_lead = [model_beat_windows(replace(rec, beats=None), m, ref, atrial=True)[1]
                for m in (gated("first"), v1_model)]
    a_first = score_beat_segment(rec, gated("first"), None, ref)[3]
    a_max = score_beat_segment(rec, gated("max"), None, ref)[3]
    np.testing.assert_allclose(a_first, per_lead[0])
    np.testing.assert_allclose(a_max, np.fmax(*per_lead))
    assert (a_max > a_first + 0.2).any()


def test_stack_leads_is_saved_with_the_model(tmp_path, stacked):
    from scoring_helpers import save_loaded

    from cardioliquid.models.checkpoint import load_model

    loaded = load_model(save_loaded(stacked, tmp_path / "stacked.safetensors"))
    assert loaded.preprocessing.stack_leads == 2 and loaded.model_kwargs["n_chans"] == 2
