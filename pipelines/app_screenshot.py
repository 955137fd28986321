"""Screenshot of the app replaying an MIT-BIH record (for the README).

    CARDIOLIQUID_DATA_MIRROR=../shared/data .venv/bin/python pipelines/app_screenshot.py \
        --record 200 --out pipelines/results/app_screenshot.png

The record is linked (not copied) into a temporary data folder the app reads.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from urllib.parse import quote

from cardioliquid.app.snapshot import replay_screenshot, serve_app


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mirror", default=os.environ.get("CARDIOLIQUID_DATA_MIRROR", "../shared/data"))
    p.add_argument("--record", default="200")
    p.add_argument("--speed", default="5×")
    p.add_argument("--play-s", type=float, default=25.0)
    p.add_argument("--out", default="pipelines/results/app_screenshot.png")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "mitdb"
        dest.mkdir()
        for ext in ("hea", "dat", "atr"):
            source = Path(a.mirror, "mitdb", f"{a.record}.{ext}").resolve()
            (dest / f"{a.record}.{ext}").symlink_to(source)
        env = {"CARDIOLIQUID_DATA_DIR": tmp}
        with serve_app(env) as url:
            query = f"{url}/?record=mitdb/{a.record}.hea&speed={quote(a.speed)}"
            print(replay_screenshot(query, a.out, play_s=a.play_s))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
