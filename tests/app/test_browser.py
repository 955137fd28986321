"""A real browser: Streamlit on 127.0.0.1 driven by Playwright on Debian's Chromium."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from cardioliquid.app.snapshot import CHROMIUM, CHROMIUM_ARGS, replay_screenshot, serve_app

STATUS = re.compile(r"(playing|paused|finished) · ([0-9,.]+) s of [0-9,]+ s · (\d+) beats "
                    r"decided · frame (\d+)")  # fmt: skip


def _needs_browser() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium; .ci/run does it)")
    pytest.importorskip("playwright.sync_api")


def _status(page) -> tuple[str, float, int, int] | None:
    text = page.get_by_text(STATUS).first.inner_text(timeout=20_000)
    m = STATUS.search(text.replace("*", ""))
    if not m:
        return None
    return m.group(1), float(m.group(2).replace(",", "")), int(m.group(3)), int(m.group(4))


def _slider(page):
    """The position slider's thumb (the sidebar has sliders too)."""
    return page.get_by_role("slider", name="Position (s)").last


def _wait_for_pause(page) -> None:
    """Wait for the status line to say paused after a press of Pause.

    A press reruns the whole page; a frame-timer rerun of the live fragment arriving in
    the same instant can pre-empt that run before its callback (Streamlit's fast reruns),
    and the press is lost. A user then presses again; so does this, once, and only while
    the button still says Pause.
    """
    paused = page.get_by_text(re.compile(r"paused · ")).first
    try:
        paused.wait_for(timeout=30_000)
        return
    except Exception:  # playwright's TimeoutError
        button = page.get_by_role("button", name="Pause", exact=True)
        assert button.count() == 1, "neither paused nor a Pause button to press again"
        button.click()
    paused.wait_for()


def _idle(page, timeout_s: float = 120.0) -> None:
    """Wait until the page has no script running (the status widget's stop button is gone)."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"] button')",
        timeout=timeout_s * 1000)  # fmt: skip
    time.sleep(0.5)


def _status_when(page, ok, timeout_s: float = 120.0) -> tuple[str, float, int, int]:
    """The status line once ``ok(status)`` holds and no script runs (a seek's rerun may start
    late on a loaded machine: a fixed sleep could read the line from before it)."""
    deadline = time.monotonic() + timeout_s
    while True:
        _idle(page)
        s = _status(page)
        if (s and ok(s)) or time.monotonic() > deadline:
            return s
        time.sleep(0.3)


@pytest.mark.browser
@pytest.mark.slow
def test_live_replay_seek_zoom_and_download_in_a_real_browser(data_dir, tmp_path):
    """1x: frames follow one another with advancing positions, never ahead of the clock; the
    slider follows; seeking back and forth keeps the decisions; the wheel zooms the strip; the
    beat table downloads.

    How many frames a second the page draws is a speed, measured by
    ``pipelines/bench_app_frames.py``; this test waits for frames however long they take (a
    loaded 2-core machine draws fewer) and checks what they show.
    """
    _needs_browser()
    from playwright.sync_api import sync_playwright

    with serve_app({"CARDIOLIQUID_DATA_DIR": str(data_dir)}) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.set_default_timeout(120_000)
            page.goto(f"{url}/?speed=1%C3%97")
            chart = page.locator("[data-testid='stVegaLiteChart']").first
            chart.wait_for()  # the start page already shows the first seconds
            _idle(page)
            start_s = _status(page)[1]
            t_play = time.monotonic()
            page.get_by_role("button", name="Play", exact=True).click()
            seen: dict[int, float] = {}
            slider_ok = 0
            deadline = t_play + 120.0
            while (len(seen) < 8 or slider_ok < 5) and time.monotonic() < deadline:
                s = _status(page)
                if s and s[0] == "playing":
                    # 1x: what the page shows was reached no faster than real time
                    assert s[1] - start_s <= time.monotonic() - t_play + 0.5, (s, start_s)
                    seen.setdefault(s[3], s[1])
                    now = _slider(page).input_value()
                    slider_ok += abs(float(now) - s[1]) <= 1.5
                time.sleep(0.2)
            page.get_by_role("button", name="Pause", exact=True).click()
            positions = [seen[k] for k in sorted(seen)]
            assert len(positions) >= 8, seen  # playback goes on frame after frame
            assert all(b > a for a, b in itertools.pairwise(positions)), seen
            assert slider_ok >= 5  # the position slider follows playback
            _wait_for_pause(page)
            _idle(page)
            time.sleep(1.5)
            # seek: to the end (decisions there are made), back to the start, to the end again
            _slider(page).press("End")
            _, pos, n_end, _ = _status_when(page, lambda s: s[1] > 50.0)
            assert pos == pytest.approx(60.0, abs=0.6) and n_end > 20
            _slider(page).press("Home")
            _, pos, n, _ = _status_when(page, lambda s: s[1] < 10.0)
            assert pos == 0.0 and n == 0  # what was known at 0 s
            _slider(page).press("End")
            again = _status_when(page, lambda s: s[1] > 50.0)
            assert again[2] == n_end  # history kept: the same decisions again
            # zoom the strip with the mouse wheel
            chart = page.locator("[data-testid='stVegaLiteChart']").first
            before = chart.screenshot()
            box = chart.bounding_box()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.mouse.wheel(0, -600)
            time.sleep(1.0)
            assert chart.screenshot() != before
            # download the beat table
            with page.expect_download() as info:
                page.get_by_role("button", name="Beat table (CSV)").click()
            csv = Path(info.value.path()).read_text()
            lines = csv.splitlines()
            assert lines[0].startswith("record,sample,time_s,class,p_N")
            assert len(lines) - 1 == n_end
        finally:
            browser.close()


@pytest.mark.browser
@pytest.mark.slow
def test_play_in_a_real_browser_shows_predictions(data_dir, tmp_path):
    _needs_browser()
    shot = tmp_path / "app_replay.png"
    with serve_app({"CARDIOLIQUID_DATA_DIR": str(data_dir)}) as url:
        replay_screenshot(f"{url}/?speed=25%C3%97", shot, play_s=3.0, wait_for="Last beat at")
    assert shot.stat().st_size > 50_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    artifacts = os.environ.get("CARDIOLIQUID_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(artifacts) / shot.name)
