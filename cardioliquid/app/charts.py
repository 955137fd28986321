"""Interactive Vega-Lite charts for the live replay (no Streamlit here).

The specs are plain Vega-Lite dictionaries with their data as named pandas
datasets (``st.vega_lite_chart`` sends those as Arrow): building one takes a
few milliseconds, where the same chart through Altair's validated objects
took about 300 ms per frame on this machine. Every chart zooms and pans along
time with the mouse wheel and drag (double click resets). The ECG shows every
lead of the recording, stacked, with a 1 mV calibration bar per lead, the
expert's and the model's beat labels, the beats where they differ, the stretch
not decided yet, poor signal and the attribution of the explained beat. The
EEG shows each channel auto-scaled to its own robust amplitude (the scale
written beside its name) times a gain. Signals are reduced to at most
:data:`MAX_POINTS` points per trace by keeping each bucket's minimum and
maximum, so peaks survive.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from cardioliquid.io.labels import AAMI_CLASSES
from cardioliquid.signal.quality import true_runs

Spec = dict[str, Any]
# Shared with the matplotlib figures (app.plots), defined here so the page loads
# without matplotlib.
CLASS_COLORS = {
    "N": "#2b6cb0", "S": "#d69e2e", "V": "#c53030", "F": "#805ad5", "Q": "#718096",
    "bckg": "#2b6cb0", "sz": "#c53030",
}  # fmt: skip
MAX_POINTS = 2400
"""Points per trace sent to the browser (pairs of bucket minimum and maximum)."""
ECG_SPACING_MV = 3.0
"""Vertical room per ECG lead at 10 mm/mV (mV)."""
ECG_PX_PER_LEAD = 170
EEG_PX_PER_CHANNEL = 30
TIMELINE_PX, TIMELINE_PX_PER_ROW = 100, 24
"""Beat timeline height: legend and time axis, plus each class row."""
DISAGREE = "#e53e3e"
PENDING = "#a0aec0"
ATTRIBUTION = "#dd6b20"
EXPERT_MARK = "M-0.3,-1.9H0.3V1.9H-0.3Z"
"""The expert's beat mark on the timeline: a filled vertical bar (``|``), as an SVG path.

Vega scales a symbol path by the mark size as if it spanned -1..1, so this bar
is about twice the model's dot in height."""
CLIP_COLOR = "#b83280"
"""ECG samples cut at the edge of their lead's row (gain too high)."""
ECG_ROW_FILL = 0.48
"""Share of the lead spacing a trace may swing either side of its baseline (rows never touch)."""
LABEL_EDGE_PX = 6
"""A beat letter centred nearer than this to the strip's left or right edge is not drawn
(half a 13 px bold capital, and a pixel to spare): it would be cut in half by the edge."""
LABEL_MIN_PX = 12
"""An N letter nearer than this to its row's neighbour is not drawn (a 13 px bold capital is
about 10 px wide): at 60 s on screen a fast rhythm would pile its letters into a bar."""


def ecg_classes(classes: Sequence[str] = ()) -> list[str]:
    """The five AAMI classes in their fixed order, then any other class in ``classes``."""
    return list(AAMI_CLASSES) + [c for c in dict.fromkeys(map(str, classes))
                                 if c not in AAMI_CLASSES]  # fmt: skip


def _class_scale(classes: Sequence[str]) -> dict[str, list[str]]:
    """Colour of each beat class; only ECG classes on ECG charts (no EEG ``bckg``/``sz``)."""
    domain = list(classes)
    return {"domain": domain, "range": [CLASS_COLORS.get(c, "#4a5568") for c in domain]}


def display_names(names: Sequence[str]) -> list[str]:
    """Channel names without the ``-0``/``-1`` suffix a reader adds to duplicate names.

    A recording that lists ``T8-P8`` twice is read as ``T8-P8-0`` and
    ``T8-P8-1``; on screen they become ``T8-P8`` and ``T8-P8 (2)``. Names whose
    suffix is not such a duplicate marker are kept.
    """
    import re

    bases = [re.sub(r"-\d+$", "", n) if re.search(r"-\d+$", n) else n for n in names]
    out, seen = [], {}
    for name, base in zip(names, bases, strict=True):
        dup = base != name and (bases.count(base) > 1 or base in names or name.endswith("-0"))
        shown = base if dup else name
        seen[shown] = seen.get(shown, 0) + 1
        out.append(shown if seen[shown] == 1 else f"{shown} ({seen[shown]})")
    return out


def minmax_decimate(t: np.ndarray, x: np.ndarray, max_points: int = MAX_POINTS
                    ) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` (time, value) pairs keeping each bucket's extremes, in time order.

    Buckets that are all NaN (a signal gap) stay NaN, so the line breaks there.
    """
    t, x = np.asarray(t, float), np.asarray(x, float)
    n = x.size
    if n <= max_points:
        return t, x
    size = int(np.ceil(n / (max_points // 2)))
    m = n // size
    xb = x[: m * size].reshape(m, size)
    tb = t[: m * size].reshape(m, size)
    filled = np.where(np.isfinite(xb), xb, np.inf)
    lo = np.argmin(filled, axis=1)
    hi = np.argmax(np.where(np.isfinite(xb), xb, -np.inf), axis=1)
    first, second = np.minimum(lo, hi), np.maximum(lo, hi)
    rows = np.arange(m)
    tt = np.column_stack([tb[rows, first], tb[rows, second]]).ravel()
    xx = np.column_stack([xb[rows, first], xb[rows, second]]).ravel()
    return tt, xx


def _zoom() -> dict[str, Any]:
    return {"name": "zoom", "select": {"type": "interval", "encodings": ["x"]}, "bind": "scales"}


def _x(window: tuple[float, float], title: str = "time (s)") -> dict[str, Any]:
    return {"field": "t", "type": "quantitative", "title": title,
            "scale": {"domain": [float(window[0]), float(window[1])], "nice": False,
                      "zero": False},
            "axis": {"tickMinStep": 0.2, "gridColor": "#f3c5c5", "labelFontSize": 11}}  # fmt: skip


def _band(name: str, color: str | dict, opacity: float, **extra: Any) -> Spec:
    enc = {"x": {"field": "t", "type": "quantitative"}, "x2": {"field": "t2"}}
    enc.update(extra)
    mark = {"type": "rect", "opacity": opacity}
    if isinstance(color, str):
        mark["color"] = color
    else:
        enc["color"] = color
    return {"data": {"name": name}, "mark": mark, "encoding": enc}


def _chart(layers: list[Spec], datasets: dict[str, pd.DataFrame], height: int) -> Spec:
    return {"$schema": "https://vega.github.io/schema/vega-lite/v6.json", "height": height,
            "layer": layers, "datasets": datasets}  # fmt: skip


def _tip(field: str, fmt: str | None = None, title: str | None = None,
         kind: str = "quantitative") -> dict[str, Any]:
    tip: dict[str, Any] = {"field": field, "type": kind}
    if fmt:
        tip["format"] = fmt
    if title:
        tip["title"] = title
    return tip


def _nearest_gap(t: np.ndarray) -> np.ndarray:
    """Seconds from each time in ``t`` (ascending) to its nearer neighbour (1e6 when alone)."""
    gaps = np.diff(t)
    before = np.concatenate([[1e6], gaps])
    after = np.concatenate([gaps, [1e6]])
    return np.minimum(before, after)


def ecg_trace(
    leads: dict[str, np.ndarray],
    fs: float,
    start_s: float,
    window: tuple[float, float],
    gain_mm_mv: float = 10.0,
    ref: tuple[np.ndarray, np.ndarray] | None = None,
    pred: tuple[np.ndarray, np.ndarray] | None = None,
    disagree_s: np.ndarray | None = None,
    pending: tuple[float, float] | None = None,
    bad: Sequence[tuple[float, float]] = (),
    attribution: tuple[np.ndarray, np.ndarray] | None = None,
    ahead: tuple[float, float] | None = None,
) -> Spec:
    """Every ECG lead stacked, with beat labels, disagreements and attribution.

    Parameters
    ----------
    leads : dict of str to ndarray
        Name and samples (mV) of each lead, all starting at ``start_s``; the
        first is the lead the model reads.
    fs : float
        Sampling rate (Hz).
    start_s : float
        Time of the first sample.
    window : (float, float)
        Time range shown at first (the user can zoom and pan).
    gain_mm_mv : float
        Display gain; 10 mm/mV is the standard, 20 doubles the amplitude.
    ref, pred : (times, labels), optional
        Expert and model beat labels, drawn in two rows above the leads.
    disagree_s : ndarray, optional
        Beats where model and expert differ: a red band across the strip.
    pending : (float, float), optional
        Signal received but not decided yet (the stream's delay), shaded.
    bad : sequence of (start, end)
        Poor-quality stretches.
    attribution : (times, weights), optional
        Integrated-gradients weight (0..1) of each input sample of the explained
        beat, drawn as an orange band behind the first lead.
    ahead : (float, float), optional
        Signal past the cursor (the first seconds before Play), shaded lighter.

    The row names (``expert``, ``model``, each lead's name) are the y axis's
    labels, left of the strip, so no beat label or QRS covers them at any zoom;
    each lead's calibration bar (1 mV; 0.5 mV or less where 1 mV would not fit
    in the row at a high gain, as its label says) stays at the strip's left
    edge, beside its name.
    Each trace stays within its own row (:data:`ECG_ROW_FILL` of the lead
    spacing either side of its baseline); a sample cut at that edge (a high
    gain) is marked in :data:`CLIP_COLOR` and its lead's name says "clipped".
    Beat letters are drawn for the beats of the signal sent, and not within
    :data:`LABEL_EDGE_PX` of the strip's left or right edge at any zoom, where
    the edge would cut them in half.

    Returns
    -------
    dict
        A Vega-Lite spec with its data under ``"datasets"``.
    """
    names = list(leads)
    g = gain_mm_mv / 10.0
    half = ECG_ROW_FILL * ECG_SPACING_MV
    # the calibration pulse: 1 mV, or less where 1 mV would not fit in a row (high gain)
    cal_mv = next((mv for mv in (1.0, 0.5, 0.25, 0.1) if mv * g <= 1.8 * half), 0.1)
    bar = f"{cal_mv:g} mV bar"
    rows, cal, clipped, names_shown = [], [], [], []
    for k, name in enumerate(names):
        x = np.asarray(leads[name], dtype=float)
        t = start_s + np.arange(x.size) / fs
        finite = x[np.isfinite(x)]
        centre = float(np.median(finite)) if finite.size else 0.0
        tt, xx = minmax_decimate(t, x)
        offset = -k * ECG_SPACING_MV
        raw = offset + g * (xx - centre)
        y = np.clip(raw, offset - half, offset + half)
        cut = np.isfinite(raw) & (raw != y)
        rows.append(pd.DataFrame({"t": tt, "y": y, "lead": name, "mV": xx}))
        if cut.any():
            clipped.append(pd.DataFrame({"t": tt[cut], "y": y[cut], "lead": name,
                                         "mV": xx[cut]}))  # fmt: skip
        cal.append({"y": offset - 0.5 * g * cal_mv, "y2": offset + 0.5 * g * cal_mv})
        names_shown.append([name, bar, "clipped"] if cut.any() else [name, bar])
    data: dict[str, pd.DataFrame] = {"trace": pd.concat(rows, ignore_index=True),
                                     "cal": pd.DataFrame(cal)}  # fmt: skip
    top = ECG_SPACING_MV / 2
    bottom = -(len(names) - 0.5) * ECG_SPACING_MV
    label_y = {"expert": top + 0.85, "model": top + 0.35}
    y_scale = {"domain": [bottom, top + 1.2], "nice": False}
    # y axis: the two label rows, then each lead at its baseline (0, -spacing, ...)
    ticks = list(label_y.values()) + [-k * ECG_SPACING_MV for k in range(len(names))]
    texts = ["expert", "model", *names_shown]
    pick = (f"datum.value > {top + 0.6:g} ? 0 : datum.value > {top + 0.1:g} ? 1 : "
            f"2 + round(-datum.value / {ECG_SPACING_MV:g})")  # fmt: skip
    label_expr = json.dumps(texts) + "[" + pick + "]"
    y_axis = {"values": ticks, "labelExpr": label_expr, "title": None, "grid": False,
              "ticks": False, "domain": False, "labelFontSize": 11, "labelLimit": 160,
              "labelColor": "#2d3748", "labelFontWeight": "bold", "labelPadding": 10,
              "labelLineHeight": 14}  # fmt: skip
    layers: list[Spec] = []
    bands = [{"t": b0, "t2": b1, "kind": "poor signal"} for b0, b1 in bad]
    if pending and pending[1] > pending[0]:
        bands.append({"t": pending[0], "t2": pending[1], "kind": "not decided yet"})
    if ahead and ahead[1] > ahead[0]:
        bands.append({"t": ahead[0], "t2": ahead[1], "kind": "not replayed yet"})
    if bands:
        data["bands"] = pd.DataFrame(bands)
        layers.append(_band("bands", PENDING, 0.2, tooltip=[_tip("kind", kind="nominal"),
                                                            _tip("t", ".1f", "from"),
                                                            _tip("t2", ".1f", "to")]))  # fmt: skip
    if disagree_s is not None and len(disagree_s):
        d = np.asarray(disagree_s, float)
        data["disagree"] = pd.DataFrame({"t": d - 0.12, "t2": d + 0.12})
        layers.append(_band("disagree", DISAGREE, 0.22))
    if attribution is not None and len(attribution[0]):
        at_t, at_w = (np.asarray(a, float) for a in attribution)
        step = float(np.median(np.diff(at_t))) if len(at_t) > 1 else 1.0 / fs
        data["attribution"] = pd.DataFrame({"t": at_t - step / 2, "t2": at_t + step / 2,
                                            "weight": at_w, "y": -top, "y2": top})  # fmt: skip
        layers.append({"data": {"name": "attribution"}, "mark": {"type": "rect",
                                                                 "color": ATTRIBUTION},
                       "encoding": {"x": {"field": "t", "type": "quantitative"},
                                    "x2": {"field": "t2"},
                                    "y": {"field": "y", "type": "quantitative"},
                                    "y2": {"field": "y2"},
                                    "opacity": {"field": "weight", "type": "quantitative",
                                                "scale": {"domain": [0, 1], "range": [0, 0.55]},
                                                "legend": None},
                                    "tooltip": [_tip("weight", ".2f", "attribution")]},
                       })  # fmt: skip
    layers.append({
        "data": {"name": "trace"}, "params": [_zoom()],
        "mark": {"type": "line", "color": "#1a202c", "strokeWidth": 1.1, "clip": True},
        "encoding": {"x": _x(window), "y": {"field": "y", "type": "quantitative",
                                            "axis": y_axis, "scale": y_scale},
                     "detail": {"field": "lead", "type": "nominal"},
                     "tooltip": [_tip("lead", kind="nominal"), _tip("t", ".3f", "time (s)"),
                                 _tip("mV", ".2f")]},
    })  # fmt: skip
    # the calibration bars stand at the strip's left edge (in pixels), whatever the zoom
    layers.append({"data": {"name": "cal"}, "mark": {"type": "rule", "strokeWidth": 2.5,
                                                     "color": "#2d3748"},
                   "encoding": {"x": {"value": 2},
                                "y": {"field": "y", "type": "quantitative"},
                                "y2": {"field": "y2"}}})  # fmt: skip
    if clipped:
        data["clipped"] = pd.concat(clipped, ignore_index=True)
        layers.append({"data": {"name": "clipped"},
                       "mark": {"type": "tick", "orient": "vertical", "color": CLIP_COLOR,
                                "thickness": 2, "size": 8, "clip": True},
                       "encoding": {"x": {"field": "t", "type": "quantitative"},
                                    "y": {"field": "y", "type": "quantitative"},
                                    "tooltip": [_tip("lead", kind="nominal"),
                                                _tip("t", ".3f", "time (s)"),
                                                _tip("mV", ".2f", "mV (clipped)")]}})  # fmt: skip
    # beat letters: only those of the signal sent (a letter beyond it sits over no trace), and
    # none within LABEL_EDGE_PX of the strip's edges at any zoom, where the edge would cut it
    span = (start_s, start_s + max(len(x) for x in leads.values()) / fs) if leads else window
    labels = []
    for row, b in (("expert", ref), ("model", pred)):
        if b is None or not len(b[0]):
            continue
        t, lab = np.asarray(b[0], float), np.asarray(b[1], str)
        inside = (t >= span[0]) & (t <= span[1])
        t, lab = t[inside], lab[inside]
        labels.append(pd.DataFrame({"t": t, "y": label_y[row], "label": lab, "row": row,
                                    "gap": _nearest_gap(t)}))  # fmt: skip
    labels = [df for df in labels if len(df)]
    if labels:
        data["labels"] = pd.concat(labels, ignore_index=True)
        data_labels = sorted(set(data["labels"]["label"]))
        at_edge = (f"scale('x', datum.t) < {LABEL_EDGE_PX} || "
                   f"scale('x', datum.t) > width - {LABEL_EDGE_PX}")  # fmt: skip
        # zoomed out (60 s of fast rhythm), letters closer than a letter's width would pile
        # up: the N letters give way, the ectopic ones (what the eye looks for) stay
        crowded = (f"datum.label == 'N' && "
                   f"scale('x', datum.t + datum.gap) - scale('x', datum.t) < {LABEL_MIN_PX}")
        at_edge = f"({at_edge}) || ({crowded})"
        layers.append({"data": {"name": "labels"},
                       "mark": {"type": "text", "fontSize": 13, "fontWeight": "bold"},
                       "encoding": {"x": {"field": "t", "type": "quantitative"},
                                    "y": {"field": "y", "type": "quantitative"},
                                    "text": {"field": "label", "type": "nominal",
                                             "condition": {"test": at_edge, "value": ""}},
                                    "color": {"field": "label", "type": "nominal",
                                              "scale": _class_scale(ecg_classes(
                                                  data_labels)), "legend": None},
                                    "tooltip": [_tip("row", kind="nominal"),
                                                _tip("label", kind="nominal"),
                                                _tip("t", ".2f", "time (s)")]}})  # fmt: skip
    return _chart(layers, data, ECG_PX_PER_LEAD * len(names) + 40)


def eeg_trace(
    signal_uv: np.ndarray,
    fs: float,
    start_s: float,
    names: Sequence[str],
    window: tuple[float, float],
    gain: float = 1.0,
    ref_seizures: Sequence[tuple[float, float]] = (),
    pred_seizures: Sequence[tuple[float, float]] = (),
    bad: Sequence[tuple[float, float]] = (),
    pending: tuple[float, float] | None = None,
    ahead: tuple[float, float] | None = None,
) -> Spec:
    """EEG channels stacked, each auto-scaled to its own robust amplitude, times ``gain``.

    Each channel is divided by 3 robust standard deviations (1.4826 × MAD) of
    what is on screen, so a quiet channel and an ictal one both stay readable;
    beside each name is the amplitude that fills half its row (µV).
    """
    shown = display_names(list(names))
    rows, ticks = [], []
    for k, name in enumerate(shown):
        x = np.asarray(signal_uv[k], dtype=float)
        t = start_s + np.arange(x.size) / fs
        finite = x[np.isfinite(x)]
        centre = float(np.median(finite)) if finite.size else 0.0
        mad = float(np.median(np.abs(finite - centre))) * 1.4826 if finite.size else 0.0
        unit = max(3.0 * mad, 1.0)  # µV per channel spacing at gain 1
        tt, xx = minmax_decimate(t, x, MAX_POINTS // 2)
        y = -k + np.clip(gain * (xx - centre) / unit, -0.9, 0.9)
        rows.append(pd.DataFrame({"t": tt, "y": y, "channel": name, "uV": xx}))
        ticks.append(f"{name}  ±{unit / gain / 2:.0f} µV")
    data: dict[str, pd.DataFrame] = {"trace": pd.concat(rows, ignore_index=True)}
    label_expr = "[" + ",".join(repr(s) for s in ticks) + "][-datum.value]"
    layers: list[Spec] = []
    kinds = ["expert seizure", "model detection", "poor signal", "not decided yet",
             "not replayed yet"]
    bands = [{"t": a, "t2": b, "kind": "expert seizure"} for a, b in ref_seizures]
    bands += [{"t": a, "t2": b, "kind": "model detection"} for a, b in pred_seizures]
    bands += [{"t": a, "t2": b, "kind": "poor signal"} for a, b in bad]
    if pending and pending[1] > pending[0]:
        bands.append({"t": pending[0], "t2": pending[1], "kind": "not decided yet"})
    if ahead and ahead[1] > ahead[0]:
        bands.append({"t": ahead[0], "t2": ahead[1], "kind": "not replayed yet"})
    if bands:
        data["bands"] = pd.DataFrame(bands)
        color = {"field": "kind", "type": "nominal", "legend": {"orient": "top", "title": None},
                 "scale": {"domain": kinds,
                           "range": ["#feb2b2", "#dd6b20", "#718096", PENDING, "#e2e8f0"]},
                 }  # fmt: skip
        layers.append(_band("bands", color, 0.3))
    layers.append({
        "data": {"name": "trace"}, "params": [_zoom()],
        "mark": {"type": "line", "color": "#1a202c", "strokeWidth": 0.8, "clip": True},
        "encoding": {
            "x": _x(window),
            "y": {"field": "y", "type": "quantitative", "title": None,
                  "scale": {"domain": [-(len(shown) - 0.2), 1.0], "nice": False},
                  "axis": {"values": [-k for k in range(len(shown))], "labelExpr": label_expr,
                           "grid": False, "labelFontSize": 11, "labelLimit": 240}},
            "detail": {"field": "channel", "type": "nominal"},
            "tooltip": [_tip("channel", kind="nominal"), _tip("t", ".2f", "time (s)"),
                        _tip("uV", ".0f", "µV")]},
    })  # fmt: skip
    return _chart(layers, data, EEG_PX_PER_CHANNEL * len(shown) + 50)


def beat_timeline(
    pred: tuple[np.ndarray, np.ndarray],
    ref: tuple[np.ndarray, np.ndarray] | None,
    classes: Sequence[str],
    window: tuple[float, float],
    disagree_s: np.ndarray | None = None,
    irregular: np.ndarray | None = None,
    af_like: np.ndarray | None = None,
    cursor_s: float | None = None,
) -> Spec:
    """Model (dots) against expert (bars) class of every decided beat, zoomable.

    One row per class, the five AAMI classes always in the same order (then any
    other class of the model's), the expert's bar above the model's dot; thin red
    rules across all rows mark the beats where they differ. ``irregular`` and
    ``af_like`` (one flag per model beat) shade stretches the AF test flags: grey
    where the irregularity is not AF-specific, yellow where it is. The shading
    and the class colours have independent colour scales and legends.
    """
    times, labels = np.asarray(pred[0], float), np.asarray(pred[1], str)
    parts = [pd.DataFrame({"t": times, "class": labels, "who": "model"})]
    if ref is not None:
        parts.append(pd.DataFrame({"t": np.asarray(ref[0], float),
                                   "class": np.asarray(ref[1], str), "who": "expert"}))  # fmt: skip
    beats = pd.concat(parts, ignore_index=True)
    rows = ecg_classes(list(classes) + sorted(set(beats["class"])))
    data: dict[str, pd.DataFrame] = {"beats": beats}
    layers: list[Spec] = []
    shade = []
    if irregular is not None:
        irregular = np.asarray(irregular, bool)
        af_like = np.zeros_like(irregular) if af_like is None else np.asarray(af_like, bool)
        for flags, kind in ((irregular & ~af_like, "irregular rhythm"),
                            (af_like, "AF-like rhythm")):  # fmt: skip
            shade += [{"t": times[a], "t2": times[b - 1], "kind": kind}
                      for a, b in true_runs(flags)]  # fmt: skip
    if shade:
        data["shade"] = pd.DataFrame(shade)
        color = {"field": "kind", "type": "nominal",
                 "legend": {"orient": "top", "title": None, "symbolType": "square"},
                 "scale": {"domain": ["irregular rhythm", "AF-like rhythm"],
                           "range": ["#cbd5e0", "#faf089"]}}  # fmt: skip
        layers.append(_band("shade", color, 0.45))
    if disagree_s is not None and len(disagree_s):
        data["disagree"] = pd.DataFrame({"t": np.asarray(disagree_s, float)})
        layers.append({"data": {"name": "disagree"},
                       "mark": {"type": "rule", "color": DISAGREE, "opacity": 0.35,
                                "strokeWidth": 1},
                       "encoding": {"x": {"field": "t", "type": "quantitative"}}})  # fmt: skip
    x = _x(window)
    x["axis"]["gridColor"] = "#e2e8f0"  # grey: a red grid would read as disagreements
    layers.append({
        "data": {"name": "beats"}, "params": [_zoom()],
        "mark": {"type": "point", "filled": True, "opacity": 0.9, "size": 30},
        "encoding": {
            "x": x,
            "y": {"field": "class", "type": "nominal", "title": None,
                  "scale": {"domain": rows},
                  "axis": {"labelOverlap": False, "labelFontSize": 11, "labelFontWeight": "bold",
                           "ticks": False, "domain": False}},
            "yOffset": {"field": "who", "type": "nominal",
                        "scale": {"domain": ["expert", "model"], "paddingOuter": 0.3}},
            "color": {"field": "class", "type": "nominal", "scale": _class_scale(rows),
                      "legend": None},
            "shape": {"field": "who", "type": "nominal",
                      "scale": {"domain": ["expert", "model"], "range": [EXPERT_MARK, "circle"]},
                      "legend": {"orient": "top", "title": None, "symbolFillColor": "#4a5568",
                                 "symbolStrokeWidth": 0, "symbolSize": 30, "labelExpr":
                                 "datum.label == 'expert' ? 'expert (|)' : 'model (●)'"}},
            "tooltip": [_tip("who", kind="nominal"), _tip("class", kind="nominal"),
                        _tip("t", ".2f", "time (s)")]},
    })  # fmt: skip
    if cursor_s is not None:
        data["cursor"] = pd.DataFrame({"t": [float(cursor_s)]})
        layers.append({"data": {"name": "cursor"},
                       "mark": {"type": "rule", "color": "#2d3748", "strokeDash": [4, 3]},
                       "encoding": {"x": {"field": "t", "type": "quantitative"}}})  # fmt: skip
    spec = _chart(layers, data, TIMELINE_PX + TIMELINE_PX_PER_ROW * len(rows))
    spec["resolve"] = {"scale": {"color": "independent"}}  # shading apart from the classes
    return spec


def seizure_timeline(
    end_s: np.ndarray,
    proba: np.ndarray,
    ref_seizures: Sequence[tuple[float, float]],
    window: tuple[float, float],
    threshold: float = 0.5,
    cursor_s: float | None = None,
) -> Spec:
    """Seizure probability per window against the expert-marked seizures, zoomable."""
    data: dict[str, pd.DataFrame] = {
        "p": pd.DataFrame({"t": np.asarray(end_s, float), "p": np.asarray(proba, float)}),
        "thr": pd.DataFrame({"p": [threshold]}),
    }
    layers: list[Spec] = []
    if ref_seizures:
        data["sz"] = pd.DataFrame([{"t": a, "t2": b} for a, b in ref_seizures])
        layers.append(_band("sz", "#feb2b2", 0.6))
    layers.append({"data": {"name": "p"}, "params": [_zoom()],
                   "mark": {"type": "line", "color": "#c53030", "clip": True},
                   "encoding": {"x": _x(window),
                                "y": {"field": "p", "type": "quantitative", "title": "P(seizure)",
                                      "scale": {"domain": [0, 1]}},
                                "tooltip": [_tip("t", ".1f", "time (s)"), _tip("p", ".2f")]},
                   })  # fmt: skip
    layers.append({"data": {"name": "thr"},
                   "mark": {"type": "rule", "strokeDash": [4, 3], "color": "#4a5568"},
                   "encoding": {"y": {"field": "p", "type": "quantitative"}}})  # fmt: skip
    if cursor_s is not None:
        data["cursor"] = pd.DataFrame({"t": [float(cursor_s)]})
        layers.append({"data": {"name": "cursor"},
                       "mark": {"type": "rule", "color": "#2d3748", "strokeDash": [4, 3]},
                       "encoding": {"x": {"field": "t", "type": "quantitative"}}})  # fmt: skip
    return _chart(layers, data, 200)
