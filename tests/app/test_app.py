"""The page through Streamlit's AppTest: load, play, panels, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 180


def _elements(node, kind: str) -> list:
    out = []
    for child in getattr(node, "children", {}).values():
        if getattr(child, "type", "") == kind:
            out.append(child)
        out += _elements(child, kind)
    return out


def _vega(at: AppTest, dataset: str, chart: int = 0):
    """A dataset of the page's ``chart``-th Vega-Lite chart, as a DataFrame."""
    import pyarrow as pa

    el = _elements(at._tree, "vega_lite_chart")[chart]
    for d in el.proto.datasets:
        if d.name == dataset:
            return pa.ipc.open_stream(d.data.data).read_pandas()
    raise KeyError(dataset)


def _position(at: AppTest):
    return next(s for s in at.slider if s.label == "Position (s)")


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [m.value for m in at.caption]
    parts += [m.label for m in at.metric] + [m.value for m in at.info]
    parts += [m.value for m in at.warning] + [m.value for m in at.success]
    return "\n".join(str(p) for p in parts)


@pytest.mark.slow
def test_play_advances_the_replay_and_renders_every_panel(data_dir):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    assert "syn100" in at.selectbox(key="record_choice").value
    assert "Choose a recording" not in _texts(at)
    assert at.session_state["replay"].position_s == 0.0
    at.radio(key="speed").set_value("as fast as possible")
    at.button(key="play").click().run()
    at.run()
    assert not at.exception, at.exception
    replay = at.session_state["replay"]
    assert replay.position_s > 0 and len(replay.predictions) > 0
    text = _texts(at)
    assert "Last beat at" in text  # live prediction
    assert "Timeline: model" in text and "Agreement with the expert" in text
    assert "Live compute per decision in this replay (p50)" in text  # device panel
    assert "Energy per decision on this CPU (estimate)" in text
    trace = _vega(at, "trace")
    assert trace["t"].max() <= replay.position_s + 1e-6  # nothing drawn past the cursor
    assert set(trace["lead"]) == {"MLII", "V1"}  # both leads
    assert not at.error, [e.value for e in at.error]
    # another user's session is untouched by this one
    other = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert other.session_state["replay"].position_s == 0.0
    assert other.session_state["replay"] is not replay and not other.session_state["playing"]
    at.button(key="explain").click().run()
    assert not at.exception, at.exception
    text = _texts(at)
    assert "Liquid state of all" in text and "Strongest neurons of each role" in text
    table = next(d.value for d in at.dataframe if "role" in d.value.columns)
    assert {"inter", "command", "motor"} <= set(table["role"])  # not only the outputs
    assert table["neuron"].str.match(r"n\d+").all()
    assert table["effect"].str.match(r"(→|against) [NSVFQ]$").all()  # short and readable
    assert (table["share %"] > 0).all() and table["share %"].max() > 1  # percent, not fraction
    weights = _vega(at, "attribution")  # the explained beat's input attribution, on the trace
    assert weights["weight"].max() == 1.0 and len(weights) > 50
    at.button(key="sanity").click().run()
    assert not at.exception, at.exception
    verdicts = [m.value for m in at.success] + [m.value for m in at.warning]
    assert any("rank correlation of neuron importance" in v for v in verdicts), verdicts
    for _ in range(5):  # play to the end: the replay stops by itself and offers Play again
        if at.session_state["replay"].finished:
            break
        at.run()
    assert at.session_state["replay"].finished and not at.session_state["playing"]
    assert at.button(key="play").label == "Play"
    replay = at.session_state["replay"]
    assert len(replay.predictions) == len(replay.rec.beats)  # every annotated beat


def test_a_corrupt_record_shows_an_error_not_a_traceback(data_dir):
    bad = data_dir / "broken"
    bad.mkdir()
    (bad / "bad.hea").write_text("this is not a WFDB header\n")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    label = next(o for o in at.selectbox(key="record_choice").options if "bad" in o)
    at.selectbox(key="record_choice").set_value(label).run()
    assert not at.exception, at.exception
    assert at.error and "bad.hea" in at.error[0].value
    # the app keeps working: back to the good record
    good = next(o for o in at.selectbox(key="record_choice").options if "syn100" in o)
    at.selectbox(key="record_choice").set_value(good).run()
    assert not at.exception and not at.error


def test_corrupt_upload_is_reported(tmp_path):
    from cardioliquid.app.choosing import handle_recording_upload

    class Upload:
        def __init__(self, name: str, data: bytes) -> None:
            self.name, self._data = name, data

        def getvalue(self) -> bytes:
            return self._data

    rec, path, error = handle_recording_upload(
        [Upload("x.hea", b"x 1 360 100\ngarbage"), Upload("x.dat", b"\x00\x01")], tmp_path
    )
    assert rec is None and path is None
    assert error.startswith("Could not read the upload") and "x.hea" in error
    rec, _, error = handle_recording_upload([Upload("y.edf", b"0       not an edf")], tmp_path)
    assert rec is None and "y.edf" in error
    assert str(tmp_path) not in error  # the file's name, not the server's folder
    session = tmp_path / "cardioliquid-session-abc123" / "uploads"
    rec, _, error = handle_recording_upload([Upload("bad.edf", b"0       trunc")], session)
    assert rec is None and "bad.edf" in error and "cardioliquid-session" not in error
    rec, _, error = handle_recording_upload([Upload("z.txt", b"")], tmp_path)
    assert rec is None and "expected one of" in error


def _eeg_model(tmp_path):
    import torch

    from cardioliquid.models import create_model
    from cardioliquid.models.checkpoint import save_model
    from cardioliquid.signal.config import WindowPreprocessing

    torch.manual_seed(0)
    prep = WindowPreprocessing()
    kw = {"n_chans": 1, "n_outputs": 2, "n_times": prep.n_times, "sfreq": prep.fs}
    return save_model(tmp_path / "eeg.safetensors", create_model("liquid-cfc", **kw),
                      "liquid-cfc", kw, prep)  # fmt: skip


def test_only_models_of_the_recordings_modality_are_offered(data_dir):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    options = at.selectbox(key="model_choice_ecg").options
    assert "arrhythmia" in options
    assert not {"seizure", "seizure-1ch"} & set(options)  # EEG models: not for an ECG record


def test_a_model_that_does_not_fit_is_refused_in_the_page(data_dir, tmp_path, monkeypatch):
    """An EEG model whose modality could not be read beforehand: a clear message naming both."""
    path = _eeg_model(tmp_path)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["model"] = str(path)
    monkeypatch.setattr("cardioliquid.app.choosing.list_pretrained", lambda: [str(path)])
    monkeypatch.setattr("cardioliquid.app.choosing.model_modality", lambda name: "")
    at.run()
    assert not at.exception, at.exception
    assert at.error
    assert "does not fit" in at.error[0].value and "expects an eeg" in at.error[0].value


def _relabel(data_dir, every: int = 3, symbol: str = "A"):
    """syn100 with every ``every``-th normal beat marked by the expert as ``symbol``."""
    import wfdb

    src = data_dir / "synthetic" / "syn100"
    ann = wfdb.rdann(str(src), "atr")
    symbols = [symbol if (k % every == 1 and s == "N") else s for k, s in enumerate(ann.symbol)]
    wfdb.wrann("syn100", "atr", ann.sample, symbols, write_dir=str(src.parent))
    return symbols


def test_agreement_with_the_expert_is_in_view_and_a_disagreement_raises_a_notice(data_dir,
                                                                                 play_to_end):
    """The expert marks a third of the beats S (premature atrial) where the model sees normal
    beats: the page states the per-class figures and says model and expert disagree, never a
    plain all-clear."""
    import numpy as np

    from cardioliquid.app.agreement import running_agreement

    _relabel(data_dir)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    play_to_end(at, runs=6)
    assert not at.exception, at.exception
    replay = at.session_state["replay"]
    pred, rec = replay.predictions, replay.rec
    table = next(d.value for d in at.dataframe if "Se %" in d.value.columns)
    keep = rec.beats.aami != ""
    expected = running_agreement(pred.sample, pred.labels, rec.beats.sample[keep],
                                 rec.beats.aami[keep], rec.fs, replay.loaded.classes,
                                 replay.decision_frontier())  # fmt: skip
    s = table.set_index("class").loc["S"]
    assert s["expert"] == expected.classes["S"].n_expert >= 10
    assert s["both"] == expected.classes["S"].both
    warnings = [w.value for w in at.warning]
    assert any("Model and expert disagree" in w and f"{int(s['expert'])} S" in w
               for w in warnings), (warnings, s)
    assert not any("No alert" in m.value for m in at.success)
    # the disagreements are marked on the strip and the timeline
    marked = _vega(at, "disagree", chart=1)
    assert len(marked) == len(expected.disagree_s) > 0
    np.testing.assert_allclose(np.sort(marked["t"]), np.sort(expected.disagree_s))


def test_the_start_page_shows_the_first_seconds_before_play(data_dir):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    assert at.session_state["replay"].position_s == 0.0
    trace = _vega(at, "trace")
    assert trace["t"].min() < 0.01 and trace["t"].max() >= 10.0
    assert "not replayed yet" in set(_vega(at, "bands")["kind"])


def test_the_position_slider_follows_playback_and_seeking_keeps_history(data_dir):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.radio(key="speed").set_value("as fast as possible")
    at.button(key="play").click().run()  # one frame: 30 s of signal
    replay = at.session_state["replay"]
    assert replay.position_s == pytest.approx(30.0)
    assert _position(at).value == pytest.approx(replay.position_s)
    at.button(key="play").click().run()  # pause
    assert not at.session_state["playing"] and replay.position_s == pytest.approx(30.0)
    made = len(replay.history)
    _position(at).set_value(20.0).run()
    assert not at.exception, at.exception
    assert at.session_state["replay"] is replay and replay.position_s == 20.0
    assert len(replay.history) == made  # jumping back keeps every decision made
    assert _position(at).value == 20.0
    labels = _vega(at, "labels")
    model = labels.loc[labels["row"] == "model", "t"]
    assert len(model) and model.max() <= 20.0  # the decisions known at 20 s, and only those
    bands = _vega(at, "bands")
    ahead = bands[bands["kind"] == "not replayed yet"]
    assert ahead["t"].iloc[0] == pytest.approx(20.0)  # the strip marks what lies past the cursor


@pytest.mark.slow
def test_a_record_ending_in_a_dropout_replays_to_the_end(data_dir, play_to_end):
    """The last 20 s of both leads are a dropout (WFDB invalid samples): the replay scores
    the annotated beats there as unclassifiable (Q; with one lead left, v9 would call them
    from it), the neuron panel shows the last beat before the gap, and the attribution
    check says why it has too few beats."""
    import numpy as np
    import wfdb

    src = data_dir / "synthetic" / "syn100"
    rec = wfdb.rdrecord(str(src))
    ann = wfdb.rdann(str(src), "atr")
    sig = rec.p_signal.copy()
    sig[-20 * 360:, :] = np.nan
    gap = data_dir / "gap"
    gap.mkdir()
    wfdb.wrsamp("gap200", fs=360, units=["mV", "mV"], sig_name=["MLII", "V1"], p_signal=sig,
                fmt=["16", "16"], write_dir=str(gap))
    wfdb.wrann("gap200", "atr", ann.sample, ann.symbol, write_dir=str(gap))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    label = next(o for o in at.selectbox(key="record_choice").options if "gap200" in o)
    at.selectbox(key="record_choice").set_value(label).run()
    assert not at.exception, at.exception
    play_to_end(at)
    assert not at.exception, at.exception
    replay = at.session_state["replay"]
    assert replay.finished and len(replay.predictions) == len(replay.rec.beats)
    calls = np.asarray(replay.predictions.labels)
    in_gap = replay.predictions.sample >= replay.rec.n_samples - 20 * 360
    assert in_gap.sum() > 20 and (calls[in_gap] == "Q").all()
    assert not at.error, [e.value for e in at.error]
    import re

    at.button(key="explain").click().run()
    assert not at.exception, at.exception
    shown = re.search(r"the beat at \*\*([0-9.]+) s\*\*, predicted", _texts(at))
    assert shown, _texts(at)  # the explained beat is the last one clear of the gap
    gap_start = (replay.rec.n_samples - 20 * 360) / 360
    assert gap_start - 2.0 < float(shown.group(1)) < gap_start - 0.45
    at.button(key="sanity").click().run()
    assert not at.exception, at.exception
    assert any("outside signal gaps" in m.value for m in at.info), [m.value for m in at.info]


def test_the_lead_the_model_reads_can_be_chosen(data_dir):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    lead = at.selectbox(key="lead_choice_syn100")
    # v9 averages both leads by default; either can be read alone.
    assert lead.value == "MLII + V1" and lead.options == ["MLII + V1", "MLII", "V1"]
    assert at.session_state["replay"].loaded.preprocessing.fuse_leads == 2
    first = at.session_state["replay"]
    assert not [w for w in at.warning if "reads lead" in w.value]
    lead.set_value("V1").run()
    assert not at.exception, at.exception
    replay = at.session_state["replay"]
    assert replay is not first  # a new lead is a new replay
    assert replay.loaded.preprocessing.lead_preference == ["V1"]
    assert replay.loaded.preprocessing.fuse_leads == 1
    assert any("reads lead V1 alone, not its own choice (MLII + V1)" in w.value
               for w in at.warning)
