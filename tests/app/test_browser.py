"""A real browser: Streamlit on 127.0.0.1 driven by Playwright on Debian's Chromium."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from cardioliquid.app.snapshot import CHROMIUM, replay_screenshot, serve_app


@pytest.mark.browser
@pytest.mark.slow
def test_play_in_a_real_browser_shows_predictions(data_dir, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium; .ci/run does it)")
    pytest.importorskip("playwright.sync_api")
    shot = tmp_path / "app_replay.png"
    with serve_app({"CARDIOLIQUID_DATA_DIR": str(data_dir)}) as url:
        replay_screenshot(f"{url}/?speed=25%C3%97", shot, play_s=3.0, wait_for="Last beat at")
    assert shot.stat().st_size > 50_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    artifacts = os.environ.get("CARDIOLIQUID_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(artifacts) / shot.name)
