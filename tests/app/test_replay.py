import numpy as np
import pytest

from cardioliquid.app.neurons import beat_input, explain_decision
from cardioliquid.app.replay import ReplaySession
from cardioliquid.io import load_recording
from cardioliquid.scoring.beats import predict_beats


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


def test_jumping_back_keeps_the_decisions_already_made(rec, untrained_ecg_model):
    replay = ReplaySession(rec, untrained_ecg_model)
    replay.advance(40.0)
    made = replay.predictions
    n_chunks = len(replay.timings)
    replay.seek(10.0)
    assert replay.position_s == 10.0
    assert len(replay.history) == len(made)  # nothing forgotten
    shown = replay.predictions
    assert (replay.decided_at_s[: len(shown)] <= 10.0).all()
    assert len(shown) < len(made)  # what a monitor knew at 10 s, not later decisions
    replay.seek(40.0)  # forward again inside scored signal: no compute, same decisions
    assert len(replay.timings) == n_chunks
    np.testing.assert_array_equal(replay.predictions.sample, made.sample)


def test_a_jump_to_unscored_signal_lands_with_decisions_in_view(rec, untrained_ecg_model):
    from cardioliquid.app.replay import LEAD_IN_S

    replay = ReplaySession(rec, untrained_ecg_model)
    replay.seek(50.0)
    assert replay.position_s == 50.0
    pred = replay.predictions
    assert len(pred) > 0 and pred.time_s.min() >= 50.0 - LEAD_IN_S
    assert pred.time_s.max() <= 50.0 and replay.decision_frontier() <= 50.0
    replay.seek(5.0)  # back before the scored stretch: scored from the start, then played on
    while not replay.finished:
        replay.advance(9.0)
    hist = replay.history
    np.testing.assert_array_equal(hist.sample, rec.beats.sample)  # each beat decided once
    assert (replay.decided_at_s >= hist.time_s).all()  # a decision follows its beat
    assert replay.position_s == pytest.approx(rec.duration_s)


def test_the_cursor_never_passes_the_end(rec, untrained_ecg_model):
    replay = ReplaySession(rec, untrained_ecg_model)
    replay.seek(rec.duration_s + 100.0)
    assert replay.position_s == pytest.approx(rec.duration_s) and replay.finished
    assert replay.decision_frontier() <= rec.duration_s
    replay.seek(-5.0)
    assert replay.position_s == 0.0 and not replay.finished


def test_the_latest_beat_is_explained(rec, untrained_ecg_model):
    replay = ReplaySession(rec, untrained_ecg_model)
    replay.advance(40.0)
    s = int(replay.predictions.sample[-1])
    x, f = beat_input(rec, untrained_ecg_model, s, reference=rec.beats.sample)
    view = explain_decision(untrained_ecg_model, x, f, s / rec.fs, steps=4)
    assert view.label == untrained_ecg_model.classes[int(np.argmax(replay.predictions.proba[-1]))]
    assert view.trajectory.states.shape[1] == 12
    np.testing.assert_allclose(view.attribution.share.sum(), 1.0, atol=1e-6)


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
                    decision=replace(untrained_ecg_model.decision, af_gate=True))
    replay = ReplaySession(rec, gated, position_s=200.0)  # deep in the AF stretch
    while not replay.finished:
        replay.advance(10.0)
    pred = replay.predictions
    assert len(pred) > 20 and pred.af.all()  # no 128-beat wait after the seek
    # The same flags a stream over the whole record gives these beats.
    causal = af_beats(rec.beats.sample, rec.fs, causal=True)
    np.testing.assert_array_equal(pred.af, causal[np.isin(rec.beats.sample, pred.sample)])


def test_a_stream_started_by_a_jump_reads_the_signal_before_the_landing(rec,
                                                                        untrained_ecg_model):
    """After a jump the new stream is given the signal (and beats) before its start as
    context, so its calls are those of a stream that ran from the recording's start (its
    segments fall on the same 10-s grid here: the landing is 20 s in)."""
    from cardioliquid.app.neurons import beat_decision
    from cardioliquid.app.replay import LEAD_IN_S

    replay = ReplaySession(rec, untrained_ecg_model)
    replay.seek(50.0)
    while not replay.finished:
        replay.advance(9.0)
    pred = replay.predictions
    start = round((50.0 - LEAD_IN_S) * rec.fs)
    origin = replay.stream_of(int(pred.sample[0]))
    assert origin.start == start and origin.history == start  # all of it: under 30 min
    batch = predict_beats(rec, untrained_ecg_model, segment_s=10.0)
    after = batch.sample >= start
    np.testing.assert_array_equal(pred.sample, batch.sample[after])
    np.testing.assert_allclose(pred.proba, batch.proba[after], atol=1e-5)
    # The explanation rebuilds the input the primed stream read.
    s = int(pred.sample[3])
    x, f, decided_by = beat_decision(rec, untrained_ecg_model, s, origin.start,
                                     origin.reference, origin.segment_states, origin.history)
    view = explain_decision(decided_by, x, f, s / rec.fs, steps=2)
    np.testing.assert_allclose(view.trajectory.proba, pred.proba[3], atol=1e-5)
