"""The demo's Streamlit settings: local only, no telemetry, no file watcher, no Deploy button."""

from __future__ import annotations

import tomllib
from pathlib import Path

from cardioliquid.app.sources import MAX_UPLOAD_BYTES

ROOT = Path(__file__).resolve().parents[2]


def test_streamlit_config_keeps_the_demo_local_and_quiet():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["address"] == "127.0.0.1"
    assert cfg["server"]["fileWatcherType"] == "none"
    assert cfg["browser"]["gatherUsageStats"] is False
    assert cfg["client"]["toolbarMode"] == "minimal"  # no Deploy button
    assert cfg["server"]["maxUploadSize"] * 1024 * 1024 == MAX_UPLOAD_BYTES


def test_make_demo_runs_the_app_with_that_config():
    demo = (ROOT / "Makefile").read_text().split("demo: ", 1)[1].split("\n\n", 1)[0]
    assert "streamlit run app.py" in demo
    assert "0.0.0.0" not in demo and "--server.address" not in demo  # the config file decides
