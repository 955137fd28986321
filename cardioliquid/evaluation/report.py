"""Evaluation reports: JSON, Markdown tables and plots, each written atomically.

Every file is first written under a temporary name in the same folder and
renamed when complete (``os.replace``), so a crash never leaves a half-written
report behind.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from cardioliquid._atomic import atomic_write as _atomic
from cardioliquid._atomic import atomic_write_text
from cardioliquid.models.provenance import provenance_line


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write_text(path, text)


def write_json(path: str | os.PathLike, data: dict[str, Any]) -> Path:
    """Write ``data`` as indented JSON, atomically (NaN written as ``null``)."""
    return write_text(path, json.dumps(_jsonable(data), indent=2) + "\n")


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        return None if not np.isfinite(x) else float(x)
    return x


def _savefig(fig: Any, path: str | os.PathLike) -> Path:
    import matplotlib.pyplot as plt

    try:
        return _atomic(path, lambda p: fig.savefig(p, format="png", dpi=120, bbox_inches="tight"))
    finally:
        plt.close(fig)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# ----------------------------------------------------------------------------- formatting


def _f(v: float | None, digits: int = 2) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def _interval(ci: list[float] | None) -> str:
    return "–" if not ci else f"{ci[0]:.1f}–{ci[1]:.1f}"


def _provenance(result: dict[str, Any]) -> str | None:
    """The report's line on whether the model saw the records' patients (None: not known)."""
    summary = result.get("provenance")
    return provenance_line(summary).removeprefix("patients: ") if summary else None


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- arrhythmia

PUBLISHED_DS2: dict[str, tuple[float, float, float, float]] = {
    "de Chazal et al. 2004": (75.9, 38.5, 77.7, 81.9),
    "Zhang et al. 2014": (79.1, 36.0, 85.5, 92.7),
    "Mar et al. 2011": (83.2, 33.5, 86.8, 75.9),
}
"""Published inter-patient results on MIT-BIH DS2: SVEB Se, SVEB +P, VEB Se, VEB +P (%)."""


def plot_confusion(
    confusion: list[list[int]] | np.ndarray,
    labels: list[str],
    path: str | os.PathLike,
    title: str = "Beat classification (rows: reference, columns: algorithm)",
) -> Path:
    """Save a confusion-matrix heat map (row-normalised colours, raw counts) as PNG."""
    plt = _pyplot()
    c = np.asarray(confusion, dtype=np.int64)
    rows = c.sum(axis=1, keepdims=True)
    frac = np.divide(c, rows, out=np.zeros(c.shape, dtype=float), where=rows > 0)
    fig, ax = plt.subplots(figsize=(1.1 * len(labels) + 2, 1.0 * len(labels) + 1.5))
    ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    for i in range(c.shape[0]):
        for j in range(c.shape[1]):
            ax.text(
                j,
                i,
                f"{c[i, j]}",
                ha="center",
                va="center",
                color="white" if frac[i, j] > 0.5 else "black",
                fontsize=9,
            )
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("algorithm")
    ax.set_ylabel("reference")
    ax.set_title(title, fontsize=10)
    return _savefig(fig, path)


def arrhythmia_markdown(
    result: dict[str, Any], figure: str | None = None, title: str = "Arrhythmia evaluation"
) -> str:
    """Markdown report of :func:`cardioliquid.evaluation.ec57.summarize` output."""
    out = [f"# {title}", ""]
    made = result.get("predictions") if result.get("source") == "predictions" else None
    meta = [
        ("mode", result.get("mode")),
        ("model", result.get("model")),
        ("calls", None if not made else "read from `cardioliquid score` predictions in "
         f"`{made.get('folder')}`, not made by this evaluation"
         + (f" ({made['note']})" if made.get("note") else "")),
        ("model sha256", (result.get("model_sha256") or "")[:16] or None),
        ("AF gate", {True: "on (S calls in AF-like rhythm reported as N)", False: "off"}.get(
            result.get("af_gate"))),
        ("records", result.get("n_records")),
        ("patients", _provenance(result)),
        ("beats scored", result.get("n_beats")),
        ("match window", f"{result.get('window_s', 0.15)} s"),
        ("scored from", f"{result.get('start_s', 0)} s into each record"),
    ]
    out += [f"- **{k}**: {v}" for k, v in meta if v is not None]
    out += ["", "## EC57 ectopic-beat statistics (%)", ""]
    rows = []
    ci = result.get("ci95") or {}
    for key, name in (("veb", "VEB"), ("sveb", "SVEB")):
        s = result[key]
        avg = s.get("average", {})
        rows.append(
            [
                name,
                _f(s["se"]),
                _interval((ci.get(key) or {}).get("se")),
                _f(s["ppv"]),
                _interval((ci.get(key) or {}).get("ppv")),
                _f(s["fpr"], 3),
                _f(avg.get("se")),
                _f(avg.get("ppv")),
                _f(avg.get("fpr"), 3),
                s["tp"],
                s["fn"],
                s["fp"],
            ]
        )
    out.append(
        _table(
            [
                "class",
                "gross Se",
                "95 % CI",
                "gross +P",
                "95 % CI",
                "gross FPR",
                "avg Se",
                "avg +P",
                "avg FPR",
                "TP",
                "FN",
                "FP",
            ],
            rows,
        )
    )
    if ci.get("n_resamples"):
        ci_text = ("95 % CI: whole records resampled with replacement "
                   f"({ci['n_resamples']} resamples; percentile interval), since one record's "
                   "beats are not independent; a wide interval means a few records decide "
                   "the number.")
    else:  # one record: nothing to resample (its beats are not independent)
        ci_text = ("No 95 % CI: the intervals resample whole records, since one record's "
                   "beats are not independent, and with one record there is nothing to "
                   "resample.")
    out += [
        "",
        "Gross: counts pooled over records. Average: mean of per-record values where "
        "defined. VEB false positives exclude fusion (Fv) and unclassifiable (Qv) beats; "
        "SVEB false positives exclude Qs (ANSI/AAMI EC57, WFDB `bxb`). " + ci_text,
        "",
    ]
    if ci.get("accuracy"):
        out += [f"Accuracy {_f(result.get('accuracy'))} %, 95 % CI "
                f"{_interval(ci['accuracy'])}.", ""]
    q = result.get("qrs")
    if q:
        out += [
            f"QRS matching: Se {_f(q['se'])} %, +P {_f(q['ppv'])} % "
            f"({q['fn']} missed, {q['fp']} extra).",
            "",
        ]
    on_ds2 = str(result.get("records_requested")).upper() == "DS2"
    if result.get("mode") == "inter-patient" and on_ds2:
        rows = [[name, *(_f(v, 1) for v in vals)] for name, vals in PUBLISHED_DS2.items()]
        rows.append(
            [
                "**this model**",
                _f(result["sveb"]["se"], 1),
                _f(result["sveb"]["ppv"], 1),
                _f(result["veb"]["se"], 1),
                _f(result["veb"]["ppv"], 1),
            ]
        )
        out += [
            "## Against published inter-patient results on DS2 (%)",
            "",
            _table(["method", "SVEB Se", "SVEB +P", "VEB Se", "VEB +P"], rows),
            "",
        ]
    out += [
        "## Per-class statistics (%)",
        "",
        _table(
            ["class", "n", "Se", "+P", "FPR"],
            [
                [c, s["n"], _f(s["se"]), _f(s["ppv"]), _f(s["fpr"], 3)]
                for c, s in result["classes"].items()
            ],
        ),
        "",
        f"Accuracy: {_f(result['accuracy'])} %",
        "",
        "## Confusion matrix",
        "",
    ]
    labels = result["confusion_labels"]
    out.append(
        _table(
            ["ref \\ alg", *labels],
            [[lab, *row] for lab, row in zip(labels, result["confusion"], strict=True)],
        )
    )
    if figure:
        out += ["", f"![confusion matrix]({figure})"]
    bxb = result.get("bxb_matrix")
    if bxb and (np.asarray(bxb)[5].sum() or np.asarray(bxb)[:, 5].sum()):
        out += [
            "",
            "With unmatched beats (`bxb` layout: row O = algorithm beat with no "
            "reference beat, column o = reference beat the algorithm missed):",
            "",
            _table(
                ["ref \\ alg", *result["bxb_cols"]],
                [[lab, *row] for lab, row in zip(result["bxb_rows"], bxb, strict=True)],
            ),
        ]
    out += [
        "",
        "## Per record",
        "",
        _table(
            ["record", "beats", "acc", "VEB Se", "VEB +P", "SVEB Se", "SVEB +P"],
            [
                [
                    r,
                    v["n_beats"],
                    _f(v["accuracy"]),
                    _f(v["veb"]["se"]),
                    _f(v["veb"]["ppv"]),
                    _f(v["sveb"]["se"]),
                    _f(v["sveb"]["ppv"]),
                ]
                for r, v in result["records"].items()
            ],
        ),
    ]
    errors = result.get("errors") or {}
    if errors:
        out += ["", "## Records that failed", ""] + [f"- `{k}`: {v}" for k, v in errors.items()]
    return "\n".join(out) + "\n"


def write_arrhythmia_report(result: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write the Markdown report and its confusion-matrix PNG (``<stem>_confusion.png``)."""
    path = Path(path)
    png = path.with_name(f"{path.stem}_confusion.png")
    plot_confusion(
        result["confusion"],
        result["confusion_labels"],
        png,
        title=f"{result.get('mode', '')} (rows: reference, columns: algorithm)",
    )
    return write_text(path, arrhythmia_markdown(result, figure=png.name))


# ----------------------------------------------------------------------------- seizure


def plot_timeline(timelines: dict[str, dict[str, Any]], path: str | os.PathLike) -> Path:
    """Save one row per recording: reference seizures, detected events, probability.

    ``timelines[name]`` holds ``duration_s``, ``ref`` and ``hyp`` event lists and
    optionally ``t`` / ``p`` (window times and seizure probabilities).
    """
    plt = _pyplot()
    names = list(timelines)
    fig, axes = plt.subplots(
        max(1, len(names)),
        1,
        figsize=(10, 1.2 * max(1, len(names)) + 0.8),
        squeeze=False,
        sharex=False,
        layout="constrained",
    )
    for ax, name in zip(axes[:, 0], names, strict=False):
        tl = timelines[name]
        for a, b in tl.get("ref", []):
            ax.axvspan(a, b, ymin=0.5, ymax=1.0, color="tab:red", alpha=0.6, lw=0)
        for a, b in tl.get("hyp", []):
            ax.axvspan(a, b, ymin=0.0, ymax=0.5, color="tab:blue", alpha=0.6, lw=0)
        if tl.get("t") is not None and len(tl.get("t", [])):
            ax.plot(tl["t"], tl["p"], color="black", lw=0.7)
        ax.set_xlim(0, tl.get("duration_s", 1.0))
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    axes[-1, 0].set_xlabel("time (s)   red: reference seizure, blue: detection, line: p(seizure)")
    return _savefig(fig, path)


def seizure_markdown(
    result: dict[str, Any], figure: str | None = None, title: str = "Seizure-detection evaluation"
) -> str:
    """Markdown report of :func:`cardioliquid.evaluation.seizure.summarize` output."""
    out = [f"# {title}", ""]
    meta = [
        ("mode", result.get("mode")),
        ("model", result.get("model")),
        ("model sha256", (result.get("model_sha256") or "")[:16] or None),
        ("recordings", result.get("n_records")),
        ("patients", _provenance(result)),
        ("recorded time", f"{result['duration_h']:.2f} h"),
    ]
    out += [f"- **{k}**: {v}" for k, v in meta if v is not None]
    p = result.get("params", {})
    out += [
        "",
        "## SzCORE scores",
        "",
        f"Event scoring (timescoring): any overlap, tolerance {p.get('tolerance_start_s')} s "
        f"before / {p.get('tolerance_end_s')} s after, events < {p.get('merge_gap_s')} s "
        f"apart merged, events > {p.get('max_event_s')} s split.",
        "",
    ]
    rows = []
    for key in ("event", "sample"):
        s = result[key]
        rows.append(
            [
                key,
                _f(s["se"]),
                _f(s["precision"]),
                _f(s["f1"]),
                _f(s["fa_per_24h"], 1),
                s["tp"],
                s["fp"],
                s["n_ref"],
            ]
        )
    out.append(
        _table(["scoring", "Se %", "precision %", "F1 %", "FA/24h", "TP", "FP", "reference"], rows)
    )
    w, lat = result["window"], result["latency_s"]
    ci = result["event"].get("ci95") or {}
    if ci.get("se") or ci.get("precision"):
        out += [
            "",
            f"Event sensitivity 95 % CI {_interval(ci.get('se'))} %, precision "
            f"{_interval(ci.get('precision'))} % (Wilson, each seizure or detected event one "
            "trial; seizures of one patient are not fully independent, so the true "
            "uncertainty is larger).",
        ]
    out += [
        "",
        f"Window level: sensitivity {_f(w['se'])} %, specificity {_f(w['sp'])} % "
        f"(TP {w['tp']}, FN {w['fn']}, FP {w['fp']}, TN {w['tn']}).",
        "",
        _latency_sentence(lat),
        "",
    ]
    alert = result.get("alert_latency_s")
    if alert and alert.get("n_seizures"):
        out += [_alert_sentence(alert), ""]
    if result["duration_h"] < 24:
        out += [
            f"Only {result['duration_h']:.2f} h of EEG: false alarms per 24 h are "
            "extrapolated and not a measured daily rate.",
            "",
        ]
    if figure:
        out += [f"![timeline]({figure})", ""]
    out += [
        "## Per recording",
        "",
        _table(
            [
                "recording",
                "seizures",
                "detected",
                "FP events",
                "sample Se %",
                "window Se %",
                "window Sp %",
                "latency s",
                "alert s",
            ],
            [
                [
                    r,
                    v["event"]["n_ref"],
                    v["event"]["tp"],
                    v["event"]["fp"],
                    _f(v["sample"]["se"]),
                    _f(v["window"]["se"]),
                    _f(v["window"]["sp"]),
                    _f(v["latency_s"]["median"], 1),
                    _f((v.get("alert_latency_s") or {}).get("median"), 1),
                ]
                for r, v in result["records"].items()
            ],
        ),
    ]
    errors = result.get("errors") or {}
    if errors:
        out += ["", "## Recordings that failed", ""] + [f"- `{k}`: {v}" for k, v in errors.items()]
    return "\n".join(out) + "\n"


def write_seizure_report(
    result: dict[str, Any],
    path: str | os.PathLike,
    timelines: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """Write the Markdown report and, given ``timelines``, ``<stem>_timeline.png``."""
    path = Path(path)
    figure = None
    if timelines:
        png = path.with_name(f"{path.stem}_timeline.png")
        plot_timeline(timelines, png)
        figure = png.name
    return write_text(path, seizure_markdown(result, figure=figure))


def _latency_sentence(lat: dict[str, Any]) -> str:
    unrecorded = lat.get("n_onset_unrecorded") or 0
    untimed = (f"{unrecorded} seizure(s) under way when their recording starts have no onset "
               f"to time from")
    if not lat["n_seizures"]:
        return f"Detection latency from onset: not measurable: {untimed}." if unrecorded else (
            "Detection latency from onset: no seizures.")
    return (f"Detection latency from onset: median {_f(lat['median'], 1)} s, range "
            f"{_f(lat['min'], 1)} to {_f(lat['max'], 1)} s ({lat['n_detected']}/"
            f"{lat['n_seizures']} seizures detected){'; ' + untimed if unrecorded else ''}.")


def _alert_sentence(alert: dict[str, Any]) -> str:
    return (f"Alert latency from onset (when a live monitor knows each detection: the end of "
            f"the window that completes it): median {_f(alert['median'], 1)} s, range "
            f"{_f(alert['min'], 1)} to {_f(alert['max'], 1)} s ({alert['n_alerted']}/"
            f"{alert['n_seizures']} seizures alerted). The latency above compares annotations, "
            f"as the literature does: a detected event starts where its first window starts.")


def summary_text(result: dict[str, Any]) -> str:
    """A few plain-text lines of an evaluation result, for the terminal.

    Heartbeat results give EC57 gross VEB and SVEB statistics and accuracy;
    seizure results give event sensitivity, precision and false alarms per 24 h,
    and window sensitivity and specificity.
    """
    def pct(x: Any) -> str:
        return "-" if not isinstance(x, int | float) else f"{x:.1f}"

    lines = [f"{result.get('model', '?')}, {result.get('mode', '')}"]
    if result.get("source") == "predictions":
        folder = (result.get("predictions") or {}).get("folder", "?")
        lines[0] += f" (calls read from predictions in {folder})"
    if "veb" in result:
        lines.append(f"records {result.get('n_records', '?')}, beats {result.get('n_beats', '?')}"
                     f", accuracy {pct(result.get('accuracy'))} %")
        for key, name in (("veb", "VEB "), ("sveb", "SVEB")):
            r = result[key]
            lines.append(f"{name}  Se {pct(r.get('se'))}  +P {pct(r.get('ppv'))}  "
                         f"(TP {r.get('tp', '?')}, FN {r.get('fn', '?')}, FP {r.get('fp', '?')})")
    elif "event" in result:
        ev, win = result["event"], result.get("window", {})
        hours = result.get("duration_h")
        span = (f"{pct(hours)} h" if isinstance(hours, int | float) and hours >= 1
                else f"{pct(60 * hours)} min" if isinstance(hours, int | float) else "?")
        lines.append(f"records {result.get('n_records', '?')}, {span} of EEG")
        short = isinstance(hours, int | float) and hours < 24
        lines.append(f"events   Se {pct(ev.get('se'))}  precision {pct(ev.get('precision'))}  "
                     f"false alarms/24 h {pct(ev.get('fa_per_24h'))}"
                     f"{f' (extrapolated from {span})' if short else ''}  "
                     f"({ev.get('tp', '?')} of {ev.get('n_ref', '?')} seizures)")
        lines.append(f"windows  Se {pct(win.get('se'))}  Sp {pct(win.get('sp'))}")
        lat, alert = result.get("latency_s") or {}, result.get("alert_latency_s") or {}
        if lat.get("n_detected"):
            lines.append(f"latency  median {pct(lat.get('median'))} s from onset (annotations)"
                         + (f", alert {pct(alert.get('median'))} s (when a monitor knows it)"
                            if alert.get("n_alerted") else ""))
    if result.get("provenance"):
        lines.append(provenance_line(result["provenance"]))
    if result.get("errors"):
        lines.append(f"failed: {len(result['errors'])} (each named above; in the JSON, under "
                     f"'errors')")
    return "\n".join(lines)
