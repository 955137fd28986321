import numpy as np
import pytest

from cardioliquid.app.neurons import beat_input, explain_decision
from cardioliquid.app.replay import ReplaySession
from cardioliquid.io import load_recording
from cardioliquid.scoring.inference import predict_beats


@pytest.fixture
def rec(data_dir):
    return load_recording(data_dir / "synthetic" / "syn100.hea")


def test_replay_chunk_by_chunk_equals_batch_scoring(rec, untrained_ecg_model):
    replay = ReplaySession(rec, untrained_ecg_model)
    while not replay.finished:
        replay.advance(7.3)
    batch = predict_beats(rec, untrained_ecg_model, segment_s=replay._stream.segment_s)
    np.testing.assert_array_equal(replay.predictions.sample, batch.sample)
    np.testing.assert_allclose(replay.predictions.proba, batch.proba, atol=1e-5)
    assert len(replay.predictions) == len(rec.beats)
    assert replay.position_s == pytest.approx(rec.duration_s)
    assert replay.latency_ms()["n_chunks"] > 0


def test_seek_restarts_from_there(rec, untrained_ecg_model):
    replay = ReplaySession(rec, untrained_ecg_model)
    replay.advance(20.0)
    replay.seek(30.0)
    assert len(replay.predictions) == 0 and replay.position_s == 30.0
    while not replay.finished:
        replay.advance(10.0)
    assert replay.predictions.time_s.min() >= 30.0
    expected = rec.beats.sample[rec.beats.sample >= 30.0 * rec.fs]
    np.testing.assert_array_equal(replay.predictions.sample, expected)


def test_the_latest_beat_is_explained(rec, untrained_ecg_model):
    replay = ReplaySession(rec, untrained_ecg_model)
    replay.advance(40.0)
    s = int(replay.predictions.sample[-1])
    x, f = beat_input(rec, untrained_ecg_model, s, replay.predictions.sample)
    view = explain_decision(untrained_ecg_model, x, f, s / rec.fs, steps=4)
    assert view.label == untrained_ecg_model.classes[int(np.argmax(replay.predictions.proba[-1]))]
    assert view.trajectory.states.shape[1] == 12
    np.testing.assert_allclose(view.attribution.share.sum(), 1.0, atol=1e-6)


def test_rhythm_caption_follows_the_af_flags():
    from cardioliquid.app.views import _rhythm_caption

    assert "judged once 128 beats" in _rhythm_caption(np.zeros(50, dtype=bool))
    assert "not AF-like" in _rhythm_caption(np.zeros(300, dtype=bool))
    flags = np.zeros(300, dtype=bool)
    flags[-1] = True
    assert "**AF-like**" in _rhythm_caption(flags)


def test_a_replay_started_mid_recording_judges_the_rhythm_from_its_first_beat(
        untrained_ecg_model):
    import importlib.util
    from dataclasses import replace
    from pathlib import Path

    from cardioliquid.signal.rhythm import af_beats

    spec = importlib.util.spec_from_file_location(
        "scoring_helpers_for_app", Path(__file__).parents[1] / "scoring" / "scoring_helpers.py")
    helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helpers)
    rec = helpers.synthetic_ecg(240.0, seed=3, af_from_s=60.0, ectopic_fraction=0.03)
    gated = replace(untrained_ecg_model,
                    preprocessing=replace(untrained_ecg_model.preprocessing, af_gate=True))
    replay = ReplaySession(rec, gated, position_s=200.0)  # deep in the AF stretch
    while not replay.finished:
        replay.advance(10.0)
    pred = replay.predictions
    assert len(pred) > 20 and pred.af.all()  # no 128-beat wait after the seek
    # The same flags a stream over the whole record gives these beats.
    causal = af_beats(rec.beats.sample, rec.fs, causal=True)
    np.testing.assert_array_equal(pred.af, causal[np.isin(rec.beats.sample, pred.sample)])
