"""predict_beats / predict_windows: shapes, beat sources, contract errors, segments, AF gate."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from cardioliquid.errors import ContractError, RecordingError
from cardioliquid.scoring.beats import predict_beats
from cardioliquid.scoring.recording import score_recording
from cardioliquid.scoring.windows import predict_windows


def test_predict_beats_uses_reference_beats(ecg_rec, ecg_model):
    pred = predict_beats(ecg_rec, ecg_model, beats="auto")
    assert pred.beat_source == "reference"
    assert pred.proba.shape == (len(pred), 5)
    np.testing.assert_allclose(pred.proba.sum(1), 1.0, atol=1e-5)
    # every predicted beat is a reference beat, at the recording's rate
    assert set(pred.sample) <= set(ecg_rec.beats.sample)
    assert len(pred) >= len(ecg_rec.beats) - 4  # only beats at the edges may lack a window
    assert set(pred.labels) <= set("NSVFQ")
    assert sum(pred.counts().values()) == len(pred)


def test_predict_beats_detects_without_annotations(ecg_rec, ecg_model):
    pred = predict_beats(replace(ecg_rec, beats=None), ecg_model, beats="auto")
    assert pred.beat_source == "detect"
    # detected R peaks land near the true ones
    ref = ecg_rec.beats.sample
    nearest = np.abs(pred.sample[:, None] - ref[None]).min(1)
    assert len(pred) > 0.8 * len(ref)
    assert np.median(nearest) < 0.05 * ecg_rec.fs


def test_reference_beats_required_when_asked(ecg_rec, ecg_model):
    with pytest.raises(RecordingError, match="expected reference beat annotations"):
        predict_beats(replace(ecg_rec, beats=None), ecg_model, beats="reference")


def test_wrong_modality_is_a_contract_error(eeg_rec, ecg_model):
    with pytest.raises(ContractError, match="expects an ecg recording, got eeg"):
        predict_beats(replace(eeg_rec, source="x/eeg0.edf"), ecg_model)


def test_unusable_rate_names_the_file(ecg_rec, ecg_model):
    slow = replace(ecg_rec, fs=50.0, source="db/slow.hea")
    with pytest.raises(RecordingError, match=r"db/slow.hea: sampling rate too low"):
        predict_beats(slow, ecg_model)


def test_missing_channels_name_the_file(eeg_rec, eeg_model):
    rec = replace(eeg_rec.pick(["FP1-F7", "F7-T7"]), source="eeg/x.edf")
    with pytest.raises(RecordingError, match=r"eeg/x.edf: missing EEG channels"):
        predict_windows(rec, eeg_model)


def test_predict_windows_grid(eeg_rec, eeg_model):
    pred = predict_windows(eeg_rec, eeg_model)
    prep = eeg_model.preprocessing
    n = int((eeg_rec.duration_s - prep.window_s) // prep.hop_s) + 1
    assert len(pred) == n
    np.testing.assert_allclose(np.diff(pred.start_s), prep.hop_s)
    np.testing.assert_allclose(pred.end_s - pred.start_s, prep.window_s)
    assert pred.proba.shape == (n, 2)


@pytest.mark.parametrize("carry", [False, True])
def test_segments_cover_every_window_once(eeg_rec, carry):
    from scoring_helpers import make_eeg_model

    loaded = make_eeg_model(carry_state=carry)
    whole = predict_windows(eeg_rec, loaded)
    seg = predict_windows(eeg_rec, loaded, segment_s=7.0, context_s=10.0)
    np.testing.assert_array_equal(whole.start_s, seg.start_s)
    if not carry:  # local preprocessing: segments with context agree with the whole
        np.testing.assert_allclose(whole.proba, seg.proba, atol=1e-3)


def test_segments_must_follow_the_hop(eeg_rec, eeg_model):
    with pytest.raises(ValueError, match="multiples of the model's hop"):
        predict_windows(eeg_rec, eeg_model, segment_s=2.5)


def test_carried_state_is_passed_from_beat_to_beat(ecg_rec):
    from scoring_helpers import make_ecg_model

    loaded = make_ecg_model(carry_state=True)
    seen, inner = [], loaded.model.forward_stateful

    def spy(x, features=None, hx=None):
        logits, h, states = inner(x, features, hx)
        seen.append((hx, h))
        return logits, h, states

    loaded.model.forward_stateful = spy
    pred = predict_beats(ecg_rec, loaded)
    assert len(seen) == len(pred)  # one window at a time, in time order
    assert seen[0][0] is None
    assert all(nxt[0] is prev[1] for prev, nxt in itertools.pairwise(seen))
    free = predict_beats(ecg_rec, make_ecg_model(carry_state=False))
    np.testing.assert_allclose(free.proba[0], pred.proba[0], atol=1e-5)


def test_score_recording_from_a_file(tmp_path, ecg_rec, ecg_ckpt):
    from scoring_helpers import write_wfdb

    from cardioliquid.io import load_recording
    from cardioliquid.models.checkpoint import load_model

    hea = write_wfdb(ecg_rec, tmp_path / "db")
    pred = score_recording(hea, model=ecg_ckpt)
    direct = predict_beats(ecg_rec, load_model(ecg_ckpt))
    np.testing.assert_array_equal(pred.sample, direct.sample)
    # the file went through 12-bit storage: same classes, close probabilities
    assert list(pred.labels) == list(direct.labels)
    np.testing.assert_allclose(pred.proba, direct.proba, atol=0.05)
    # and exactly what the model makes of the stored recording
    stored = predict_beats(load_recording(hea), load_model(ecg_ckpt))
    np.testing.assert_array_equal(pred.sample, stored.sample)
    np.testing.assert_allclose(pred.proba, stored.proba, rtol=0, atol=1e-6)


def test_eeg_gap_windows_make_no_detection(eeg_rec, eeg_model):
    rec = replace(eeg_rec, signal=eeg_rec.signal.copy())
    fs = int(rec.fs)
    rec.signal[:, 20 * fs: 30 * fs] = np.nan  # a 10 s dropout in every channel
    pred = predict_windows(rec, eeg_model)
    clean = predict_windows(eeg_rec, eeg_model)
    assert len(pred) == len(clean) and np.isfinite(pred.proba).all()
    prep = eeg_model.preprocessing
    touching = (pred.start_s < 30) & (pred.start_s + prep.window_s > 20)
    assert touching.any()
    np.testing.assert_array_equal(pred.proba[touching], [[1.0, 0.0]] * int(touching.sum()))
    # A segment wholly inside the gap is scored (as background), not refused.
    seg = predict_windows(rec, eeg_model, segment_s=4 * prep.hop_s)
    np.testing.assert_array_equal(seg.start_s, pred.start_s)
    np.testing.assert_array_equal(seg.proba[touching], pred.proba[touching])


@pytest.fixture(scope="module")
def af_ecg():
    """Four minutes: about 110 beats of regular rhythm, then AF-like rhythm.

    Ectopic beats are kept rare (3 %): frequent ones make a rhythm irregular too.
    """
    from scoring_helpers import synthetic_ecg

    return synthetic_ecg(duration_s=240.0, seed=3, af_from_s=100.0, ectopic_fraction=0.03)


@pytest.mark.parametrize("segment_s", [None, 10.0])
def test_af_gate_moves_s_to_n_only_in_af_rhythm(af_ecg, segment_s):
    """A model file without a decision section keeps the AF gate its preprocessing named."""
    from scoring_helpers import make_ecg_model

    plain = predict_beats(af_ecg, make_ecg_model(), segment_s=segment_s)
    gated = predict_beats(af_ecg, make_ecg_model(af_gate=True), segment_s=segment_s)
    assert plain.af is None
    af = gated.af
    assert af.shape == (len(gated),) and af.any() and (~af).any()
    onset = np.searchsorted(gated.sample, 100.0 * af_ecg.fs)
    assert not af[:onset - 64].any()  # the regular stretch, away from the change
    assert af[onset + 128:].all()
    np.testing.assert_array_equal(gated.sample, plain.sample)
    np.testing.assert_allclose(gated.proba[~af], plain.proba[~af])
    np.testing.assert_allclose(gated.proba[af, 0], plain.proba[af, 0] + plain.proba[af, 1],
                               rtol=1e-6)
    assert (gated.proba[af, 1] == 0).all()
    np.testing.assert_allclose(gated.proba[af, 2:], plain.proba[af, 2:])


def test_the_atrial_gate_spares_irregular_beats_with_p_waves():
    """Frequent early beats with P waves make the rhythm irregular: the RR rule settles
    them, the atrial rule does not; in AF (no P waves) both settle."""
    from scoring_helpers import make_ecg_model, synthetic_ecg

    ectopy = synthetic_ecg(duration_s=200.0, seed=4, ectopic_fraction=0.4, p_waves=True)
    af_then = synthetic_ecg(duration_s=240.0, seed=3, af_from_s=100.0,
                            ectopic_fraction=0.03, p_waves=True)
    rhythm = make_ecg_model(af_gate=True)
    atrial = make_ecg_model(af_gate=True)
    atrial.decision = replace(atrial.decision, af_gate_rule="atrial")
    assert predict_beats(ectopy, rhythm).af.mean() > 0.5
    assert not predict_beats(ectopy, atrial).af.any()
    gated = predict_beats(af_then, atrial)
    onset = np.searchsorted(gated.sample, 100.0 * af_then.fs)
    assert not gated.af[:onset].any() and gated.af[onset + 128:].all()


@pytest.mark.parametrize("rule", ["rhythm", "af_specific", "af_specific_atrial"])
def test_af_gated_stream_equals_segmented_batch(af_ecg, rule):
    from scoring_helpers import assert_stream_equals_batch, make_ecg_model

    loaded = make_ecg_model(af_gate=True)
    loaded.decision = replace(loaded.decision, af_gate_rule=rule)
    streamed, batch = assert_stream_equals_batch(af_ecg, loaded, 3.3, segment_s=10.0)
    np.testing.assert_array_equal(streamed.af, batch.af)
