"""The app's figures: what they draw, checked on the matplotlib objects."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from cardioliquid.app import plots


def test_beat_timeline_shades_each_af_stretch():
    t = np.arange(0.0, 100.0, 0.8)
    labels = np.full(t.size, "N")
    af = (t > 20) & (t < 40) | (t > 60)
    fig = plots.beat_timeline((t, labels), None, list("NSVFQ"), 100.0, af=af)
    spans = [p for p in fig.axes[0].patches]
    assert len(spans) == 2  # one shaded band per run of AF-like beats
    xs = sorted((p.get_x(), p.get_x() + p.get_width()) for p in spans)
    np.testing.assert_allclose(xs[0], (t[af][0], t[(t > 20) & (t < 40)][-1]))
    assert "AF-like" in fig.axes[0].get_xlabel()
    plt.close(fig)
    plain = plots.beat_timeline((t, labels), None, list("NSVFQ"), 100.0)
    assert not plain.axes[0].patches and "AF-like" not in plain.axes[0].get_xlabel()
    plt.close(plain)


def test_the_neuron_heatmap_counts_beats_for_a_beat_sequence_model():
    rng = np.random.default_rng(0)
    states = rng.standard_normal((32, 6))
    roles = ["inter", "inter", "command", "command", "motor", "motor"]
    fig = plots.neuron_heatmap(states, roles, step_s=0.83, per_beat=True)
    ax = fig.axes[0]
    assert "beats before the explained one" in ax.get_xlabel() and "(s)" not in ax.get_xlabel()
    assert ax.get_xlim() == (-31.5, 0.5)  # one column per beat, the explained beat at 0
    ticks = [v for v in ax.get_xticks() if -31.5 <= v <= 0.5]
    assert 0 in ticks and all(float(v).is_integer() for v in ticks)
    plt.close(fig)
    window = plots.neuron_heatmap(states, roles, step_s=0.25)  # a window model: seconds
    assert window.axes[0].get_xlabel() == "time in the window (s)"
    assert window.axes[0].get_xlim() == (0.0, 8.0)
    plt.close(window)


def test_the_wiring_labels_its_active_neurons_clear_of_their_circles():
    roles = ["inter"] * 4 + ["command"] * 3 + ["motor"] * 3
    adjacency = np.zeros((10, 10))
    adjacency[0:4, 4:7] = 1.0
    adjacency[4:7, 7:10] = -1.0
    share = np.array([0.02, 0.6, 0.02, 0.02, 0.02, 0.15, 0.02, 0.05, 0.08, 0.02])
    active = [1, 5, 8]  # circles from 40 + 900 * 0.08 to 40 + 900 * 0.6 points²
    fig = plots.wiring_graph(roles, adjacency, share, active)
    fig.canvas.draw()
    ax = fig.axes[0]
    px_per_pt = fig.dpi / 72.0
    figure_box = fig.bbox
    labels = {t.get_text().split()[0]: t for t in ax.texts if t.get_text().startswith("n")}
    assert sorted(labels) == ["n1", "n5", "n8"]
    for i in active:
        circle = ax.collections[i]  # one scatter per neuron, in order
        cx, cy = ax.transData.transform(circle.get_offsets()[0])
        radius = (np.sqrt(circle.get_sizes()[0]) / 2 + circle.get_linewidths()[0] / 2) * px_per_pt
        box = labels[f"n{i}"].get_window_extent()
        clearance = (box.x0 - (cx + radius)) / px_per_pt
        assert clearance >= plots.LABEL_CLEARANCE_PT - 0.5, (i, clearance)  # was 0 or less
        assert box.y0 < cy < box.y1  # beside its circle, centred on it
        assert figure_box.x0 <= box.x0 and box.x1 <= figure_box.x1  # not cut by the figure
    plt.close(fig)
