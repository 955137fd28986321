"""`cardioliquid data pull`: directory and URL mirrors, checksums, idempotence, demo set."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from cardioliquid.cli import main
from cardioliquid.errors import CardioLiquidError, RecordingError
from cardioliquid.io import load_ecg
from cardioliquid.io.pull import load_manifest, pull


@pytest.fixture
def mirror(tmp_path, wfdb_writer):
    """A directory mirror <root>/mitdb/ with two synthetic records and SHA256SUMS.txt."""
    db = tmp_path / "mirror" / "mitdb"
    db.mkdir(parents=True)
    for name in ("100", "101"):
        wfdb_writer(db, name=name, duration_s=8)
    lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()} {p.name}"
             for p in sorted(db.iterdir())]
    (db / "SHA256SUMS.txt").write_text("\n".join(lines) + "\n")
    (db / "RECORDS").write_text("100\n101\n")
    return tmp_path / "mirror"


def test_directory_mirror_pull_is_verified_and_idempotent(mirror, tmp_path):
    dest = tmp_path / "data"
    first = pull("mitdb", dest, ["100"], mirror=str(mirror))
    assert sorted(first.downloaded) == ["100.atr", "100.dat", "100.hea"]
    assert sorted(first.verified) == sorted(first.downloaded)
    for name in first.downloaded:  # the files arrive as the mirror holds them
        assert (dest / "mitdb" / name).read_bytes() == (mirror / "mitdb" / name).read_bytes()
    pulled, source = load_ecg(dest / "mitdb" / "100"), load_ecg(mirror / "mitdb" / "100")
    assert len(pulled.beats) == len(source.beats) > 0
    np.testing.assert_array_equal(pulled.beats.sample, source.beats.sample)
    second = pull("mitdb", dest, ["100"], mirror=str(mirror))
    assert second.downloaded == [] and len(second.present) == 3
    every = pull("mitdb", dest, None, mirror=str(mirror))  # RECORDS lists both
    assert sorted(every.downloaded) == ["101.atr", "101.dat", "101.hea"]


def test_env_mirror_and_cli(mirror, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CARDIOLIQUID_DATA_MIRROR", str(mirror))
    dest = tmp_path / "data"
    assert main(["data", "pull", "mitdb", "--records", "100,101", "--dest", str(dest)]) == 0
    assert "6 downloaded, 0 already present, 6 checksum-verified" in capsys.readouterr().out
    assert main(["data", "pull", "mitdb", "--records", "100,101", "--dest", str(dest)]) == 0
    assert "0 downloaded, 6 already present" in capsys.readouterr().out


def test_cli_pulls_several_databases_and_lists_the_one_that_failed(mirror, tmp_path, capsys):
    dest = tmp_path / "data"
    # The mirror holds mitdb only: svdb fails, mitdb still arrives, and the run says so.
    rc = main(["data", "pull", "svdb", "mitdb", "--dest", str(dest), "--mirror", str(mirror)])
    out, err = capsys.readouterr()
    assert rc == 1
    assert "6 downloaded" in out
    assert sorted(p.name for p in (dest / "mitdb").glob("*.hea")) == ["100.hea", "101.hea"]
    assert "svdb failed" in err and "1 of 2 databases failed: svdb" in err
    # --records belongs to one database; with two it is refused before anything is fetched.
    rc = main(["data", "pull", "mitdb", "svdb", "--records", "100", "--dest",
               str(tmp_path / "other"), "--mirror", str(mirror)])
    assert rc == 2 and "one database" in capsys.readouterr().err
    assert not (tmp_path / "other").exists()


def test_unlisted_record_and_empty_records_are_refused_with_what_is_there(mirror, tmp_path,
                                                                          capsys):
    dest = tmp_path / "data"
    with pytest.raises(CardioLiquidError, match=r"mitdb: 232 not in the RECORDS of directory "
                                                r"mirror .*lists 2 records \(100, 101\).*"
                                                r"--mirror ''"):
        pull("mitdb", dest, ["100", "232"], mirror=str(mirror))
    assert not list((dest / "mitdb").glob("100.*"))  # refused before anything was fetched
    # An empty --records (an unset shell variable) never means "every record".
    assert main(["data", "pull", "mitdb", "--records", "", "--dest", str(dest),
                 "--mirror", str(mirror)]) == 2
    assert "names no record" in capsys.readouterr().err
    with pytest.raises(CardioLiquidError, match=r"mirror has no svdb/ folder.*PhysioNet"):
        pull("svdb", dest, None, mirror=str(mirror))
    with pytest.raises(CardioLiquidError, match=r"nowhere: mirror folder does not exist"):
        pull("mitdb", dest, ["100"], mirror=str(mirror.parent / "nowhere"))


def test_a_recording_named_bare_comes_with_its_seizure_reference(tmp_path):
    root = tmp_path / "mirror" / "eeg" / "chbmit_edf"
    root.mkdir(parents=True)
    for name in ("chb01_03_onset.edf", "chb01_03_onset_events.tsv", "chb01_04_onset.edf"):
        (root / name).write_bytes(b"x")
    report = pull("eeg", tmp_path / "data", ["chb01_03_onset"], mirror=str(tmp_path / "mirror"))
    assert sorted(report.downloaded) == ["chbmit_edf/chb01_03_onset.edf",
                                         "chbmit_edf/chb01_03_onset_events.tsv"]


def test_files_database_finds_a_bare_name_in_a_directory_mirror(tmp_path):
    root = tmp_path / "mirror" / "bonn"
    (root / "A_Z").mkdir(parents=True)
    (root / "A_Z" / "Z001.txt").write_text("1\n2\n")
    (root / "E_S").mkdir()
    (root / "E_S" / "S001.txt").write_text("3\n")
    dest = tmp_path / "data"
    report = pull("bonn", dest, ["Z001", "E_S/S001.txt"], mirror=str(tmp_path / "mirror"))
    assert sorted(report.downloaded) == ["A_Z/Z001.txt", "E_S/S001.txt"]
    with pytest.raises(CardioLiquidError, match=r"'Q001' matches no file.*A_Z/Z001.txt"):
        pull("bonn", dest, ["Q001"], mirror=str(tmp_path / "mirror"))


def test_corrupt_download_never_stays_behind(mirror, tmp_path):
    dat = mirror / "mitdb" / "100.dat"
    dat.write_bytes(dat.read_bytes()[::-1])  # content no longer matches SHA256SUMS.txt
    dest = tmp_path / "data"
    with pytest.raises(RecordingError, match=r"100\.dat: checksum mismatch"):
        pull("mitdb", dest, ["100"], mirror=str(mirror))
    leftovers = [p.name for p in (dest / "mitdb").iterdir()]
    assert "100.dat" not in leftovers and not any(n.startswith(".") for n in leftovers)


def test_pulled_files_are_readable_by_the_team(mirror, tmp_path):
    """A pull into a shared data folder: files as open() would make them, not owner-only."""
    import os
    import stat

    (mirror / "mitdb" / "100.dat").chmod(0o444)  # PhysioNet mirrors are read-only
    dest = tmp_path / "data"
    pull("mitdb", dest, ["100"], mirror=str(mirror))
    umask = os.umask(0o022)
    os.umask(umask)
    for f in (dest / "mitdb").glob("100.*"):
        assert stat.S_IMODE(f.stat().st_mode) == 0o666 & ~umask, f


def test_mirror_without_database_is_refused(tmp_path):
    with pytest.raises(ValueError, match="mirror has no svdb/ folder"):
        pull("svdb", tmp_path / "data", ["800"], mirror=str(tmp_path))


def test_demo_manifest_names_ds2_records_only():
    from cardioliquid.data.splits import DS1, DS2

    items = {i["database"]: i for i in load_manifest("demo")["items"]}
    records = items["mitdb"]["records"]
    assert set(records) <= set(DS2) and not set(records) & set(DS1)


@pytest.fixture
def http_mirror(shared_data):
    """http.server on 127.0.0.1 serving the shared data folder, in a thread."""
    handler = functools.partial(_QuietHandler, directory=str(shared_data))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output clean
        pass


@pytest.mark.realdata
def test_url_mirror_end_to_end(http_mirror, shared_data, tmp_path):
    dest = tmp_path / "data"
    report = pull("mitdb", dest, ["100"], mirror=http_mirror)
    assert sorted(report.verified) == ["100.atr", "100.dat", "100.hea"]
    for name in report.verified:
        assert (dest / "mitdb" / name).read_bytes() == (shared_data / "mitdb" / name).read_bytes()
    assert len(load_ecg(dest / "mitdb" / "100").beats) == 2273
    again = pull("mitdb", dest, ["100"], mirror=http_mirror)
    assert again.downloaded == [] and len(again.present) == 3


@pytest.mark.realdata
def test_demo_from_directory_mirror(shared_data, tmp_path):
    dest = tmp_path / "data"
    report = pull("demo", dest, mirror=str(shared_data))
    assert (dest / "mitdb" / "213.hea").is_file()
    assert (dest / "eeg" / "chbmit_edf" / "chb01_03_onset.edf").is_file()
    assert all(name.endswith((".edf", ".tsv")) for name in report.unverified)
    assert pull("demo", dest, mirror=str(shared_data)).downloaded == []


def test_files_land_under_dest_only(mirror, tmp_path):
    dest = tmp_path / "elsewhere"
    pull("mitdb", dest, ["101"], mirror=str(mirror))
    assert {p.name for p in Path(dest, "mitdb").iterdir()} == {"101.hea", "101.dat", "101.atr"}


def test_physionet_path_goes_through_wfdb_dl_files(mirror, tmp_path, monkeypatch):
    """Without a mirror, files come from wfdb.dl_files (faked here: tests stay offline)."""
    import shutil

    import wfdb

    calls = []

    def fake_dl_files(db, dl_dir, files, keep_subdirs=True, overwrite=False):
        calls.append((db, tuple(files)))
        for rel in files:
            target = Path(dl_dir) / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(mirror / db / rel, target)

    monkeypatch.delenv("CARDIOLIQUID_DATA_MIRROR", raising=False)
    monkeypatch.setattr(wfdb, "dl_files", fake_dl_files)
    report = pull("mitdb", tmp_path / "data", ["100"])
    assert report.source == "PhysioNet mitdb/1.0.0"
    assert sorted(report.verified) == ["100.atr", "100.dat", "100.hea"]
    assert ("mitdb", ("SHA256SUMS.txt",)) in calls and ("mitdb", ("100.dat",)) in calls
