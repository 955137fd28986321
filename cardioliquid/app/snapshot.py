"""Run the app in a real browser: a local Streamlit server and headless Chromium.

Used by the browser test and by ``pipelines/app_screenshot.py``. The server is
bound to 127.0.0.1 and always terminated; the browser is Debian's Chromium
(``/usr/bin/chromium``) driven by Playwright's sync API.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
APP = Path(__file__).resolve().parents[2] / "app.py"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve_app(
    env: dict[str, str] | None = None, port: int | None = None, timeout_s: float = 90.0
) -> Iterator[str]:
    """Start ``streamlit run app.py`` on 127.0.0.1 and yield its URL; stop it on exit."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1",
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]  # fmt: skip
    # $CARDIOLIQUID_APP_LOG: a file for the server's output (debugging a browser test)
    log = open(os.environ.get("CARDIOLIQUID_APP_LOG", os.devnull), "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {proc.returncode}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"streamlit did not answer on {url} in {timeout_s:.0f} s")
            time.sleep(0.5)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def replay_screenshot(
    url: str,
    out: str | os.PathLike,
    play_s: float = 20.0,
    wait_for: str = "Last beat at",
    width: int = 1600,
    height: int = 2700,
    timeout_s: float = 180.0,
) -> Path:
    """Open the app, press Play, wait for predictions, let it run, save a full-page PNG.

    Returns the screenshot path; raises ``TimeoutError`` if no prediction appears.
    """
    from playwright.sync_api import sync_playwright

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(timeout_s * 1000)
            page.goto(url)
            page.get_by_role("button", name="Play", exact=True).click()
            page.get_by_text(wait_for).first.wait_for(timeout=timeout_s * 1000)
            time.sleep(play_s)
            pause = page.get_by_role("button", name="Pause", exact=True)
            if pause.count():  # still playing (a short record may have finished by itself)
                pause.first.click()
            time.sleep(3.0)
            page.wait_for_function(
                "() => !document.querySelector('[data-testid=\"stStatusWidget\"] button')",
                timeout=timeout_s * 1000,
            )
            page.screenshot(path=str(out), full_page=True)
        finally:
            browser.close()
    return out
