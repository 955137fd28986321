"""What the page shows at a glance: the position, the events' kind, the timeline at 0 s."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cardioliquid.app.live_panels import timeline_window
from cardioliquid.app.playback import SLIDER_STEP_S, position_shown

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 180
KIND_LABEL = "Go to events of kind"


def _position(at: AppTest):
    return next(s for s in at.slider if s.label == "Position (s)")


def _status_seconds(at: AppTest) -> float:
    line = next(m.value for m in at.markdown if " s** of " in m.value)
    return float(re.search(r"· \*\*([0-9,.]+) s\*\*", line).group(1).replace(",", ""))


def _chart_spec(at: AppTest, chart: int) -> dict:
    """The page's ``chart``-th Vega-Lite spec (its layers and scales; data apart)."""

    def walk(node):
        for child in getattr(node, "children", {}).values():
            if getattr(child, "type", "") == "vega_lite_chart":
                yield child
            yield from walk(child)

    return json.loads(list(walk(at._tree))[chart].proto.spec)


# --------------------------------------------------------------------------- position
def test_the_shown_position_is_the_cursor_rounded_down_to_the_slider_step():
    assert SLIDER_STEP_S == 0.1
    assert position_shown(7.79) == 7.7  # down, never past the cursor
    assert position_shown(0.3) == 0.3 and position_shown(12.3) == 12.3  # 0.3 / 0.1 is 2.999...
    assert position_shown(2804 / 360) == 7.7
    assert position_shown(1805.5556, duration_s=1805.5556) == 1805.5
    assert position_shown(60.0, duration_s=50.0) == 50.0
    assert position_shown(0.0) == 0.0


def test_the_slider_and_the_status_line_show_the_same_time(data_dir):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    replay = at.session_state["replay"]
    replay.advance(7.79)  # a frame's advance: a cursor off the slider's steps (7.789 s)
    at.run()
    assert not at.exception, at.exception
    assert replay.position_s == pytest.approx(7.7889, abs=1e-3)
    # they read 7.5 s (the slider, down to 0.5 s) and 7.8 s (the status line, to 0.1 s)
    assert _position(at).value == pytest.approx(7.7)
    assert _status_seconds(at) == pytest.approx(7.7)
    _position(at).set_value(23.4).run()  # a seek to a step lands where both say
    assert not at.exception, at.exception
    assert replay.position_s == pytest.approx(23.4)
    assert _position(at).value == pytest.approx(23.4) == _status_seconds(at)


# --------------------------------------------------------------------------- events' kind
def _relabel(header: Path, every: dict[str, tuple[int, int]]) -> None:
    """Give the record's annotated beats other symbols: ``{symbol: (start, step)}``."""
    import wfdb

    record = str(header.with_suffix(""))
    ann = wfdb.rdann(record, "atr")
    symbols = np.array(ann.symbol, dtype=object)
    for symbol, (start, step) in every.items():
        symbols[start::step] = symbol
    wfdb.wrann(header.stem, "atr", ann.sample, list(symbols), write_dir=str(header.parent))


def test_the_events_kind_starts_at_each_recordings_main_finding(tmp_path, monkeypatch, make_ecg):
    root = tmp_path / "data"
    # mostly S beats (as 232), a few V and F; mostly V beats (as 208), some F
    _relabel(make_ecg(root / "a", "synS", seed=1), {"A": (1, 3), "F": (2, 10), "V": (5, 15)})
    _relabel(make_ecg(root / "b", "synV", seed=2), {"V": (1, 4), "F": (2, 8)})
    monkeypatch.setenv("CARDIOLIQUID_DATA_DIR", str(root))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["record"] = "synS"
    at.run()
    assert not at.exception, at.exception
    box = next(s for s in at.selectbox if s.label == KIND_LABEL)
    assert box.options == ["expert S", "expert V", "expert F"]  # the AAMI order
    assert box.value == "expert S"  # not "expert F", the first by name
    box.set_value("expert F").run()
    assert next(s for s in at.selectbox if s.label == KIND_LABEL).value == "expert F"
    record = at.selectbox(key="record_choice")
    record.set_value(next(o for o in record.options if "synV" in o)).run()
    assert not at.exception, at.exception
    assert at.session_state["replay"].rec.record_id == "synV"
    box = next(s for s in at.selectbox if s.label == KIND_LABEL)
    assert box.options == ["expert V", "expert F"]
    assert box.value == "expert V"  # this recording's own, not the kind picked on the other


# --------------------------------------------------------------------------- timeline at 0 s
def test_the_timeline_window_shows_its_whole_span_from_the_start():
    assert timeline_window(0.0, 50.0) == (0.0, 50.0)  # a short recording, whole
    assert timeline_window(0.0, 3600.0) == (0.0, 180.0)
    assert timeline_window(30.0, 3600.0) == (0.0, 180.0)
    assert timeline_window(1000.0, 3600.0) == (820.0, 1000.0)  # then the last 180 s
    assert timeline_window(0.0, 0.5) == (0.0, 1.0)


def test_the_eeg_timeline_draws_its_axis_and_the_expert_seizure_at_0_s(eeg_data_dir):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    replay = at.session_state["replay"]
    assert replay.position_s == 0.0 and len(replay.predictions) == 0
    spec = _chart_spec(at, chart=1)  # the strip, then the timeline
    line = next(layer for layer in spec["layer"] if layer["data"]["name"] == "p")
    # was [0, 1]: one second, the expert's seizure (40-70 s) out of view, a blank chart
    assert line["encoding"]["x"]["scale"]["domain"] == [0.0, 120.0]
    assert any(layer["data"]["name"] == "sz" for layer in spec["layer"])


# --------------------------------------------------------------------------- leads shown
def test_the_leads_shown_are_the_ones_chosen(data_dir):
    """With V1 alone chosen, MLII was drawn anyway; with none chosen, every lead was."""
    import wfdb

    header = next(data_dir.rglob("*.hea"))
    base = str(header.with_suffix(""))
    rec = wfdb.rdrecord(base)
    mlii = rec.p_signal[:, 0]
    wfdb.wrsamp(header.stem, fs=rec.fs, units=["mV", "mV"], sig_name=["MLII", "V1"],
                p_signal=np.stack([mlii, -0.6 * mlii], axis=1), fmt=["16", "16"],
                write_dir=str(header.parent))  # fmt: skip
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception

    def trace_caption() -> str:
        return next(c.value for c in at.caption if "calibration bar per lead" in c.value)

    assert trace_caption().startswith("Lead MLII (the model's, averaged with V1) first, then V1;")
    (box,) = [m for m in at.sidebar.multiselect if m.label == "Leads shown"]
    box.set_value(["V1"]).run()
    assert not at.exception, at.exception
    assert trace_caption().startswith(
        "Lead V1 (not shown: the model's lead MLII, averaged with V1);")
    box.set_value([]).run()
    assert trace_caption().startswith("Lead MLII (the model's, averaged with V1);")
