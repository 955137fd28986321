"""Streaming over any chunking equals batch inference with the same segments."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from cardioliquid.scoring.beats import predict_beats
from cardioliquid.scoring.stream import BeatStream, WindowStream, replay
from cardioliquid.scoring.windows import predict_windows


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
    assert streamed.lead == batch.lead and batch.lead  # the stream names the lead it read


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
    ref = ecg_rec.beats.sample
    arrived = []
    for start in range(0, ecg_rec.n_samples, step):
        new = stream.push(
            ecg_rec.signal[:, start : start + step], ref[(ref >= start) & (ref < start + step)]
        )
        received_s = (start + step) / ecg_rec.fs
        if len(new):
            assert np.all(received_s - new.time_s <= stream.latency_s + 0.5 + 1e-9)
            arrived.append(new.sample)
    rest = stream.finish()
    assert arrived  # beats came out while the signal streamed in...
    # ...every beat once, in order; only those of the last latency_s waited for the end
    np.testing.assert_array_equal(np.concatenate([*arrived, rest.sample]), ref)
    assert np.all(ecg_rec.duration_s - rest.time_s <= stream.latency_s + 1e-9)


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

    from cardioliquid.scoring.beats import score_beat_segment
    from cardioliquid.scoring.segments import segment_plan, slice_recording

    loaded = make_rhythm_model()
    ref = np.sort(ecg_rec.beats.sample)
    plan = segment_plan(ecg_rec.fs, 10.0, 60.0, 5.0)
    seg0, seg1 = plan(0), plan(1)
    sub0 = slice_recording(ecg_rec, seg0.read_start, seg0.read_stop)
    _, _, hx, _ = score_beat_segment(sub0, loaded, seg0, ref)
    sub1 = slice_recording(ecg_rec, seg1.read_start, seg1.read_stop)
    _, carried, _, _ = score_beat_segment(sub1, loaded, seg1, ref, hx=hx)
    _, fresh, _, _ = score_beat_segment(sub1, loaded, seg1, ref, hx=None)
    assert hx is not None and hx.shape == (1, loaded.model.rnn.hx_size)
    assert np.abs(carried - fresh).max() > 1e-6


@pytest.mark.realdata
@pytest.mark.parametrize("chunk_s", [1.0, 7.3])
def test_shipped_rhythm_model_streams_a_real_record_as_batch_scores_it(mitdb_dir, chunk_s):
    """The shipped arrhythmia model (v6, a CfC stepped once per beat) over the first
    four minutes of record 232 (long pauses, runs of S beats): streamed in chunks of
    any size, its probabilities and calls equal batch scoring with the same segments."""
    from cardioliquid.io import load_ecg
    from cardioliquid.models.checkpoint import list_pretrained, load_model
    from cardioliquid.scoring.segments import slice_recording

    assert "arrhythmia" in list_pretrained()  # shipped with the package, never optional
    loaded = load_model("arrhythmia")
    assert getattr(loaded.model, "beat_sequence", False)  # the rhythm model is the one shipped
    full = load_ecg(mitdb_dir / "232")
    rec = slice_recording(full, 0, int(240 * full.fs))
    b, keep = full.beats, full.beats.sample < rec.n_samples
    rec = replace(rec, beats=replace(b, sample=b.sample[keep], symbol=b.symbol[keep],
                                     aami=b.aami[keep]))
    batch = predict_beats(rec, loaded, beats="reference", segment_s=10.0)
    streamed, _ = _collect(rec, loaded, chunk_s, beats="reference", segment_s=10.0)
    assert len(batch) > 200 and (np.asarray(batch.labels) == "S").any()
    np.testing.assert_array_equal(streamed.sample, batch.sample)
    np.testing.assert_allclose(streamed.proba, batch.proba, atol=1e-5)
    np.testing.assert_array_equal(streamed.label_index, batch.label_index)


@pytest.mark.parametrize("beats", ["reference", "detect"])
@pytest.mark.parametrize(("start_s", "history_s"), [(0.0, 0.0), (7.3, 0.0), (17.3, 12.0)])
def test_decision_run_rebuilds_what_the_stream_fed_the_rhythm_model(ecg_rec, beats, start_s,
                                                                    history_s):
    """Every beat the stream decided, from a stream started at ``start_s`` (a replay
    restarts its stream after a jump) and given ``history_s`` of the signal before it:
    the run of all beats before it, rebuilt by decision_run and run from rest, gives the
    stream's probabilities exactly."""
    from scoring_helpers import make_rhythm_model

    from cardioliquid.errors import RecordingError
    from cardioliquid.scoring.segments import slice_recording
    from cardioliquid.scoring.stream import decision_run

    loaded = make_rhythm_model()
    start = int(start_s * ecg_rec.fs)
    ref = ecg_rec.beats.sample if beats == "reference" else None
    tail = slice_recording(ecg_rec, start, ecg_rec.n_samples)
    if ref is not None:
        tail = replace(tail, beats=replace(ecg_rec.beats, sample=ref[ref >= start] - start,
                                           symbol=ecg_rec.beats.symbol[ref >= start],
                                           aami=ecg_rec.beats.aami[ref >= start]))
    history = round(history_s * ecg_rec.fs)
    stream = BeatStream.for_recording(tail, loaded, beats=beats)
    if history:
        before = None if ref is None else ref[(ref >= start - history) & (ref < start)] - start
        stream.recall_signal(ecg_rec.signal[:, start - history:start], before)
    tail_ref = None if ref is None else ref[ref >= start] - start
    streamed = stream.push(tail.signal, tail_ref).concat(stream.finish())
    for i in (0, 5, len(streamed) // 2, len(streamed) - 1):
        sample = int(streamed.sample[i]) + start
        got, x, f, usable = decision_run(ecg_rec, loaded, sample, 10_000, ref, start,
                                         history=history)  # fmt: skip
        assert got[-1] == sample and len(got) == i + 1 and usable.all()
        with torch.no_grad():
            p = torch.softmax(loaded.model(torch.as_tensor(x), torch.as_tensor(f))[-1], -1)
        np.testing.assert_allclose(p.numpy(), streamed.proba[i], atol=1e-5)
    with pytest.raises(RecordingError, match="no beat was decided at sample"):
        decision_run(ecg_rec, loaded, int(streamed.sample[3]) + start + 1, 8, ref, start)


@pytest.mark.parametrize("start_s", [0.0, 12.4])
def test_an_explanation_starts_from_the_state_the_stream_kept_before_the_run(start_s):
    """A model reading each beat against the patient's earlier beats (v10): the explained
    run starts from the reference the stream had. Read from the state the stream kept
    before the run's segment, it equals the reference rebuilt from the stream's start; a
    run holding every beat since that start gives the stream's own probabilities (a longer
    stream's cell state is not the run's: this untrained cell does not forget in 32 beats)."""
    from scoring_helpers import make_rhythm_model, synthetic_ecg

    from cardioliquid.app.neurons import DECISION_CONTEXT_BEATS, beat_decision
    from cardioliquid.scoring.segments import slice_recording
    from cardioliquid.scoring.stream import BeatStream

    rec = synthetic_ecg(duration_s=90.0, seed=3)
    loaded = make_rhythm_model(embedding_reference=8)
    start = int(start_s * rec.fs)
    ref = rec.beats.sample
    stream = BeatStream(loaded, slice_recording(rec, start, rec.n_samples), beats="reference")
    tail = ref[ref >= start] - start
    streamed = stream.push(rec.signal[:, start:], tail).concat(stream.finish())
    assert len(stream.segment_states) == int(np.ceil((rec.n_samples - start) / (10 * rec.fs)))
    assert stream.segment_states[0] is None  # the stream's start: nothing carried yet
    for i in (0, 20, DECISION_CONTEXT_BEATS + 5, len(streamed) - 1):
        sample = int(streamed.sample[i]) + start
        fast = beat_decision(rec, loaded, sample, start, ref, stream.segment_states)
        slow = beat_decision(rec, loaded, sample, start, ref)
        np.testing.assert_array_equal(fast[0], slow[0])
        np.testing.assert_array_equal(fast[1], slow[1])
        assert len(fast[0]) == min(i + 1, DECISION_CONTEXT_BEATS)
        with torch.no_grad():
            p = [torch.softmax(d.model(torch.as_tensor(x), torch.as_tensor(f))[-1], -1).numpy()
                 for x, f, d in (fast, slow)]
        np.testing.assert_allclose(p[0], p[1], atol=1e-6)
        if i < DECISION_CONTEXT_BEATS:
            np.testing.assert_allclose(p[0], streamed.proba[i], atol=1e-5)


@pytest.mark.realdata
def test_the_shipped_rhythm_models_decisions_are_explained_from_their_own_input(mitdb_dir):
    """The app explains a rhythm-model beat over the run of DECISION_CONTEXT_BEATS beats
    ending at it, its cell started at rest and (v10) its embedding reference where the
    stream had it (read from the state the stream kept before the run's segment, as the
    app does; equal to the one rebuilt from the stream's start): on MIT-BIH 208 (frequent
    V, F and S beats) that run gives the stream's own probabilities on the lead it explains
    (the first: the model averages it with the second), so the explained input is the
    decided one."""
    from cardioliquid.app.neurons import DECISION_CONTEXT_BEATS, beat_decision, explain_decision
    from cardioliquid.decision.beats import sveb_to_normal
    from cardioliquid.io import load_ecg
    from cardioliquid.models.checkpoint import list_pretrained, load_model
    from cardioliquid.scoring.stream import BeatStream

    assert "arrhythmia" in list_pretrained()  # shipped with the package, never optional
    loaded = load_model("arrhythmia")
    rec = load_ecg(mitdb_dir / "208")
    ref = rec.beats.sample[rec.beats.aami != ""]
    stream = BeatStream(loaded, rec, beats="reference")  # the app's replay
    pred = stream.push(rec.signal, ref).concat(stream.finish())
    fused = pred
    if loaded.preprocessing.fuse_leads > 1:  # the explained run is the first lead's
        pred = predict_beats(rec, loaded.reading_leads(["MLII"]), beats="reference",
                             segment_s=10.0)
        assert fused.lead == "MLII+V1" and np.array_equal(fused.sample, pred.sample)
    picks = np.r_[0:40:3, np.flatnonzero(np.asarray(pred.labels) != "N")[::40]]
    for i in picks:
        x, f, decided_by = beat_decision(rec, loaded, int(pred.sample[i]), 0, ref,
                                         stream.segment_states)  # fmt: skip
        assert x.shape[0] == min(i + 1, DECISION_CONTEXT_BEATS) and f.shape[0] == x.shape[0]
        view = explain_decision(decided_by, x, f, pred.sample[i] / rec.fs)
        # The explanation is the network's; where the AF gate flagged the beat (v9.1's rule
        # flags some of 208's ectopy), the reported probabilities have its S moved to N.
        network = view.trajectory.proba[None]
        if pred.af is not None and pred.af[i]:
            network = sveb_to_normal(network, np.array([True]), loaded.classes)
        np.testing.assert_allclose(network[0], pred.proba[i], atol=1e-3)
        assert view.label == pred.labels[i] or pred.af[i]
        assert view.trajectory.states.shape[0] == x.shape[0]
    if getattr(loaded.model, "embedding_reference", 0):
        i = int(np.searchsorted(pred.sample, 200 * rec.fs))  # 20 segments in
        kept = beat_decision(rec, loaded, int(pred.sample[i]), 0, ref,
                             stream.segment_states)[2].model.start_reference
        rebuilt = beat_decision(rec, loaded, int(pred.sample[i]), 0,
                                ref)[2].model.start_reference
        for a, b in zip(kept, rebuilt, strict=True):
            np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)


def test_recall_signal_comes_before_the_first_push_and_fits_the_channels(ecg_rec, ecg_model):
    stream = BeatStream.for_recording(ecg_rec, ecg_model)
    n = ecg_rec.n_channels
    with pytest.raises(ValueError, match=rf"expected history of shape \({n}, H\)"):
        stream.recall_signal(np.zeros((n + 2, 100)))
    stream.push(ecg_rec.signal[:, :1000])
    with pytest.raises(RuntimeError, match="before the first push"):
        stream.recall_signal(np.zeros((n, 100)))


def test_a_long_stream_holds_only_its_context(ecg_model):
    """Pushed in small chunks, a stream keeps the signal its next segments read (context,
    segment, look-ahead), in a store at most twice that: memory does not grow with the
    recording, and a chunk costs its own size."""
    from scoring_helpers import synthetic_ecg

    rec = synthetic_ecg(duration_s=120.0, seed=1)
    stream = BeatStream(ecg_model, rec, beats="detect", context_s=20.0)
    step = round(0.25 * rec.fs)
    held, out = [], stream._empty()
    for a in range(0, rec.n_samples, step):
        out = out.concat(stream.push(rec.signal[:, a:a + step]))
        held.append(stream._buffer.shape[1])
    read = round((20.0 + 10.0 + 5.0) * rec.fs) + step
    assert max(held) <= read
    assert stream._store.shape[1] <= 2 * read
    out = out.concat(stream.finish())
    batch = predict_beats(rec, ecg_model, beats="detect", segment_s=10.0, context_s=20.0)
    assert len(batch) > 100
    np.testing.assert_array_equal(out.sample, batch.sample)
    np.testing.assert_allclose(out.proba, batch.proba, atol=1e-5)
