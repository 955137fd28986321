"""The EEG page: which models are offered, agreement with the expert's seizures, errors
during a replay."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from cardioliquid.app.agreement import seizure_agreement, seizure_notice
from cardioliquid.app.replay import ReplaySession, check_replayable, fit_problem
from cardioliquid.decision.alerts import Alert
from cardioliquid.errors import ContractError, RecordingError
from cardioliquid.io import load_recording
from cardioliquid.models.checkpoint import load_model

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 180
TOLERANCE = (30.0, 60.0)


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [m.value for m in at.caption]
    parts += [m.value for m in at.info] + [m.value for m in at.warning]
    parts += [m.value for m in at.success] + [m.value for m in at.error]
    return "\n".join(str(p) for p in parts)


def _record(root: Path):
    return load_recording(next(root.rglob("*.edf")))


# --------------------------------------------------------------------------- fit up front
def test_a_model_built_for_another_channel_count_is_refused_before_any_signal(eeg_data_dir):
    rec = _record(eeg_data_dir)
    one = load_model("seizure-1ch")
    with pytest.raises(ContractError, match=r"reads 1 EEG channel\(s\) and names none to pick; "
                                            r"the recording has 18"):
        check_replayable(rec, one)
    assert fit_problem(rec, load_model("seizure")) is None
    # the model built for 18 named channels on a one-channel recording: no montage to read
    single = load_recording(next(eeg_data_dir.rglob("*.edf")))
    single = type(single)(single.signal[:1], single.fs, ["EEG"], "uV", "one", "one", "eeg")
    with pytest.raises(RecordingError, match="missing EEG channels"):
        check_replayable(single, load_model("seizure"))
    assert fit_problem(single, one) is None


def test_models_that_cannot_read_the_recording_are_not_offered(eeg_data_dir):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["model"] = "seizure-1ch"  # even when asked for by the link
    at.run()
    assert not at.exception, at.exception
    box = at.selectbox(key="model_choice_eeg")
    assert "seizure" in box.options and "seizure-1ch" not in box.options
    assert box.value == "seizure"
    why = next(c.value for c in at.sidebar.caption if "Not offered" in c.value)
    assert "`seizure-1ch`" in why
    assert "reads 1 EEG channel(s) and names none to pick; the recording has 18" in why
    assert str(eeg_data_dir) not in why and "/" not in why.split("(", 1)[1]  # no server path
    assert not at.error


# --------------------------------------------------------------------------- agreement
def test_seizure_agreement_counts_detections_misses_and_false_alarms():
    def alert(t):
        return Alert(t, t + 10.0, "seizure", "")

    ref = [(40.0, 70.0), (300.0, 320.0)]
    alerts = [alert(45.0), alert(200.0)]
    a = seizure_agreement(ref, alerts, upto_s=100.0, tolerance_s=TOLERANCE)
    assert a.latencies == (5.0,) and a.detected == 1 and a.false_alarms == 1  # 300 s: not yet
    a = seizure_agreement(ref, alerts, upto_s=310.0, tolerance_s=TOLERANCE)
    assert a.latencies == (5.0, None) and a.missed == (False, False)  # 2nd: may still come
    a = seizure_agreement(ref, alerts, upto_s=381.0, tolerance_s=TOLERANCE)
    assert a.missed == (False, True)  # 60 s past its end without an alert
    level, text = seizure_notice(a, labelled=True, n_expert_total=2)
    assert level == "warning"
    assert "detected **1 of the 2** expert-marked seizures" in text
    assert "seizure 1: detected +5 s" in text and "seizure 2: missed" in text
    assert "1 false alarm" in text
    # an alert raised up to 30 s before the onset matches (SzCORE), one 31 s before does not
    assert seizure_agreement(ref[:1], [alert(10.0)], 100.0, TOLERANCE).detected == 1
    assert seizure_agreement(ref[:1], [alert(8.9)], 100.0, TOLERANCE).false_alarms == 1


def test_seizure_notice_says_what_it_compares():
    none = seizure_agreement([], [], 50.0, TOLERANCE)
    level, text = seizure_notice(none, labelled=False, n_expert_total=0)
    assert level == "info" and "No expert seizure labels" in text
    level, text = seizure_notice(none, labelled=True, n_expert_total=0)
    assert level == "success" and "expert marked no seizure" in text
    early = seizure_agreement([(40.0, 70.0)], [], 20.0, TOLERANCE)
    level, text = seizure_notice(early, labelled=True, n_expert_total=1)
    assert level == "info" and "No expert-marked seizure in the signal decided so far" in text
    on = seizure_agreement([(40.0, 70.0)], [Alert(44.6, 60.0, "seizure", "")], 80.0, TOLERANCE)
    level, text = seizure_notice(on, labelled=True, n_expert_total=1)
    assert level == "success" and "detected **1 of the 1** expert-marked seizure " in text
    # an ictal excerpt starts inside the seizure: how far in, not a latency from its onset
    ictal = seizure_agreement([(0.0, 10.0)], [Alert(5.5, 10.0, "seizure", "")], 10.0, TOLERANCE)
    _, text = seizure_notice(ictal, labelled=True, n_expert_total=1)
    assert "detected 6 s into the recording (under way when it starts)" in text
    assert "from the expert-marked onset" not in text


@pytest.mark.slow
def test_the_eeg_page_compares_the_model_with_the_expert_seizures(eeg_data_dir, play_to_end):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    text = _texts(at)
    assert "No model alert so far (the model alerts on seizure events)." in text
    assert "ventricular" not in text
    play_to_end(at)
    assert not at.exception, at.exception
    replay = at.session_state["replay"]
    assert replay.finished and replay.rec.seizures == [(40.0, 70.0)]
    text = _texts(at)
    assert "No expert labels" not in text and "nothing to compare" not in text
    assert "of the 1** expert-marked seizure decided so far (seizure 1: " in text
    assert "ventricular" not in text


# --------------------------------------------------------------------------- errors
def test_an_error_during_the_replay_stops_it_and_stays_on_screen(eeg_data_dir, monkeypatch):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    where = str(eeg_data_dir / "eeg" / "syneeg.edf")

    def broken(self, seconds):
        raise ContractError(f"{where}: model 'seizure': expected input of shape (batch, 18), "
                            f"got (1, 23)")  # fmt: skip

    with monkeypatch.context() as patched:
        patched.setattr(ReplaySession, "advance", broken)
        at.button(key="play").click().run()
        assert not at.exception, at.exception
        for _ in range(2):  # the message outlasts the frames after it
            assert not at.session_state["playing"]
            assert at.button(key="play").label == "Play"  # the button agrees with the state
            errors = [e.value for e in at.error]
            assert any("The model cannot score this recording: syneeg.edf: model 'seizure'" in e
                       for e in errors), errors  # fmt: skip
            assert not any(str(eeg_data_dir) in e for e in errors)  # no server folder
            assert "**stopped by an error**" in _texts(at)
            at.run()
    at.button(key="play").click().run()  # Play tries again and clears the message
    assert not at.exception, at.exception
    assert at.session_state["playing"] and not at.error
    assert at.button(key="play").label == "Pause"
