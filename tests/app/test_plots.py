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
