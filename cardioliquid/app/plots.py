"""Matplotlib figures the way clinicians read them (no Streamlit here).

- ECG on standard paper: 25 mm/s and 10 mm/mV, minor grid 1 mm (0.04 s,
  0.1 mV), major grid 5 mm (0.2 s, 0.5 mV), drawn at true aspect ratio.
- EEG as stacked bipolar channels with a scale bar (µV and seconds).
- The liquid state of every neuron as a heatmap, and the wiring as a layered
  graph (sensory → inter → command → motor) with the active circuit highlighted.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from cardioliquid.app.charts import CLASS_COLORS
from cardioliquid.signal.quality import true_runs

PAPER_SPEED_MM_S = 25.0
PAPER_GAIN_MM_MV = 10.0
MM_PER_INCH = 25.4
ROLE_COLORS = {
    "sensory": "#a0aec0", "inter": "#63b3ed", "command": "#f6ad55", "motor": "#fc8181",
    "hidden": "#b794f4",
}  # fmt: skip
LABEL_CLEARANCE_PT = 3.0
"""Space between a neuron's circle and its label on the wiring drawing (points)."""
_GRID_MINOR = "#f7c9c9"
_GRID_MAJOR = "#e57f7f"


def _label_color(label: str) -> str:
    return CLASS_COLORS.get(str(label), "#2d3748")


def ecg_paper(
    signal_mv: np.ndarray,
    fs: float,
    start_s: float,
    lead: str,
    ref_beats: tuple[np.ndarray, np.ndarray] | None = None,
    pred_beats: tuple[np.ndarray, np.ndarray] | None = None,
    bad: Sequence[tuple[float, float]] = (),
    scale: float = 0.9,
) -> Figure:
    """One ECG lead on paper grid, with expert and model beat labels above it.

    Parameters
    ----------
    signal_mv : ndarray, shape (n,)
        The lead in mV.
    fs : float
        Sampling rate (Hz).
    start_s : float
        Time of the first sample (seconds from the recording start).
    lead : str
        Lead name for the label.
    ref_beats, pred_beats : (times_s, labels), optional
        Expert annotations (upper row) and model predictions (lower row).
    bad : sequence of (start_s, end_s)
        Poor-quality stretches, shaded and labelled.
    scale : float
        Figure scale (1.0 = true paper size in inches).
    """
    n = signal_mv.size
    t = start_s + np.arange(n) / fs
    dur = max(n / fs, 0.2)
    finite = signal_mv[np.isfinite(signal_mv)]
    lo, hi = (np.percentile(finite, [0.5, 99.5]) if finite.size else (-1.0, 1.0))
    lo = np.floor((min(lo, -0.5) - 0.25) * 2) / 2
    hi = np.ceil((max(hi, 1.0) + 0.25) * 2) / 2
    label_rows = 1.0  # mV of headroom for the two label rows
    top = hi + label_rows
    width_in = dur * PAPER_SPEED_MM_S / MM_PER_INCH * scale
    height_in = (top - lo) * PAPER_GAIN_MM_MV / MM_PER_INCH * scale
    fig = plt.figure(figsize=(width_in + 0.9, height_in + 0.7), dpi=110)
    ax = fig.add_axes([0.7 / (width_in + 0.9), 0.6 / (height_in + 0.7),
                       width_in / (width_in + 0.9), height_in / (height_in + 0.7)])  # fmt: skip
    x0 = np.floor(start_s / 0.2) * 0.2
    for x in np.arange(x0, start_s + dur + 1e-9, 0.04):
        major = abs((x / 0.2) - round(x / 0.2)) < 1e-6
        ax.axvline(x, color=_GRID_MAJOR if major else _GRID_MINOR, lw=0.8 if major else 0.35)
    for y in np.arange(lo, hi + 1e-9, 0.1):
        major = abs((y / 0.5) - round(y / 0.5)) < 1e-6
        ax.axhline(y, color=_GRID_MAJOR if major else _GRID_MINOR, lw=0.8 if major else 0.35)
    for b0, b1 in bad:
        ax.axvspan(max(b0, start_s), min(b1, start_s + dur), color="#718096", alpha=0.25, lw=0)
        ax.text(max(b0, start_s), lo + 0.05, " poor signal", color="#2d3748", fontsize=7)
    ax.plot(t, signal_mv, color="black", lw=0.9)
    rows = ((hi + 0.7, ref_beats, "expert"), (hi + 0.25, pred_beats, "model"))
    for row, beats, _ in rows:
        if beats is None:
            continue
        bt, bl = beats
        inside = (bt >= start_s) & (bt <= start_s + dur)
        for tb, lb in zip(bt[inside], bl[inside], strict=True):
            ax.text(tb, row, str(lb), ha="center", va="center", fontsize=8,
                    fontweight="bold", color=_label_color(lb))  # fmt: skip
    ax.axhline(hi, color="#4a5568", lw=0.5)
    ax.set_xlim(start_s, start_s + dur)
    ax.set_ylim(lo, top)
    mv_ticks = list(np.arange(lo, hi + 1e-9, 0.5))
    ax.set_yticks(mv_ticks + [r for r, _, _ in rows])
    ax.set_yticklabels([f"{v:g}" for v in mv_ticks] + [name for _, _, name in rows])
    ax.set_xticks(np.arange(np.ceil(start_s), start_s + dur + 1e-9, 1.0))
    ax.tick_params(labelsize=7, length=2)
    ax.set_xlabel("time (s) · 25 mm/s", fontsize=7)
    ax.set_ylabel(f"{lead} (mV) · 10 mm/mV", fontsize=7)
    for spine in ax.spines.values():
        spine.set_color(_GRID_MAJOR)
    return fig


def eeg_scale(signal_uv: np.ndarray) -> float:
    """A display scale (µV) in 1-2-5 steps, nearest to 2.5 robust SDs of a typical channel."""
    x = signal_uv - np.nanmedian(signal_uv, axis=1, keepdims=True)
    mad = np.nanmedian(np.nanmedian(np.abs(x), axis=1)) * 1.4826
    target = max(2.5 * float(mad), 10.0) if np.isfinite(mad) else 100.0
    steps = np.array([1, 2, 5]) * 10.0 ** np.floor(np.log10(target))
    candidates = np.concatenate([steps, steps * 10])
    return float(candidates[np.argmin(np.abs(np.log(candidates / target)))])


def eeg_stacked(
    signal_uv: np.ndarray,
    fs: float,
    start_s: float,
    channels: Sequence[str],
    ref_seizures: Sequence[tuple[float, float]] = (),
    pred_seizures: Sequence[tuple[float, float]] = (),
    bad: Sequence[tuple[float, float]] = (),
    scale_uv: float = 100.0,
) -> Figure:
    """Bipolar EEG channels stacked top to bottom, with seizure bands and a scale bar.

    Parameters
    ----------
    signal_uv : ndarray, shape (n_channels, n)
        Channels in µV.
    ref_seizures, pred_seizures : sequences of (onset_s, offset_s)
        Expert seizures (red band) and model detections (orange band).
    scale_uv : float
        Channel spacing and scale bar height (µV).
    """
    n_ch, n = signal_uv.shape
    t = start_s + np.arange(n) / fs
    dur = max(n / fs, 0.5)
    fig, ax = plt.subplots(figsize=(11, 0.28 * n_ch + 1.0), dpi=100)
    for on, off in ref_seizures:
        ax.axvspan(on, off, color="#feb2b2", alpha=0.55, lw=0, label="expert seizure")
    for on, off in pred_seizures:
        ax.axvspan(on, off, ymin=0.97, ymax=1.0, color="#dd6b20", lw=0, label="model detection")
    for b0, b1 in bad:
        ax.axvspan(b0, b1, color="#718096", alpha=0.25, lw=0, label="poor signal")
    spacing = scale_uv * 1.5
    for i in range(n_ch):
        y = signal_uv[i] - np.nanmedian(signal_uv[i])
        ax.plot(t, np.clip(y, -1.5 * spacing, 1.5 * spacing) - i * spacing, color="black", lw=0.5)
    ax.set_yticks(-np.arange(n_ch) * spacing)
    ax.set_yticklabels(channels, fontsize=7)
    bar_x = start_s + dur * 0.985
    ax.plot([bar_x, bar_x], [spacing * 0.4, spacing * 0.4 - scale_uv], color="#2d3748", lw=2)
    ax.plot([bar_x - 1.0, bar_x], [spacing * 0.4] * 2, color="#2d3748", lw=2)
    ax.text(bar_x - 0.1, spacing * 0.4 - scale_uv / 2, f"{scale_uv:g} µV ", ha="right",
            va="center", fontsize=7)  # fmt: skip
    ax.text(bar_x - 0.5, spacing * 0.55, "1 s", ha="center", fontsize=7)
    ax.set_xlim(start_s, start_s + dur)
    ax.set_ylim(-(n_ch - 0.3) * spacing, spacing * 0.8)
    ax.set_xlabel("time (s)", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    if unique:
        ax.legend(unique.values(), unique.keys(), fontsize=7, loc="upper left", ncol=3)
    fig.tight_layout()
    return fig


def beat_timeline(
    pred: tuple[np.ndarray, np.ndarray],
    ref: tuple[np.ndarray, np.ndarray] | None,
    classes: Sequence[str],
    now_s: float,
    span_s: float = 120.0,
    af: np.ndarray | None = None,
) -> Figure:
    """Predicted vs expert class of every beat over the last ``span_s`` seconds.

    ``af`` (one flag per predicted beat) shades the stretches of AF-like rhythm.
    """
    fig, ax = plt.subplots(figsize=(7.5, 2.3), dpi=110)
    t0 = max(0.0, now_s - span_s)
    rows = {c: i for i, c in enumerate(classes)}
    if af is not None:
        times = pred[0]
        for a, b in true_runs(af):
            ax.axvspan(times[a], times[b - 1], color="#fefcbf", lw=0, zorder=0)
    series = [(0.18, pred, "o")] + ([(-0.18, ref, "|")] if ref is not None else [])
    for offset, (times, labels), marker in series:
        inside = (times >= t0) & (times <= now_s)
        for c in classes:
            sel = inside & (labels == c)
            size = 10 if marker == "o" else 30
            ax.scatter(times[sel], np.full(sel.sum(), rows[c] + offset), s=size,
                       marker=marker, color=_label_color(c), lw=1)  # fmt: skip
    ax.set_yticks(range(len(classes)))
    ax.set_yticklabels([f"{c}" for c in classes], fontsize=9)
    ax.set_ylim(len(classes) - 0.4, -0.6)
    ax.set_xlim(t0, max(now_s, t0 + 1.0))
    ax.set_xlabel("time (s)    |  expert label    ●  model prediction"
                  + ("    yellow: AF-like rhythm" if af is not None and af.any() else ""),
                  fontsize=8)  # fmt: skip
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", color="#e2e8f0", lw=0.5)
    fig.tight_layout()
    return fig


def seizure_timeline(
    end_s: np.ndarray,
    proba: np.ndarray,
    ref_seizures: Sequence[tuple[float, float]],
    now_s: float,
    threshold: float = 0.5,
    span_s: float = 600.0,
) -> Figure:
    """Seizure probability over time against the expert-marked seizures."""
    fig, ax = plt.subplots(figsize=(7.5, 2.3), dpi=110)
    t0 = max(0.0, now_s - span_s)
    for on, off in ref_seizures:
        ax.axvspan(on, off, color="#feb2b2", alpha=0.6, lw=0, label="expert seizure")
    ax.plot(end_s, proba, color="#c53030", lw=1, label="model P(seizure)")
    ax.axhline(threshold, color="#4a5568", lw=0.6, ls="--", label="threshold")
    ax.set_xlim(t0, max(now_s, t0 + 1.0))
    ax.set_ylim(0, 1)
    ax.set_ylabel("P(sz)", fontsize=7)
    ax.set_xlabel("time (s)", fontsize=7)
    ax.tick_params(labelsize=7)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(unique.values(), unique.keys(), fontsize=6, loc="upper left", ncol=3)
    fig.tight_layout()
    return fig


def neuron_heatmap(states: np.ndarray, roles: Sequence[str], step_s: float,
                   per_beat: bool = False) -> Figure:
    """Every neuron's liquid state (rows, grouped by role) over time (columns).

    Parameters
    ----------
    states : ndarray, shape (n_steps, n_neurons)
    roles : sequence of str
        Role of each neuron.
    step_s : float
        Seconds per step.
    per_beat : bool
        The model steps once per beat (a beat-sequence model): the columns are
        beats, numbered back from the explained beat (0, the last column) to
        ``-(n_steps - 1)``, instead of seconds into the window.
    """
    from matplotlib.ticker import MaxNLocator

    order_roles = ["inter", "command", "motor", "hidden"]
    rank = {r: k for k, r in enumerate(order_roles)}
    order = sorted(range(len(roles)), key=lambda i: (rank.get(roles[i], 9), i))
    data = states[:, order].T
    vmax = float(np.nanmax(np.abs(data))) or 1.0
    n_steps = states.shape[0]
    x_range = (-(n_steps - 0.5), 0.5) if per_beat else (0.0, n_steps * step_s)
    fig, ax = plt.subplots(figsize=(4.6, 0.12 * len(order) + 1.2), dpi=110)
    im = ax.imshow(data, aspect="auto", cmap="RdBu_r", vmin=-vmax, vmax=vmax,
                   extent=(*x_range, len(order) - 0.5, -0.5), interpolation="nearest")
    prev = None
    for row, i in enumerate(order):  # every row named: neuron and role
        if roles[i] != prev and prev is not None:
            ax.axhline(row - 0.5, color="black", lw=0.8)
        prev = roles[i]
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels([f"n{i} {roles[i]}" for i in order], fontsize=6)
    if per_beat:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
        ax.set_xlabel("beats before the explained one (0 = the explained beat)", fontsize=8)
    else:
        ax.set_xlabel("time in the window (s)", fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    cb = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    cb.set_label("state", fontsize=6)
    cb.ax.tick_params(labelsize=6)
    fig.tight_layout()
    return fig


def wiring_graph(
    roles: Sequence[str],
    adjacency: np.ndarray,
    share: np.ndarray | None = None,
    active: Sequence[int] = (),
    sensory: np.ndarray | None = None,
    max_sensory: int = 16,
) -> Figure:
    """The wiring as layers (sensory → inter → command → motor), active circuit highlighted.

    Node area grows with the neuron's attribution share; synapses into and out
    of the active neurons are drawn dark (red: inhibitory), those between two
    active neurons thick, the rest faint.
    """
    n = len(roles)
    cols = {"sensory": 0, "inter": 1, "command": 2, "motor": 3, "hidden": 1.5}
    pos: dict[str, tuple[float, float]] = {}
    by_role: dict[str, list[int]] = {}
    for i, r in enumerate(roles):
        by_role.setdefault(r, []).append(i)
    for r, ids in by_role.items():
        for k, i in enumerate(ids):
            pos[f"n{i}"] = (cols.get(r, 1.5), (k + 0.5) / len(ids))
    n_sens = 0 if sensory is None else min(sensory.shape[0], max_sensory)
    for k in range(n_sens):
        pos[f"s{k}"] = (0, (k + 0.5) / n_sens)
    fig, ax = plt.subplots(figsize=(4.4, 3.6), dpi=110)
    active = set(int(a) for a in active)
    if sensory is not None:
        for s, d in zip(*np.nonzero(sensory[:n_sens]), strict=True):
            (x0, y0), (x1, y1) = pos[f"s{s}"], pos[f"n{d}"]
            ax.plot([x0, x1], [y0, y1], color="#e2e8f0", lw=0.3, zorder=1)
    for s, d in zip(*np.nonzero(adjacency), strict=True):
        (x0, y0), (x1, y1) = pos[f"n{s}"], pos[f"n{d}"]
        both = s in active and d in active
        touch = s in active or d in active
        style = "arc3,rad=0.25" if s == d else "arc3"
        sign_color = "#c53030" if adjacency[s, d] < 0 else "#2d3748"
        color = sign_color if touch else "#cbd5e0"
        lw = 2.0 if both else (0.9 if touch else 0.3)
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0), zorder=3 if touch else 1,
                    arrowprops={"arrowstyle": "-|>", "color": color, "lw": lw,
                                "alpha": 1.0 if touch else 0.7, "shrinkA": 5, "shrinkB": 5,
                                "mutation_scale": 8 if touch else 4,
                                "connectionstyle": style})  # fmt: skip
    share = np.zeros(n) if share is None else np.asarray(share)
    for i, r in enumerate(roles):
        x, y = pos[f"n{i}"]
        size = 40 + 900 * float(share[i])
        edge = 1.8 if i in active else 0.5
        ax.scatter([x], [y], s=size, color=ROLE_COLORS.get(r, "#b794f4"), zorder=4,
                   edgecolors="black" if i in active else "white", linewidths=edge)
        if i in active:  # right of the circle (its radius and edge, in points) with clearance
            gap = np.sqrt(size) / 2 + edge / 2 + LABEL_CLEARANCE_PT
            ax.annotate(f"n{i} {100 * share[i]:.0f}%", (x, y), xytext=(gap, 0),
                        textcoords="offset points", fontsize=9, va="center", ha="left",
                        zorder=5, fontweight="bold")  # fmt: skip
    for k in range(n_sens):
        x, y = pos[f"s{k}"]
        ax.scatter([x], [y], s=18, marker="s", color=ROLE_COLORS["sensory"], zorder=4)
    for r, x in cols.items():
        if r in by_role or (r == "sensory" and n_sens):
            ax.text(x, 1.06, r, ha="center", fontsize=10, color="#2d3748")
    ax.set_xlim(-0.3, 3.6)
    ax.set_ylim(-0.05, 1.12)
    ax.axis("off")
    fig.tight_layout()
    return fig
