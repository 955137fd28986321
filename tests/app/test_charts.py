"""The live charts' Vega-Lite specs: what each layer draws, checked on the spec."""

from __future__ import annotations

import re

import numpy as np
import pytest

from cardioliquid.app.charts import (
    CLASS_COLORS,
    ECG_ROW_FILL,
    ECG_SPACING_MV,
    EXPERT_MARK,
    LABEL_EDGE_PX,
    LABEL_MIN_PX,
    beat_timeline,
    ecg_trace,
)

AAMI = ["N", "S", "V", "F", "Q"]


def _layer(spec: dict, name: str) -> dict:
    (layer,) = [lay for lay in spec["layer"] if lay["data"]["name"] == name]
    return layer


def _color_scales(spec: dict) -> list[dict]:
    return [lay["encoding"]["color"]["scale"] for lay in spec["layer"]
            if "color" in lay.get("encoding", {})]  # fmt: skip


def _timeline(**kw) -> dict:
    t = np.arange(600.0, 700.0, 0.8)
    model = np.where(np.arange(t.size) % 7 == 3, "S", "N")
    model[::11] = "V"
    expert = np.where(np.arange(t.size) % 11 == 0, "V", "N")
    return beat_timeline((t, model), (t, expert), AAMI, (600.0, 700.0),
                         disagree_s=t[model != expert], cursor_s=695.0, **kw)  # fmt: skip


def test_the_timeline_draws_the_expert_as_a_filled_bar_with_a_legend_symbol():
    spec = _timeline()
    beats = _layer(spec, "beats")
    assert beats["mark"]["type"] == "point" and beats["mark"]["filled"]
    shape = beats["encoding"]["shape"]
    assert shape["scale"]["domain"] == ["expert", "model"]
    bar, dot = shape["scale"]["range"]
    assert bar == EXPERT_MARK and dot == "circle"  # "stroke" has no area: nothing drawn
    x0, y0, x1, y1, _ = (float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", bar))  # M H V H Z
    width, height = x1 - x0, y1 - y0
    assert 0 < width < height  # a vertical bar, "|", with area
    assert shape["legend"] and shape["legend"]["symbolFillColor"]  # the legend draws it too
    data = spec["datasets"]["beats"]
    assert (data["who"] == "expert").sum() == (data["who"] == "model").sum() > 0
    rules = _layer(spec, "disagree")
    assert rules["mark"]["type"] == "rule" and "y" not in rules["encoding"]  # across all rows
    grid = beats["encoding"]["x"]["axis"]["gridColor"]
    assert grid != rules["mark"]["color"] and int(grid[1:3], 16) < 0xF0  # grey, not pink


def test_the_timeline_lists_all_five_aami_rows_in_a_fixed_order():
    t = np.arange(10.0)
    only_n_v = beat_timeline((t, np.array(list("NNVNNNVNNN"))), None, AAMI, (0.0, 10.0))
    y = _layer(only_n_v, "beats")["encoding"]["y"]
    assert y["scale"]["domain"] == AAMI
    assert y["axis"]["labelOverlap"] is False  # no label hidden, S and F included
    shuffled = beat_timeline((t, np.full(10, "N")), None, ["Q", "V", "N", "S", "F"], (0, 10))
    assert _layer(shuffled, "beats")["encoding"]["y"]["scale"]["domain"] == AAMI
    odd = beat_timeline((t, np.full(10, "X")), None, [*AAMI, "X"], (0.0, 10.0))
    assert _layer(odd, "beats")["encoding"]["y"]["scale"]["domain"] == [*AAMI, "X"]
    assert only_n_v["height"] >= 5 * 20 + 80  # room for five rows, legend and time axis


def test_rhythm_shading_keeps_the_class_colours_on_their_own_scale():
    t = np.arange(600.0, 700.0, 0.8)
    irregular = (t > 620) & (t < 680)
    spec = _timeline(irregular=irregular, af_like=(t > 640) & (t < 660))
    assert spec["resolve"]["scale"]["color"] == "independent"
    shade = _layer(spec, "shade")["encoding"]["color"]["scale"]
    assert shade["domain"] == ["irregular rhythm", "AF-like rhythm"]
    classes = _layer(spec, "beats")["encoding"]["color"]["scale"]
    assert classes["domain"] == AAMI  # ECG classes only: no bckg or sz on an ECG chart
    assert classes["range"] == [CLASS_COLORS[c] for c in AAMI]
    kinds = set(spec["datasets"]["shade"]["kind"])
    assert kinds == {"irregular rhythm", "AF-like rhythm"}
    for scale in _color_scales(spec):
        assert not {"bckg", "sz"} & set(scale["domain"])


def _ecg(gain: float, amplitude: float = 1.0) -> dict:
    fs = 360.0
    t = np.arange(int(10 * fs)) / fs
    qrs = amplitude * np.exp(-0.5 * ((t[:, None] - np.arange(0.05, 10, 0.8)) / 0.01) ** 2)
    x = qrs.sum(axis=1)
    beats = np.arange(0.05, 10, 0.8)
    labels = np.full(beats.size, "N")
    return ecg_trace({"MLII": x, "V1": -0.5 * x}, fs, 0.0, (0.0, 10.0), gain_mm_mv=gain,
                     ref=(beats, labels), pred=(beats, labels))  # fmt: skip


def test_the_ecg_row_names_and_calibration_sit_beside_the_strip_not_over_it():
    spec = _ecg(10.0)
    texts = [lay for lay in spec["layer"] if lay["mark"]["type"] == "text"]
    assert [lay["data"]["name"] for lay in texts] == ["labels"]  # only the beat labels
    labels = spec["datasets"]["labels"]
    assert labels["t"].min() == pytest.approx(0.05)  # a beat at the strip's very start...
    axis = _layer(spec, "trace")["encoding"]["y"]["axis"]
    for name in ("expert", "model", "MLII", "V1", "1 mV bar"):
        assert name in axis["labelExpr"]  # ...while the row names are the axis's labels
    assert sorted(axis["values"], reverse=True)[:2] == sorted(set(labels["y"]), reverse=True)
    assert -ECG_SPACING_MV in axis["values"] and 0 in axis["values"]
    cal = _layer(spec, "cal")
    assert cal["encoding"]["x"] == {"value": 2}  # the left edge in pixels, at any zoom
    assert list(spec["datasets"]["cal"]["y2"] - spec["datasets"]["cal"]["y"]) == [1.0, 1.0]
    colors = _layer(spec, "labels")["encoding"]["color"]["scale"]["domain"]
    assert colors == AAMI


def test_a_trace_clipped_by_a_high_gain_says_so_and_stays_in_its_row():
    calm = _ecg(10.0)
    assert "clipped" not in calm["datasets"] and "clipped" not in str(calm["layer"])
    spec = _ecg(40.0, amplitude=1.5)
    trace = spec["datasets"]["trace"]
    half = ECG_ROW_FILL * ECG_SPACING_MV
    for k, lead in enumerate(("MLII", "V1")):
        y = trace.loc[trace["lead"] == lead, "y"] + k * ECG_SPACING_MV
        assert y.abs().max() <= half + 1e-9  # rows never overlap
    clipped = spec["datasets"]["clipped"]
    assert set(clipped["lead"]) == {"MLII", "V1"} and len(clipped) >= 2 * 12
    layer = _layer(spec, "clipped")
    assert layer["mark"]["color"] and layer["mark"]["type"] == "tick"
    axis = _layer(spec, "trace")["encoding"]["y"]["axis"]
    assert axis["labelExpr"].count("clipped") == 2
    cal = spec["datasets"]["cal"]
    assert list(cal["y2"] - cal["y"]) == [2.0, 2.0]  # 0.5 mV at 40 mm/mV: fits in the row
    assert "0.5 mV bar" in axis["labelExpr"]


def test_beat_letters_that_the_strips_edges_would_cut_are_not_drawn():
    fs = 360.0
    x = np.zeros(int(10 * fs))  # 0 to 10 s of signal
    beats = np.array([-0.3, 0.01, 2.0, 5.0, 9.99, 10.4])  # two beyond the signal, two at edges
    labels = np.array(list("VSNNVS"))
    spec = ecg_trace({"MLII": x}, fs, 0.0, (0.0, 10.0), ref=(beats, labels),
                     pred=(beats[:3], labels[:3]))  # fmt: skip
    data = spec["datasets"]["labels"]
    # a letter beyond the signal sent sits over no trace, and half of it outside the strip
    assert data.loc[data["row"] == "expert", "t"].tolist() == [0.01, 2.0, 5.0, 9.99]
    assert data.loc[data["row"] == "model", "t"].tolist() == [0.01, 2.0]
    # one nearer the strip's left or right edge than half a letter is not drawn, at any zoom
    text = _layer(spec, "labels")["encoding"]["text"]
    assert text["field"] == "label" and text["condition"]["value"] == ""
    test = text["condition"]["test"]
    assert f"scale('x', datum.t) < {LABEL_EDGE_PX}" in test
    assert f"scale('x', datum.t) > width - {LABEL_EDGE_PX}" in test
    assert 4 <= LABEL_EDGE_PX <= 10  # half a 13 px bold capital, not a wide blank margin


def test_crowded_n_letters_give_way_to_the_ectopic_ones():
    """At 60 s on screen a fast rhythm piled its letters into a bar: an N letter nearer its
    neighbour than a letter's width is not drawn, whatever the zoom; S and V always are."""
    fs = 360.0
    beats = np.array([1.0, 1.4, 1.8, 5.0, 5.4, 9.0])
    labels = np.array(list("NVNNNS"))
    spec = ecg_trace({"MLII": np.zeros(int(10 * fs))}, fs, 0.0, (0.0, 10.0),
                     ref=(beats, labels))  # fmt: skip
    data = spec["datasets"]["labels"]
    np.testing.assert_allclose(data["gap"], [0.4, 0.4, 0.4, 0.4, 0.4, 3.6])
    test = _layer(spec, "labels")["encoding"]["text"]["condition"]["test"]
    assert (f"datum.label == 'N' && scale('x', datum.t + datum.gap) - scale('x', datum.t) < "
            f"{LABEL_MIN_PX}") in test
    assert 10 <= LABEL_MIN_PX <= 16  # about a 13 px bold capital's width
