"""Streaming over any chunking equals batch inference with the same segments."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from cardioliquid.scoring.inference import predict_beats, predict_windows
from cardioliquid.scoring.stream import BeatStream, WindowStream, replay


def _collect(rec, loaded, chunk_s, **kw):
    out, times = None, []
    for t, new in replay(rec, loaded, chunk_s=chunk_s, **kw):
        times.append((t, len(new)))
        out = new if out is None else out.concat(new)
    return out, times


@pytest.mark.parametrize("carry", [False, True])
@pytest.mark.parametrize("beats", ["reference", "detect"])
@pytest.mark.parametrize("chunk_s", [0.37, 4.0, 1000.0])
def test_beat_stream_equals_batch(ecg_rec, carry, beats, chunk_s):
    from scoring_helpers import make_ecg_model

    loaded = make_ecg_model(carry_state=carry)
    batch = predict_beats(ecg_rec, loaded, beats=beats, segment_s=10.0)
    streamed, _ = _collect(ecg_rec, loaded, chunk_s, beats=beats, segment_s=10.0)
    assert len(batch) > 20
    np.testing.assert_array_equal(streamed.sample, batch.sample)
    np.testing.assert_allclose(streamed.proba, batch.proba, atol=1e-5)
    assert streamed.beat_source == beats


@pytest.mark.parametrize("carry", [False, True])
@pytest.mark.parametrize("chunk_s", [0.7, 13.0])
def test_window_stream_equals_batch(eeg_rec, carry, chunk_s):
    from scoring_helpers import make_eeg_model

    loaded = make_eeg_model(carry_state=carry)
    batch = predict_windows(eeg_rec, loaded, segment_s=10.0)
    streamed, _ = _collect(eeg_rec, loaded, chunk_s, segment_s=10.0)
    np.testing.assert_allclose(streamed.start_s, batch.start_s)
    np.testing.assert_allclose(streamed.proba, batch.proba, atol=1e-5)
    assert [e.onset for e in streamed.events()] == [e.onset for e in batch.events()]


def test_beats_arrive_within_the_documented_latency(ecg_rec, ecg_model):
    stream = BeatStream.for_recording(ecg_rec, ecg_model, segment_s=5.0)
    assert stream.latency_s == pytest.approx(5.0 + stream.lookahead_s)
    step = int(ecg_rec.fs // 2)
    for start in range(0, ecg_rec.n_samples, step):
        ref = ecg_rec.beats.sample
        new = stream.push(
            ecg_rec.signal[:, start : start + step], ref[(ref >= start) & (ref < start + step)]
        )
        received_s = (start + step) / ecg_rec.fs
        if len(new):
            assert np.all(received_s - new.time_s <= stream.latency_s + 0.5 + 1e-9)


def test_stream_rejects_wrong_channel_count(eeg_rec, eeg_model):
    stream = WindowStream.for_recording(eeg_rec, eeg_model)
    with pytest.raises(ValueError, match="expected chunks of 4 channels, got 2"):
        stream.push(np.zeros((2, 100), np.float32))


def test_stream_checks_the_model_fits(eeg_rec, ecg_model):
    from cardioliquid.errors import ContractError

    with pytest.raises(ContractError, match="expects an ecg recording"):
        BeatStream(ecg_model, replace(eeg_rec, source="a.edf"))


@pytest.mark.parametrize("beats", ["reference", "detect"])
@pytest.mark.parametrize("chunk_s", [0.37, 4.0, 1000.0])
def test_rhythm_model_stream_equals_batch(ecg_rec, beats, chunk_s):
    """The liquid model of the rhythm carries its state beat by beat across segments:
    a stream fed in any chunks equals batch scoring with the same segments."""
    from scoring_helpers import make_rhythm_model

    loaded = make_rhythm_model()
    batch = predict_beats(ecg_rec, loaded, beats=beats, segment_s=10.0)
    streamed, _ = _collect(ecg_rec, loaded, chunk_s, beats=beats, segment_s=10.0)
    assert len(batch) > 20
    np.testing.assert_array_equal(streamed.sample, batch.sample)
    np.testing.assert_allclose(streamed.proba, batch.proba, atol=1e-5)
    np.testing.assert_array_equal(streamed.label_index, batch.label_index)


def test_rhythm_model_state_carries_between_segments(ecg_rec):
    """Its calls depend on the beats before: resetting the state at each segment changes them."""
    from scoring_helpers import make_rhythm_model

    from cardioliquid.scoring.inference import score_beat_segment, segment_plan, slice_recording

    loaded = make_rhythm_model()
    ref = np.sort(ecg_rec.beats.sample)
    plan = segment_plan(ecg_rec.fs, 10.0, 60.0, 5.0)
    seg0, seg1 = plan(0), plan(1)
    sub0 = slice_recording(ecg_rec, seg0.read_start, seg0.read_stop)
    _, _, hx = score_beat_segment(sub0, loaded, seg0, ref)
    sub1 = slice_recording(ecg_rec, seg1.read_start, seg1.read_stop)
    _, carried, _ = score_beat_segment(sub1, loaded, seg1, ref, hx=hx)
    _, fresh, _ = score_beat_segment(sub1, loaded, seg1, ref, hx=None)
    assert hx is not None and hx.shape == (1, loaded.model.rnn.hx_size)
    assert np.abs(carried - fresh).max() > 1e-6
