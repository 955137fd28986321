"""The app's uploads: errors without server paths, session folders that go away."""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path

import pytest

from cardioliquid.app.sources import (
    SESSION_PREFIX,
    remove_stale_session_dirs,
    save_checkpoint_upload,
    scrub_paths,
)
from cardioliquid.errors import CheckpointError


def test_error_messages_lose_the_session_folder(tmp_path):
    session = tmp_path / f"{SESSION_PREFIX}abc"
    msg = f"{session}/uploads/rec.edf: truncated EDF file: expected 10 bytes, got 8"
    assert scrub_paths(msg) == "rec.edf: truncated EDF file: expected 10 bytes, got 8"
    assert scrub_paths("/srv/app/up/a/rec.hea: bad", ["/srv/app/up"]) == "rec.hea: bad"
    assert scrub_paths("/tmp/cardioliquid-session-x1/models/m.ckpt: refused") == "m.ckpt: refused"
    assert scrub_paths("nothing to hide") == "nothing to hide"


def test_an_uploaded_model_out_of_bounds_is_refused_by_name_only(tmp_path):
    import json

    from safetensors import safe_open
    from safetensors.torch import save_file

    from cardioliquid.app.state import cached_model
    from cardioliquid.models.checkpoint import PRETRAINED_DIR

    with safe_open(str(PRETRAINED_DIR / "seizure-1ch.safetensors"), framework="pt") as f:
        header = json.loads(f.metadata()["cardioliquid"])
        state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    header["model_kwargs"]["units"] = 10**6
    bad = tmp_path / "huge.safetensors"
    save_file(state, str(bad), metadata={"cardioliquid": json.dumps(header)})
    session = tmp_path / f"{SESSION_PREFIX}zz"
    path = save_checkpoint_upload("huge.safetensors", bad.read_bytes(), session / "models")
    with pytest.raises(CheckpointError, match=r"^huge\.safetensors: model description: "
                                              r"expected 'units' an integer in \[3, 1024\]"):
        cached_model.__wrapped__(str(path))


def test_stale_session_folders_are_swept_live_ones_kept(tmp_path):
    old, live = tmp_path / f"{SESSION_PREFIX}old", tmp_path / f"{SESSION_PREFIX}live"
    for d in (old, live):
        (d / "uploads").mkdir(parents=True)
        (d / "uploads" / "x.edf").write_bytes(b"1")
    past = time.time() - 3 * 24 * 3600
    os.utime(old, (past, past))
    other = tmp_path / "not-ours"
    other.mkdir()
    os.utime(other, (past, past))
    assert remove_stale_session_dirs(tmp_path) == [old]
    assert not old.exists() and live.exists() and other.exists()


def test_a_session_folder_goes_when_its_state_is_dropped(tmp_path):
    from cardioliquid.app.state import _SessionFolder

    folder = tmp_path / f"{SESSION_PREFIX}s"
    (folder / "uploads").mkdir(parents=True)
    holder = {"owner": _SessionFolder(str(folder))}
    holder.clear()  # Streamlit drops a closed session's state
    gc.collect()
    assert not Path(folder).exists()


def test_streamlit_upload_limit_matches_the_apps():
    import tomllib

    from cardioliquid.app.sources import MAX_UPLOAD_BYTES

    config = Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml"
    assert tomllib.loads(config.read_text())["server"]["maxUploadSize"] * 2**20 == MAX_UPLOAD_BYTES
