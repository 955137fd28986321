"""The live charts as Chromium draws them: marks present, labels apart, no scale conflicts."""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path

import pytest

from cardioliquid.app import snapshot

CHARTS_PAGE = textwrap.dedent('''
    import numpy as np
    import streamlit as st

    from cardioliquid.app import charts

    t = np.arange(600.0, 700.0, 0.8)
    model = np.where(np.arange(t.size) % 7 == 3, "S", "N")
    model[::11] = "V"
    expert = np.where(np.arange(t.size) % 11 == 0, "V", "N")
    irregular = (t > 620) & (t < 680)
    st.vega_lite_chart(charts.beat_timeline(
        (t, model), (t, expert), ["N", "S", "V", "F", "Q"], (600.0, 700.0),
        t[model != expert], irregular, (t > 640) & (t < 660), 695.0), width="stretch",
        key="timeline")
    fs = 360.0
    s = np.arange(int(10 * fs)) / fs
    beats = np.append(np.arange(0.02, 10, 0.8), 9.99)  # the first and last at the edges
    x = 1.5 * np.exp(-0.5 * ((s[:, None] - beats) / 0.01) ** 2).sum(axis=1)
    labels = np.full(beats.size, "N")
    st.vega_lite_chart(charts.ecg_trace({"MLII": x, "V1": -0.5 * x}, fs, 0.0, (0.0, 10.0),
                                        40.0, (beats, labels), (beats, labels)),
                       width="stretch", key="ecg")
    fast = np.arange(0.3, 60.0, 0.4)  # 150 bpm over 60 s on screen
    fast_labels = np.where(np.arange(fast.size) % 10 == 5, "V", "N")
    s60 = np.arange(int(60 * fs)) / fs
    st.vega_lite_chart(charts.ecg_trace({"MLII": np.sin(s60)}, fs, 0.0, (0.0, 60.0), 40.0,
                                        (fast, fast_labels)), width="stretch", key="ecg60")
''')

SVG_INFO = """(el) => {
  const svg = el.querySelector('svg');
  const texts = [...svg.querySelectorAll('text')].map(t => {
    const b = t.getBoundingClientRect();
    return {text: t.textContent, left: b.left, right: b.right, top: b.top, bottom: b.bottom};
  }).filter(t => t.text);
  const symbols = [...svg.querySelectorAll('g.mark-symbol.role-mark path')].map(p => {
    const b = p.getBBox();
    return {d: p.getAttribute('d'), width: b.width, height: b.height};
  });
  const legend = [...svg.querySelectorAll('g.mark-symbol.role-legend-symbol path')]
    .map(p => p.getAttribute('d'));
  const lines = [...svg.querySelectorAll('g.mark-line path')]
    .map(p => p.getBoundingClientRect().right);
  return {texts, symbols, legend, strip_right: lines.length ? Math.max(...lines) : null};
}"""


@pytest.mark.browser
@pytest.mark.slow
def test_the_timeline_and_strip_render_every_mark_in_a_real_browser(tmp_path: Path,
                                                                     monkeypatch):
    """Expert bars and model dots both drawn, five class rows, shading with the class colours
    kept (no conflicting colour scale), the strip's row names left of its first beat label,
    no beat letter cut by the strip's edges."""
    if not Path(snapshot.CHROMIUM).exists():
        pytest.skip(f"{snapshot.CHROMIUM} is absent")
    sync_api = pytest.importorskip("playwright.sync_api")
    page_py = tmp_path / "charts_page.py"
    page_py.write_text(CHARTS_PAGE)
    monkeypatch.setattr(snapshot, "APP", page_py)
    with snapshot.serve_app() as url, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=snapshot.CHROMIUM, headless=True,
                                     args=snapshot.CHROMIUM_ARGS)  # fmt: skip
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1600})
            console: list[str] = []
            page.on("console", lambda m: console.append(m.text))
            page.goto(url)
            charts = page.locator('[data-testid="stVegaLiteChart"]')
            charts.nth(1).locator("svg text").first.wait_for(timeout=60_000)
            timeline = page.evaluate(SVG_INFO, charts.nth(0).element_handle())
            ecg = page.evaluate(SVG_INFO, charts.nth(1).element_handle())
            charts.nth(2).locator("svg text").first.wait_for(timeout=60_000)
            ecg60 = page.evaluate(SVG_INFO, charts.nth(2).element_handle())
        finally:
            browser.close()
    assert not [m for m in console if "Conflicting" in m], console
    words = [t["text"] for t in timeline["texts"]]
    assert [w for w in words if w in {"N", "S", "V", "F", "Q"}] == ["N", "S", "V", "F", "Q"]
    assert {"expert (|)", "model (●)", "irregular rhythm", "AF-like rhythm"} <= set(words)
    assert not {"bckg", "sz"} & set(words)
    n_beats = 125  # 600..700 s every 0.8 s, each with an expert bar and a model dot
    dots = [m for m in timeline["symbols"] if "A" in m["d"]]  # circles are drawn with arcs
    bars = [m for m in timeline["symbols"] if "A" not in m["d"]]
    assert len(dots) == len(bars) == n_beats
    assert all(m["height"] > 2 * m["width"] > 0.5 for m in bars)  # "|": an area, not a line
    assert all("A" not in d for d in timeline["legend"][:1])  # the legend's bar is drawn too
    by_text = {t["text"]: t for t in ecg["texts"]}
    first_beat = min((t for t in ecg["texts"] if t["text"] == "N"), key=lambda t: t["left"])
    for row in ("expert", "model"):
        assert by_text[row]["right"] <= first_beat["left"]  # not covered by the first label
    # the beats at 0.02 s and 9.99 s, a pixel or two from the strip's edges, have no letter
    # (it was cut in half); every other beat has one in each row, all of them within the strip
    letters = [t for t in ecg["texts"] if t["text"] == "N"]
    assert len(letters) == 2 * (14 - 2), [round(t["left"]) for t in letters]
    right = max(t["right"] for t in letters)
    assert right < ecg["strip_right"] and by_text["model"]["right"] < first_beat["left"]
    lead = [t for t in ecg["texts"] if t["text"].startswith("MLII")]
    assert lead and "clipped" in lead[0]["text"]
    # 60 s of a fast rhythm: the N letters (8 px apart) give way, every V letter is drawn and
    # no two letters overlap
    drawn = sorted((t for t in ecg60["texts"] if t["text"] in {"N", "V"}),
                   key=lambda t: t["left"])
    assert {t["text"] for t in drawn} == {"V"} and len(drawn) == 15, [t["text"] for t in drawn]
    assert all(a["right"] <= b["left"] for a, b in itertools.pairwise(drawn))
