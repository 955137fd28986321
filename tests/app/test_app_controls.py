"""Replay controls on the ECG page: Pause, the lead the model reads, and the words beside them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from cardioliquid.app.playback import position_shown

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 180


def _position(at: AppTest):
    return next(s for s in at.slider if s.label == "Position (s)")


def _status(at: AppTest) -> str:
    return next(m.value for m in at.markdown if " s** of " in m.value)


def test_pause_freezes_the_position_the_last_frame_showed(data_dir):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.radio(key="speed").set_value("25×")
    at.button(key="play").click().run()
    at.run()
    assert not at.exception, at.exception
    replay = at.session_state["replay"]
    shown = at.session_state["shown_s"]
    assert shown == replay.position_s > 0  # each frame drawn in full records what it showed
    # Pause pressed while a frame is computed: Streamlit stops that frame after it advanced
    # the replay and before the page showed it. The frame's work, done by hand:
    replay.advance(12.5)
    made = len(replay.history)
    at.button(key="play").click().run()
    assert not at.exception, at.exception
    assert not at.session_state["playing"] and at.button(key="play").label == "Play"
    assert at.session_state["replay"] is replay
    assert replay.position_s == shown  # frozen where the page was, not a frame ahead
    assert f"**paused** · **{position_shown(shown):,.1f} s**" in _status(at)
    assert len(replay.history) == made  # the decisions made on the way are kept
    at.run()
    assert replay.position_s == shown  # and it stays there
    at.button(key="play").click().run()  # playing on goes forward from there
    at.run()
    assert at.session_state["playing"] and replay.position_s > shown


def test_a_new_lead_keeps_the_replay_position(data_dir):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    _position(at).set_value(30.0).run()
    assert not at.exception, at.exception
    first = at.session_state["replay"]
    assert first.position_s == 30.0
    at.selectbox(key="lead_choice_syn100").set_value("V1").run()
    assert not at.exception, at.exception
    replay = at.session_state["replay"]
    assert replay is not first and replay.loaded.preprocessing.lead_preference == ["V1"]
    assert replay.position_s == 30.0 and _position(at).value == 30.0
    pred = replay.predictions  # the new lead's decisions before the cursor, as after a jump
    assert len(pred) > 10 and pred.time_s.max() <= 30.0
    assert "**paused** · **30.0 s**" in _status(at)
    # while playing, a new lead plays on from where the replay was
    at.button(key="play").click().run()
    assert at.session_state["playing"]
    at.selectbox(key="lead_choice_syn100").set_value("MLII").run()
    assert not at.exception, at.exception
    assert at.session_state["playing"] and at.session_state["replay"].position_s >= 30.0
    assert at.session_state["replay"].loaded.preprocessing.lead_preference == ["MLII"]


def test_the_agreement_says_which_stretch_it_counts_after_a_lead_change(data_dir):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    _position(at).set_value(55.0).run()
    at.selectbox(key="lead_choice_syn100").set_value("V1").run()
    assert not at.exception, at.exception
    spans = [(a, b) for a, b in at.session_state["replay"].scored_spans_s if b > a]
    assert spans[0][0] > 1.0, spans  # the new lead's decisions begin a lead-in before the cursor
    listed = ", ".join(f"{a:.0f}–{b:.0f} s" for a, b in spans)
    assert any(f"Counted over the stretches replayed in this session ({listed})" in c.value
               and "a lead change starts a new stretch" in c.value for c in at.caption)


def test_compute_headroom_is_not_mistaken_for_the_replay_speed(data_dir):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.radio(key="speed").set_value("25×")
    at.button(key="play").click().run()
    for _ in range(3):  # past the stream's delay: the first chunks are scored and timed
        _position(at).set_value(at.session_state["replay"].position_s + 10.0).run()
    assert not at.exception, at.exception
    assert at.session_state["replay"].timings
    labels = [m.label for m in at.metric]
    assert "Live speed" not in labels
    metric = next(m for m in at.metric if m.label == "Compute headroom (could run at)")
    assert metric.value.endswith("× real time")
    assert "Not the replay speed you chose" in metric.proto.help
    # the profile's caption says which MAC count the energy figures use
    caption = next(c.value for c in at.caption if "MACs per decision as executed" in c.value)
    assert "counting wired synapses only: the energy figures count these" in caption


def test_missing_samples_are_named_in_words(data_dir):
    import wfdb

    folder = data_dir / "synthetic"
    rec = wfdb.rdrecord(str(folder / "syn100"))
    sig = rec.p_signal.copy()
    sig[2 * 360 : 6 * 360, :] = np.nan  # a signal gap (invalid samples in the .dat file)
    wfdb.wrsamp("gap100", fs=360, units=["mV", "mV"], sig_name=["MLII", "V1"], p_signal=sig,
                fmt=["212", "212"], write_dir=str(folder))  # fmt: skip
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["record"] = "gap100"
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["replay"].rec.record_id == "gap100"
    warning = next(w.value for w in at.warning if "Poor signal quality" in w.value)
    assert "(missing samples)" in warning and "nan" not in warning.lower()
