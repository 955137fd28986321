import json

import pytest

from cardioliquid.app.sources import list_records, save_checkpoint_upload, save_uploads
from cardioliquid.errors import CheckpointError, RecordingError


def test_records_are_listed_with_the_demo_set_first(data_dir, make_ecg):
    make_ecg(data_dir / "mitdb", "demo1", seconds=5)
    (data_dir / "manifests").mkdir()
    (data_dir / "manifests" / "demo.json").write_text(
        json.dumps({"items": [{"paths": ["mitdb/demo1.hea", "mitdb/missing.hea"]}]})
    )
    (data_dir / "cache").mkdir()
    (data_dir / "cache" / "x.hea").write_text("cached")
    choices = list_records(data_dir)
    assert [c.demo for c in choices] == [True, False]
    assert choices[0].path.endswith("demo1.hea") and "demo" in choices[0].label
    assert choices[1].label == "synthetic/syn100"


def test_missing_folder_lists_nothing(tmp_path):
    assert list_records(tmp_path / "nope") == []


def test_uploaded_wfdb_pair_is_saved_and_header_returned(tmp_path):
    path = save_uploads([("../../evil name.hea", b"hdr"), ("evil name.dat", b"\0")], tmp_path)
    assert path == tmp_path / "evil_name.hea"
    assert (tmp_path / "evil_name.dat").read_bytes() == b"\0"
    assert not list(tmp_path.glob("*.part"))


@pytest.mark.parametrize(
    ("files", "match"),
    [
        ([], "got nothing"),
        ([("a.exe", b"x")], r"expected one of .*got \.exe"),
        ([("a.hea", b"x")], "expected the .dat signal file"),
        ([("a.dat", b"x")], "expected a .hea header or an .edf/.bdf"),
        ([("a.hea", b"x"), ("a.dat", b"x"), ("b.edf", b"x")],
         r"expected one recording per upload, got 2 \(a\.hea, b\.edf\)"),
    ],
)
def test_bad_uploads_are_refused_with_a_clear_message(tmp_path, files, match):
    with pytest.raises(RecordingError, match=match):
        save_uploads(files, tmp_path)


def test_checkpoint_upload_must_be_safetensors_or_ckpt(tmp_path):
    assert save_checkpoint_upload("m.safetensors", b"x", tmp_path).read_bytes() == b"x"
    with pytest.raises(CheckpointError, match=r"\.safetensors or \.ckpt file, got \.pkl"):
        save_checkpoint_upload("m.pkl", b"x", tmp_path)
