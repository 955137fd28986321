"""``cardioliquid score`` and its inputs: never over a reference, resume on changed inputs,
nothing found, the other modality's files, the model's version."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest
from test_batch import _ecg_folder, main

from cardioliquid.errors import CardioLiquidError
from cardioliquid.scoring import writers
from cardioliquid.scoring.batch import ScoreOptions, model_identity, score_paths

REFERENCE_TSV = "onset\tduration\teventType\n10.0\t5.0\tsz\n"


def _eeg_file(folder: Path, name: str) -> Path:
    from scoring_helpers import synthetic_eeg, write_edf

    return write_edf(dataclasses.replace(synthetic_eeg(20.0, seed=2), record_id=name), folder)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _score(*args: str) -> int:
    return main(["score", *args, "--no-progress"])


# --------------------------------------------------------------------------- references
def test_out_in_the_input_folder_never_overwrites_the_reference_events(tmp_path, eeg_ckpt,
                                                                       capsys):
    from cardioliquid.io import load_recording

    in5 = tmp_path / "in5"
    edf = _eeg_file(in5, "chb01_03_onset")
    reference = in5 / "chb01_03_onset_events.tsv"
    reference.write_text(REFERENCE_TSV)
    before = _snapshot(in5)
    code = _score(str(in5), "--task", "seizure", "--model", str(eeg_ckpt), "--out", str(in5))
    assert code == 2
    err = capsys.readouterr().err
    assert f"{reference}: refusing to overwrite the reference annotations of {edf}" in err
    assert "expected --out apart from the recordings" in err
    assert _snapshot(in5) == before  # nothing written: no output, no lock, no summary
    assert load_recording(edf).seizures == [(10.0, 15.0)]


def test_an_output_where_the_loader_looks_for_a_reference_is_refused(tmp_path, eeg_ckpt,
                                                                     capsys):
    # CHB-MIT: the reference is <file>.seizures; a <rec>_events.tsv beside the EDF
    # would be read first, so writing one there would replace the reference.
    data = tmp_path / "data"
    edf = _eeg_file(data, "chb01_04")
    Path(f"{edf}.seizures").write_bytes(b"\x00\x00")
    before = _snapshot(data)
    opts = ScoreOptions("seizure", str(eeg_ckpt), str(data))
    with pytest.raises(CardioLiquidError, match=r"chb01_04_events\.tsv: refusing to write the "
                                                r"scores of record 'chb01_04' where the loader"):
        score_paths([data], opts, progress=False)
    assert _snapshot(data) == before
    # a separate folder is fine, and so is scoring into it again
    out = tmp_path / "out"
    for _ in range(2):
        assert _score(str(data), "--task", "seizure", "--model", str(eeg_ckpt),
                      "--out", str(out)) == 0
    assert writers.is_complete(out, "chb01_04")
    capsys.readouterr()


def test_ecg_outputs_beside_the_record_are_rewritten_only_when_they_are_earlier_outputs(
        tmp_path, ecg_ckpt, capsys):
    db = tmp_path / "db"
    hea = _ecg_folder(db, 1)[0]
    args = [str(db), "--task", "arrhythmia", "--model", str(ecg_ckpt), "--out", str(db)]
    assert _score(*args) == 0  # .cla, tables, manifest: none is read as a reference
    manifest = writers.read_manifest(db, hea.stem)
    assert [*manifest["files"], f"{hea.stem}.done.json"] == writers.record_outputs(
        hea.stem, "arrhythmia", ScoreOptions("arrhythmia", "", "").parquet)
    assert sorted(manifest["inputs"]) == [f"{hea.stem}.{x}" for x in ("atr", "dat", "hea")]
    assert _score(*args, "--resume") == 0  # its own outputs are not inputs: still complete
    assert json.loads((db / "summary.json").read_text())["records"]["skipped"] == 1
    assert _score(*args) == 0  # earlier outputs, as their manifest lists them: rewritten
    cla = db / f"{hea.stem}.cla"
    cla.write_bytes(b"\x00\x00")  # not the output the manifest lists: someone's file
    capsys.readouterr()
    assert _score(*args) == 2
    assert f"{cla}: refusing to overwrite a file of recording {hea}" in capsys.readouterr().err
    assert cla.read_bytes() == b"\x00\x00"


# --------------------------------------------------------------------------- resume
def _dat_replaced(hea: Path, other: Path) -> None:
    """Put ``other``'s signal in ``hea``'s record (another file, another mtime)."""
    dat = hea.with_suffix(".dat")
    mtime = dat.stat().st_mtime_ns + 10**9
    dat.write_bytes(other.with_suffix(".dat").read_bytes())
    os.utime(dat, ns=(mtime, mtime))


def test_resume_rescores_a_record_whose_inputs_changed(tmp_path, ecg_ckpt):
    root = tmp_path / "db"
    hea, other = _ecg_folder(root, 2)
    out = tmp_path / "out"
    opts = ScoreOptions("arrhythmia", str(ecg_ckpt), str(out))

    def resume() -> dict:
        return score_paths([hea], opts, resume=True, progress=False)["records"]

    score_paths([hea], opts, progress=False)
    assert resume()["skipped"] == 1 and resume()["resumed"] == 1
    assert writers.read_manifest(out, hea.stem)["beat_source"] == "reference"

    hea.with_suffix(".atr").unlink()  # no reference beats any more
    assert resume()["done"] == 1
    manifest = writers.read_manifest(out, hea.stem)
    assert manifest["beat_source"] == "detect" and f"{hea.stem}.atr" not in manifest["inputs"]
    assert resume()["skipped"] == 1

    table = (out / f"{hea.stem}_beats.csv").read_bytes()
    _dat_replaced(hea, other)
    assert resume()["done"] == 1
    assert (out / f"{hea.stem}_beats.csv").read_bytes() != table


def test_manifests_without_an_input_fingerprint_are_scored_again(tmp_path, ecg_ckpt):
    root = tmp_path / "db"
    _ecg_folder(root, 1)
    out = tmp_path / "out"
    opts = ScoreOptions("arrhythmia", str(ecg_ckpt), str(out))
    score_paths([root], opts, progress=False)
    manifest = writers.manifest_path(out, "syn0")
    doc = json.loads(manifest.read_text())
    del doc["inputs"]  # as written before fingerprints
    manifest.write_text(json.dumps(doc))
    assert writers.is_complete(out, "syn0")
    summary = score_paths([root], opts, resume=True, progress=False)
    assert summary["records"]["done"] == 1 and summary["records"]["skipped"] == 0
    assert "inputs" in writers.read_manifest(out, "syn0")


# --------------------------------------------------------------------------- nothing found
@pytest.mark.parametrize("what", ["empty", "glob", "unsupported"])
def test_nothing_to_score_is_said(tmp_path, ecg_ckpt, capsys, what):
    folder = tmp_path / "in"
    folder.mkdir()
    if what == "unsupported":
        (folder / "notes.txt").write_text("x")
        (folder / "table.csv").write_text("a,b\n")
    path = str(folder / "*.hea") if what == "glob" else str(folder)
    args = [path, "--task", "arrhythmia", "--model", str(ecg_ckpt), "--out", str(tmp_path / "o")]
    assert _score(*args) == 0
    err = capsys.readouterr().err
    assert (f"warning: no recording was found in {path}: a folder or glob is searched for "
            f".hea files with --task arrhythmia") in err
    assert _score(*args, "--strict") == 1
    assert f"error: no recording was found in {path}" in capsys.readouterr().err


def test_nothing_to_score_lists_the_eeg_formats_under_seizure(tmp_path, eeg_ckpt, capsys):
    path = str(tmp_path / "none" / "*.edf")
    assert _score(path, "--task", "seizure", "--model", str(eeg_ckpt),
                  "--out", str(tmp_path / "o")) == 0
    assert (".edf, .bdf, .gdf, .vhdr, .set, .fif, .fif.gz, Bonn segment .txt files with "
            "--task seizure") in (
        capsys.readouterr().err)


# --------------------------------------------------------------------------- modalities
def test_the_other_modality_found_by_a_search_is_set_aside(tmp_path, ecg_ckpt, eeg_ckpt,
                                                           capsys):
    db = tmp_path / "db"
    heas = _ecg_folder(db, 2)
    edf = _eeg_file(db, "eeg2")
    out = tmp_path / "out"
    assert _score(str(db), "--task", "arrhythmia", "--model", str(ecg_ckpt),
                  "--out", str(out)) == 0
    err = capsys.readouterr().err
    assert f"  skipped: {edf} (EEG file, --task arrhythmia)" in err
    # The EEG file is no record: two records, the file set aside beside them.
    assert "2 scored, 0 failed of 2 records; 1 other file set aside;" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["records"] == {"total": 3, "done": 2, "skipped": 1, "resumed": 0,
                                  "set_aside": 1, "failed": 0}
    assert summary["skipped_files"] == [{"path": str(edf),
                                         "reason": "EEG file, --task arrhythmia"}]
    assert summary["beat_source_records"] == {"reference": 2}
    assert not list(out.glob("eeg2*"))

    eeg_out = tmp_path / "eeg_out"
    assert _score(str(db), "--task", "seizure", "--model", str(eeg_ckpt),
                  "--out", str(eeg_out)) == 0
    summary = json.loads((eeg_out / "summary.json").read_text())
    assert summary["records"]["done"] == 1
    assert [f["path"] for f in summary["skipped_files"]] == [str(h) for h in heas]
    assert {f["reason"] for f in summary["skipped_files"]} == {"WFDB (ECG) record, --task seizure"}

    # named on the command line: scored, and it fails saying why
    assert _score(str(edf), "--task", "arrhythmia", "--model", str(ecg_ckpt),
                  "--out", str(tmp_path / "named")) == 1
    assert "eeg2" in (tmp_path / "named" / "failures.csv").read_text()


def test_a_folder_of_the_other_modality_only_is_nothing_found(tmp_path, ecg_ckpt, capsys):
    _eeg_file(tmp_path / "eeg", "eeg2")
    assert _score(str(tmp_path / "eeg"), "--task", "arrhythmia", "--model", str(ecg_ckpt),
                  "--out", str(tmp_path / "o"), "--strict") == 1
    err = capsys.readouterr().err
    assert "error: no recording was found" in err
    assert "1 file(s) of the other modality set aside" in err


def test_discover_for_task_sets_aside_only_searched_files(tmp_path):
    from cardioliquid.scoring.discover import discover, discover_for_task

    for name in ("a/100.hea", "a/x.edf", "a/y.fif.gz", "b/z.edf"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    paths = [tmp_path / "a", str(tmp_path / "b" / "*.edf"), tmp_path / "a" / "x.edf"]
    records, other = discover_for_task(paths, "arrhythmia")
    assert records == [tmp_path / "a" / "100.hea", tmp_path / "a" / "x.edf"]
    assert other == {tmp_path / "a" / "y.fif.gz": "EEG file, --task arrhythmia",
                     tmp_path / "b" / "z.edf": "EEG file, --task arrhythmia"}
    records, other = discover_for_task(paths, "seizure")
    assert records == [tmp_path / "a" / "x.edf", tmp_path / "a" / "y.fif.gz",
                       tmp_path / "b" / "z.edf"]
    assert other == {tmp_path / "a" / "100.hea": "WFDB (ECG) record, --task seizure"}
    assert sorted([*records, *other]) == discover(paths)


def test_a_folder_of_bonn_segments_is_searched_for_them_only(tmp_path):
    """`score data/bonn --task seizure` found nothing: Bonn segments are .txt files."""
    from cardioliquid.scoring.discover import discover_for_task

    for name in ("A_Z/Z001.txt", "E_S/S100.TXT", "E_S/notes.txt", "README.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    records, other = discover_for_task([tmp_path], "seizure")
    assert records == [tmp_path / "A_Z" / "Z001.txt", tmp_path / "E_S" / "S100.TXT"]
    records, other = discover_for_task([tmp_path], "arrhythmia")
    assert records == [] and set(other) == {tmp_path / "A_Z" / "Z001.txt",
                                            tmp_path / "E_S" / "S100.TXT"}


# --------------------------------------------------------------------------- the model
def test_summary_names_the_model_version_or_its_commit(tmp_path, ecg_model):
    from scoring_helpers import save_loaded

    from cardioliquid.models.checkpoint import load_model

    exported = dataclasses.replace(ecg_model, metadata={"git_commit": "98e58b9"})
    ckpt = save_loaded(exported, tmp_path / "exported.safetensors")
    assert model_identity(load_model(ckpt))["version"] == "98e58b9"
    stated = dataclasses.replace(ecg_model, metadata={"version": "v9.1", "git_commit": "98e58b9"})
    assert model_identity(stated)["version"] == "v9.1"
    assert model_identity(dataclasses.replace(ecg_model, metadata={}))["version"] == ""

    _ecg_folder(tmp_path / "db", 1)
    out = tmp_path / "out"
    score_paths([tmp_path / "db"], ScoreOptions("arrhythmia", str(ckpt), str(out)),
                progress=False)
    assert json.loads((out / "summary.json").read_text())["model"]["version"] == "98e58b9"


def test_the_shipped_models_have_a_version():
    from cardioliquid.models.checkpoint import load_model

    loaded = load_model("arrhythmia")
    assert model_identity(loaded)["version"] == loaded.metadata["git_commit"] != ""


@pytest.mark.parametrize("extra", [["--model", "no-such-model"], ["--model", "seizure"],
                                   ["--lead", " "]])
def test_a_refused_model_or_lead_leaves_no_output_folder(tmp_path, extra, capsys):
    """Bad usage is answered before any work: the --out folder was created regardless."""
    from scoring_helpers import synthetic_ecg, write_wfdb

    write_wfdb(synthetic_ecg(20.0), tmp_path / "db")
    out = tmp_path / "out"
    assert main(["score", str(tmp_path / "db"), "--task", "arrhythmia", "--out", str(out),
                 "--no-progress", *extra]) == 2  # fmt: skip
    assert "cardioliquid score: error:" in capsys.readouterr().err
    assert not out.exists()


def test_an_output_that_cannot_be_written_names_it(tmp_path, ecg_ckpt, capsys):
    """A folder in the way of an output was reported as "[Errno 21] ... (at _atomic.py:48)"."""
    from scoring_helpers import synthetic_ecg, write_wfdb

    hea = write_wfdb(synthetic_ecg(20.0), tmp_path / "db")
    out = tmp_path / "out"
    (out / f"{hea.stem}_beats.csv").mkdir(parents=True)
    assert _score(str(hea), "--task", "arrhythmia", "--model", str(ecg_ckpt),
                  "--out", str(out)) == 1
    line = next(ln for ln in capsys.readouterr().err.splitlines() if "failed:" in ln)
    assert line.endswith(f"{out / hea.stem}_beats.csv: Is a directory"), line
    assert not writers.read_manifest(out, hea.stem)  # not marked done
