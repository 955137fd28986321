"""A model that fuses leads averages its per-lead probabilities, in batch and stream alike."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from cardioliquid.errors import RecordingError
from cardioliquid.io.recording import Recording
from cardioliquid.scoring.beats import fusion_partners, predict_beats
from cardioliquid.signal.config import BeatPreprocessing, preprocessing_from_dict


def _two_leads(rec: Recording, second: np.ndarray | None = None) -> Recording:
    """``rec`` with a second lead, V1: an inverted, smaller copy of MLII unless given."""
    v1 = -0.6 * rec.signal[0] if second is None else second
    return replace(rec, signal=np.stack([rec.signal[0], v1]).astype(np.float32),
                   channel_names=["MLII", "V1"])


def _fusing(loaded, n: int = 2):
    return replace(loaded, preprocessing=replace(loaded.preprocessing, fuse_leads=n))


@pytest.fixture(params=["beat", "rhythm"])
def model(request):
    from scoring_helpers import make_ecg_model, make_rhythm_model

    return make_ecg_model() if request.param == "beat" else make_rhythm_model()


def test_fused_probabilities_are_the_mean_of_each_lead(ecg_rec, model):
    rec = _two_leads(ecg_rec)
    first = predict_beats(rec, model, beats="reference")
    second = predict_beats(rec, model.reading_leads(["V1"]), beats="reference")
    fused = predict_beats(rec, _fusing(model), beats="reference")
    assert not np.allclose(first.proba, second.proba, atol=1e-3)  # the leads disagree
    np.testing.assert_array_equal(fused.sample, first.sample)
    np.testing.assert_allclose(fused.proba, (first.proba + second.proba) / 2, atol=1e-6)
    assert (first.lead, second.lead, fused.lead) == ("MLII", "V1", "MLII+V1")


def test_detected_beats_are_the_first_leads_on_every_lead(ecg_rec, model):
    rec = _two_leads(ecg_rec)
    first = predict_beats(rec, model, beats="detect")
    fused = predict_beats(rec, _fusing(model), beats="detect")
    np.testing.assert_array_equal(fused.sample, first.sample)
    assert len(fused) > 20 and not np.allclose(fused.proba, first.proba, atol=1e-3)


def test_a_lead_without_signal_drops_out(ecg_rec, model):
    flat = np.full(ecg_rec.n_samples, np.nan, dtype=np.float32)
    rec = _two_leads(ecg_rec, flat)
    first = predict_beats(rec, model, beats="reference")
    fused = predict_beats(rec, _fusing(model), beats="reference")
    np.testing.assert_allclose(fused.proba, first.proba, atol=1e-6)
    assert (fused.lead, fused.leads_off) == ("MLII", ("V1",))  # said, not silent


def test_a_first_lead_off_throughout_gives_way_to_the_next(ecg_rec, model):
    """A flat MLII failed the record ("no usable signal in lead MLII") though V1 was fine."""
    rec = _two_leads(ecg_rec)
    rec.signal[0] = 0.0  # lead off for the whole record
    for loaded in (model, _fusing(model)):
        got = predict_beats(rec, loaded, beats="reference")
        alone = predict_beats(rec, model.reading_leads(["V1"]), beats="reference")
        np.testing.assert_allclose(got.proba, alone.proba, atol=1e-6)
        assert (got.lead, got.leads_off) == ("V1", ("MLII",))
    rec.signal[1] = np.nan  # no lead left: the first is named
    with pytest.raises(RecordingError, match="no usable signal in lead MLII"):
        predict_beats(rec, _fusing(model), beats="reference")


def test_a_gap_in_one_lead_leaves_the_other_leads_call(ecg_rec):
    from scoring_helpers import make_ecg_model

    model = make_ecg_model()
    second = -0.6 * ecg_rec.signal[0].copy()
    second[int(10 * ecg_rec.fs):int(14 * ecg_rec.fs)] = np.nan
    rec = _two_leads(ecg_rec, second)
    first = predict_beats(rec, model, beats="reference")
    fused = predict_beats(rec, _fusing(model), beats="reference")
    in_gap = (fused.sample > 10.5 * ecg_rec.fs) & (fused.sample < 13.5 * ecg_rec.fs)
    assert in_gap.sum() >= 3
    np.testing.assert_allclose(fused.proba[in_gap], first.proba[in_gap], atol=1e-6)
    assert not np.allclose(fused.proba[~in_gap], first.proba[~in_gap], atol=1e-3)


def test_a_single_lead_recording_is_scored_on_it_alone(ecg_rec, model):
    assert fusion_partners(ecg_rec, _fusing(model)) == []
    np.testing.assert_array_equal(predict_beats(ecg_rec, _fusing(model)).proba,
                                  predict_beats(ecg_rec, model).proba)


@pytest.mark.parametrize("beats", ["reference", "detect"])
def test_fused_stream_equals_fused_batch(ecg_rec, model, beats):
    from scoring_helpers import assert_stream_equals_batch

    _, batch = assert_stream_equals_batch(_two_leads(ecg_rec), _fusing(model), 3.3, beats=beats,
                                          segment_s=10.0)
    assert len(batch) > 20


def test_fuse_leads_is_saved_with_the_model(tmp_path, ecg_model):
    from scoring_helpers import save_loaded

    from cardioliquid.models.checkpoint import load_model

    path = save_loaded(_fusing(ecg_model), tmp_path / "fused.safetensors")
    assert load_model(path).preprocessing.fuse_leads == 2
    old = BeatPreprocessing().to_dict()
    del old["fuse_leads"]  # a file written before lead fusion reads one lead
    assert preprocessing_from_dict(old).fuse_leads == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_fuse_leads_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match="fuse_leads"):
        BeatPreprocessing(fuse_leads=bad)


def _gated(loaded, atrial_leads: str):
    from cardioliquid.decision.settings import DecisionSettings

    return replace(_fusing(loaded), decision=DecisionSettings(
        af_gate=True, af_gate_rule="atrial", atrial_leads=atrial_leads))


def test_the_gate_may_read_the_highest_atrial_consistency_of_the_leads():
    from scoring_helpers import make_rhythm_model, synthetic_ecg

    from cardioliquid.scoring.beats import model_beat_windows, score_beat_segment

    rec = synthetic_ecg(60.0, p_waves=True, af_from_s=30.0)
    # V1 shows a P wave before every beat, where MLII's AF has none after 30 s.
    t = np.arange(rec.n_samples) / rec.fs
    v1 = 0.02 * np.random.default_rng(1).standard_normal(rec.n_samples)
    for beat in rec.beats.sample / rec.fs:
        v1 += 0.8 * np.exp(-0.5 * ((t - beat) / 0.015) ** 2)
        v1 += 0.2 * np.exp(-0.5 * ((t - beat + 0.16) / 0.02) ** 2)
    rec = _two_leads(rec, v1)
    ref = rec.beats.sample
    first = _gated(make_rhythm_model(), "first")
    per_lead = [model_beat_windows(replace(rec, beats=None), m, ref, atrial=True)[1]
                for m in (first, first.reading_leads(["V1"]))]
    _, _, _, a_first = score_beat_segment(rec, first, None, ref)
    _, _, _, a_max = score_beat_segment(rec, _gated(make_rhythm_model(), "max"), None, ref)
    np.testing.assert_allclose(a_first, per_lead[0])
    np.testing.assert_allclose(a_max, np.fmax(*per_lead))
    assert (a_max > a_first + 0.2).any()  # V1's P waves where MLII's AF has none


def test_stream_equals_batch_when_the_gate_reads_both_leads(ecg_rec):
    from scoring_helpers import assert_stream_equals_batch, make_rhythm_model, synthetic_ecg

    rec = _two_leads(synthetic_ecg(60.0, p_waves=True, af_from_s=30.0))
    loaded = _gated(make_rhythm_model(), "max")
    streamed, batch = assert_stream_equals_batch(rec, loaded, 2.7, beats="reference",
                                                 segment_s=10.0)
    np.testing.assert_array_equal(streamed.af, batch.af)


def test_atrial_leads_is_checked():
    from cardioliquid.decision.settings import DecisionSettings

    with pytest.raises(ValueError, match="atrial_leads"):
        DecisionSettings(atrial_leads="min")
