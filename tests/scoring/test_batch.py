"""The batch runner and ``cardioliquid score``: outputs, failures, resume."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cardioliquid.errors import CardioLiquidError
from cardioliquid.scoring import batch, writers
from cardioliquid.scoring.batch import ScoreOptions, score_paths
from cardioliquid.scoring.beats import predict_beats
from cardioliquid.scoring.windows import predict_windows


def main(argv: list[str]) -> int:
    """``cardioliquid score ...`` as the console script runs it (exit 2 on bad usage)."""
    import argparse

    from cardioliquid.scoring import cli

    assert argv[0] == "score"
    parser = argparse.ArgumentParser(prog="cardioliquid score")
    cli.add_arguments(parser)
    try:
        return cli.run(parser.parse_args(argv[1:]))
    except CardioLiquidError as e:
        print(f"cardioliquid score: error: {e}", file=__import__("sys").stderr)
        return 2


def _ecg_folder(root: Path, n: int = 3) -> list[Path]:
    from scoring_helpers import synthetic_ecg, write_wfdb

    return [write_wfdb(synthetic_ecg(30.0, seed=i), root) for i in range(n)]


def _add_bad_records(root: Path) -> None:
    from scoring_helpers import synthetic_ecg, write_wfdb

    (root / "corrupt.hea").write_text("this is not a WFDB header\n\x00\x01")
    hea = write_wfdb(synthetic_ecg(30.0, seed=7), root / "tmp")
    for f in hea.parent.iterdir():  # rename record syn7 -> truncated
        text_or_bytes = f.read_bytes().replace(b"syn7", b"truncated")
        (root / f.name.replace("syn7", "truncated")).write_bytes(text_or_bytes)
        f.unlink()
    hea.parent.rmdir()
    dat = root / "truncated.dat"
    dat.write_bytes(dat.read_bytes()[: dat.stat().st_size // 2])
    (root / "broken.edf").write_bytes(b"0       not an EDF file at all" + bytes(200))


def _files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.name != "summary.json"}


def test_outputs_of_a_folder(tmp_path, ecg_ckpt):
    import wfdb

    from cardioliquid.io import load_recording
    from cardioliquid.models.checkpoint import load_model

    heas = _ecg_folder(tmp_path / "db")
    out = tmp_path / "out"
    code = main(
        [
            "score",
            str(tmp_path / "db"),
            "--task",
            "arrhythmia",
            "--model",
            str(ecg_ckpt),
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    loaded = load_model(ecg_ckpt)
    for hea in heas:
        name = hea.stem
        direct = predict_beats(load_recording(hea), loaded)
        ann = wfdb.rdann(str(out / name), "cla")
        np.testing.assert_array_equal(ann.sample, direct.sample)
        assert ann.symbol == list(direct.labels)
        with open(out / f"{name}_beats.csv") as f:
            rows = list(csv.DictReader(f))
        assert [r["class"] for r in rows] == list(direct.labels)
        assert writers.is_complete(out, name)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["records"] == {"total": 3, "done": 3, "skipped": 0,
                                  "resumed": 0, "set_aside": 0, "failed": 0}
    assert summary["beats_total"] == sum(summary["beats_per_class"].values()) > 50
    assert summary["signal_hours"] == pytest.approx(3 * 30 / 3600, rel=1e-3)
    assert summary["model"]["sha256"] and summary["model"]["name"] == "ecg-test"
    assert (out / "failures.csv").read_text().splitlines() == ["path,record,error,reason"]


def test_bad_records_are_listed_and_the_run_goes_on(tmp_path, ecg_ckpt):
    root = tmp_path / "db"
    _ecg_folder(root, 2)
    _add_bad_records(root)
    out = tmp_path / "out"
    code = main(
        [
            "score",
            str(root),
            str(root / "broken.edf"),  # named: scored (and failing), not set aside as EEG
            "--task",
            "arrhythmia",
            "--model",
            str(ecg_ckpt),
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 1
    with open(out / "failures.csv") as f:
        failures = list(csv.DictReader(f))
    assert sorted(r["record"] for r in failures) == ["broken", "corrupt", "truncated"]
    reasons = {r["record"]: r["reason"] for r in failures}
    assert "truncated" in reasons["truncated"] and "corrupt" in reasons["corrupt"]
    assert all(r["path"] in r["reason"] or Path(r["path"]).stem in r["reason"] for r in failures)
    for good in ("syn0", "syn1"):
        assert writers.is_complete(out, good)
    for bad in ("broken", "corrupt", "truncated"):
        assert not list(out.glob(f"{bad}*"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["records"]["done"] == 2 and summary["records"]["failed"] == 3


def test_strict_stops_at_the_first_failure(tmp_path, ecg_ckpt):
    root = tmp_path / "db"
    _ecg_folder(root, 2)
    (root / "a_corrupt.hea").write_text("garbage\n")  # sorts first
    opts = ScoreOptions("arrhythmia", str(ecg_ckpt), str(tmp_path / "out"))
    summary = score_paths([root], opts, strict=True, progress=False)
    assert summary["records"]["failed"] == 1 and summary["records"]["done"] == 0
    assert summary["not_started"] == 2


def test_kill_and_resume_gives_identical_outputs(tmp_path, ecg_ckpt, monkeypatch):
    root = tmp_path / "db"
    _ecg_folder(root, 3)
    (root / "corrupt.hea").write_text("garbage\n")
    args = ["--task", "arrhythmia", "--model", str(ecg_ckpt), "--no-progress"]
    clean, resumed = tmp_path / "clean", tmp_path / "resumed"
    assert main(["score", str(root), "--out", str(clean), *args]) == 1

    # "kill" the second run while it writes the second record's table, after its .cla
    real, calls = writers.write_beat_table, []

    def dying(pred, path):
        calls.append(path)
        if len(calls) == 2:
            Path(path).with_name(f".{Path(path).name}.999.tmp").write_text("half a file")
            raise KeyboardInterrupt
        return real(pred, path)

    monkeypatch.setattr(writers, "write_beat_table", dying)
    with pytest.raises(KeyboardInterrupt):
        main(["score", str(root), "--out", str(resumed), *args])
    monkeypatch.setattr(writers, "write_beat_table", real)
    assert writers.is_complete(resumed, "syn0") and not writers.is_complete(resumed, "syn1")
    assert (resumed / "syn1.cla").exists()  # a complete file of an incomplete record

    assert main(["score", str(root), "--out", str(resumed), "--resume", *args]) == 1
    assert _files(resumed) == _files(clean)
    summary = json.loads((resumed / "summary.json").read_text())
    assert summary["records"] == {"total": 4, "done": 2, "skipped": 1, "resumed": 1,
                                  "set_aside": 0, "failed": 1}
    assert summary["beats_total"] == json.loads((clean / "summary.json").read_text())["beats_total"]


def test_resume_rescores_a_damaged_output(tmp_path, ecg_ckpt):
    root = tmp_path / "db"
    _ecg_folder(root, 1)
    opts = ScoreOptions("arrhythmia", str(ecg_ckpt), str(tmp_path / "out"))
    score_paths([root], opts, progress=False)
    good = (tmp_path / "out" / "syn0_beats.csv").read_bytes()
    (tmp_path / "out" / "syn0_beats.csv").write_bytes(good[:-10])
    summary = score_paths([root], opts, resume=True, progress=False)
    assert summary["records"]["done"] == 1
    assert (tmp_path / "out" / "syn0_beats.csv").read_bytes() == good


def test_seizure_outputs(tmp_path, eeg_ckpt):
    import pandas as pd
    from scoring_helpers import synthetic_eeg, write_edf

    from cardioliquid.io import load_recording
    from cardioliquid.models.checkpoint import load_model

    edf = write_edf(synthetic_eeg(40.0, seed=2), tmp_path / "eeg")
    out = tmp_path / "out"
    assert (
        main(
            [
                "score",
                str(tmp_path / "eeg" / "*.edf"),
                "--task",
                "seizure",
                "--model",
                str(eeg_ckpt),
                "--out",
                str(out),
                "--no-progress",
                "--threshold",
                "0.0",
            ]
        )
        == 0
    )
    direct = predict_windows(load_recording(edf), load_model(eeg_ckpt))
    events = pd.read_csv(out / "eeg2_events.tsv", sep="\t")
    assert list(events.columns) == list(writers.EVENTS_COLUMNS)
    # threshold 0: every window is positive, one event over the whole scored span
    assert events.shape[0] == 1 and events.eventType[0] == "sz"
    assert events.onset[0] == 0.0 and events.duration[0] == pytest.approx(direct.end_s[-1])
    assert events.recordingDuration[0] == pytest.approx(40.0)
    win = pd.read_csv(out / "eeg2_windows.csv")
    np.testing.assert_allclose(win.p_sz.to_numpy(), direct.proba[:, 1], atol=1e-6)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["windows_total"] == len(direct) and summary["events_total"] == 1


def test_task_and_model_must_agree(tmp_path, eeg_ckpt, capsys):
    _ecg_folder(tmp_path / "db", 1)
    code = main(
        [
            "score",
            str(tmp_path / "db"),
            "--task",
            "arrhythmia",
            "--model",
            str(eeg_ckpt),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2
    assert "expected an arrhythmia model, got a seizure model" in capsys.readouterr().err


def test_task_mismatch_messages_read_an_arrhythmia_model(ecg_model, ecg_rec):
    opts = ScoreOptions("seizure", "m", "out")
    with pytest.raises(CardioLiquidError, match="expected a seizure model, got an arrhythmia"):
        batch.check_task(ecg_model, opts)
    with pytest.raises(CardioLiquidError, match="model 'liquid-cfc' is an arrhythmia model"):
        batch.predict_record(ecg_rec, ecg_model, opts)


def test_discovery(tmp_path):
    from cardioliquid.scoring.discover import discover, output_names

    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in (
        "a/100.hea",
        "a/100.dat",
        "a/100.atr",
        "a/b/x.edf",
        "a/b/y.EDF",
        "a/b/x.edf.seizures",
        "a/notes.txt",
        "c.hea",
    ):
        (tmp_path / name).write_text("")
    found = discover([tmp_path / "a", str(tmp_path / "*.hea"), tmp_path / "a" / "100.hea"])
    rel = sorted(str(p.relative_to(tmp_path)) for p in found)
    assert rel == ["a/100.hea", "a/b/x.edf", "a/b/y.EDF", "c.hea"]
    assert discover([tmp_path / "missing.hea"]) == [tmp_path / "missing.hea"]
    # The shell's a/* names every file of record 100: one record, scored once; a file that
    # belongs to no record (notes.txt) is kept, to fail with its reason.
    files = [*sorted((tmp_path / "a").glob("100.*")), tmp_path / "a" / "notes.txt"]
    assert discover(files) == [tmp_path / "a" / "100.hea", tmp_path / "a" / "notes.txt"]
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "100.hea").write_text("")
    names = output_names(discover([tmp_path / "a", tmp_path / "d"]))
    assert sorted(names.values()) == ["a_100", "d_100", "x", "y"]
    assert batch.DEFAULT_MODELS["seizure"] == "seizure"


@pytest.mark.slow
def test_worker_processes_equal_one_process(tmp_path, ecg_ckpt):
    from scoring_helpers import score_launcher

    root = tmp_path / "db"
    _ecg_folder(root, 3)
    launcher = score_launcher(tmp_path)
    base = [
        sys.executable,
        str(launcher),
        str(root),
        "--task",
        "arrhythmia",
        "--model",
        str(ecg_ckpt),
        "--no-progress",
    ]
    for out, extra in (("one", []), ("two", ["--workers", "2"])):
        run = subprocess.run(
            [*base, "--out", str(tmp_path / out), *extra],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stderr
    assert _files(tmp_path / "one") == _files(tmp_path / "two")


@pytest.mark.slow
def test_sigkill_halfway_then_resume_is_byte_identical(tmp_path, ecg_ckpt):
    import signal
    import time

    from scoring_helpers import score_launcher, synthetic_ecg, write_wfdb

    root = tmp_path / "db"
    for i in range(10):
        write_wfdb(synthetic_ecg(120.0, seed=i), root)
    launcher = score_launcher(tmp_path)
    base = [
        sys.executable,
        str(launcher),
        str(root),
        "--task",
        "arrhythmia",
        "--model",
        str(ecg_ckpt),
        "--no-progress",
    ]
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    assert (
        subprocess.run([*base, "--out", str(clean)], capture_output=True, timeout=300).returncode
        == 0
    )
    proc = subprocess.Popen([*base, "--out", str(killed)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not list(killed.glob("*.done.json")) and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_at_kill = len(list(killed.glob("*.done.json")))
    assert 1 <= done_at_kill < 10  # killed halfway
    assert not (killed / "summary.json").exists()
    resumed = subprocess.run(
        [*base, "--out", str(killed), "--resume"], capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    assert _files(killed) == _files(clean)
    summary = json.loads((killed / "summary.json").read_text())
    assert summary["records"]["skipped"] == done_at_kill


def test_resume_with_another_model_rescores(tmp_path, ecg_ckpt):
    from scoring_helpers import make_ecg_model, save_loaded

    root = tmp_path / "db"
    _ecg_folder(root, 2)
    other = save_loaded(make_ecg_model(seed=1), tmp_path / "models" / "other.safetensors")
    out = str(tmp_path / "out")
    score_paths([root], ScoreOptions("arrhythmia", str(ecg_ckpt), out), progress=False)
    again = score_paths(
        [root], ScoreOptions("arrhythmia", str(ecg_ckpt), out), resume=True, progress=False
    )
    assert again["records"]["skipped"] == 2
    changed = score_paths(
        [root], ScoreOptions("arrhythmia", str(other), out), resume=True, progress=False
    )
    assert changed["records"]["done"] == 2 and changed["records"]["skipped"] == 0
    detected = score_paths(
        [root],
        ScoreOptions("arrhythmia", str(other), out, beats="detect"),
        resume=True,
        progress=False,
    )
    assert detected["records"]["done"] == 2  # other options: scored again


def test_af_gated_model_reports_af_beats_per_record_and_in_the_summary(tmp_path):
    from scoring_helpers import make_ecg_model, save_loaded, synthetic_ecg, write_wfdb

    from cardioliquid.io import load_recording
    from cardioliquid.models.checkpoint import load_model

    data = tmp_path / "data"
    af = write_wfdb(synthetic_ecg(240.0, seed=3, af_from_s=100.0, ectopic_fraction=0.03), data)
    write_wfdb(synthetic_ecg(60.0, seed=4, ectopic_fraction=0.03), data)  # too short to judge
    ckpt = save_loaded(make_ecg_model(af_gate=True), tmp_path / "gated.safetensors")
    out = tmp_path / "out"
    summary = score_paths([data], ScoreOptions(out_dir=str(out), task="arrhythmia",
                                               model=str(ckpt), parquet=False))
    n_af = int(predict_beats(load_recording(af), load_model(ckpt)).af.sum())
    assert n_af > 50
    assert writers.read_manifest(out, af.stem)["af_beats"] == n_af
    assert summary["af_beats_total"] == n_af and summary["records_with_af"] == 1
    with open(out / f"{af.stem}_beats.csv") as f:
        assert sum(int(r["af_rhythm"]) for r in csv.DictReader(f)) == n_af


def test_lead_option_scores_another_lead_and_says_which(tmp_path, ecg_ckpt, capsys):
    import dataclasses

    from scoring_helpers import synthetic_ecg, write_wfdb

    from cardioliquid.io import load_recording
    from cardioliquid.models.checkpoint import load_model

    rec = synthetic_ecg(30.0, seed=3)
    second = -0.7 * rec.signal + 0.05 * np.roll(rec.signal, 20, axis=1)  # a different lead
    two = dataclasses.replace(rec, signal=np.concatenate([rec.signal, second]),
                              channel_names=["MLII", "V1"])
    hea = write_wfdb(two, tmp_path / "db")
    out = tmp_path / "out"

    def score(*extra: str) -> int:
        return main(["score", str(hea), "--task", "arrhythmia", "--model", str(ecg_ckpt),
                     "--out", str(out), "--no-progress", "--resume", *extra])

    assert score() == 0
    first = writers.read_manifest(out, hea.stem)
    assert first["lead"] == "MLII"
    assert score("--lead", "V1") == 0  # another lead: not skipped as done
    assert "1 scored, 0 failed of 1 records;" in capsys.readouterr().err
    assert score("--lead", "V1") == 0  # the same lead again: skipped as done
    assert "0 scored, 1 already scored (--resume), 0 failed of 1 records;" in (
        capsys.readouterr().err)
    manifest = writers.read_manifest(out, hea.stem)
    assert manifest["lead"] == "V1" and manifest["run_key"] != first["run_key"]
    direct = predict_beats(load_recording(hea), load_model(ecg_ckpt).reading_leads(["V1"]))
    with open(out / f"{hea.stem}_beats.csv") as f:
        assert [r["class"] for r in csv.DictReader(f)] == list(direct.labels)
    assert score("--lead", "aVR") == 1  # no such lead: the record fails, the run reports it
    failures = (out / "failures.csv").read_text()
    assert "aVR" in failures and hea.stem in failures


def test_a_lead_off_throughout_is_named_in_the_manifest_summary_and_terminal(
        tmp_path, ecg_ckpt, capsys):
    import dataclasses

    from scoring_helpers import synthetic_ecg, write_wfdb

    rec = synthetic_ecg(30.0, seed=3)
    two = dataclasses.replace(rec, signal=np.concatenate([np.zeros_like(rec.signal),
                                                          -0.7 * rec.signal]),
                              channel_names=["MLII", "V1"])  # fmt: skip
    hea = write_wfdb(two, tmp_path / "db")
    out = tmp_path / "out"
    assert main(["score", str(hea), "--task", "arrhythmia", "--model", str(ecg_ckpt),
                 "--out", str(out), "--no-progress"]) == 0  # fmt: skip
    manifest = writers.read_manifest(out, hea.stem)
    assert (manifest["lead"], manifest["leads_off"]) == ("V1", ["MLII"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["leads_notes"] == {hea.stem: manifest["leads_note"]}
    assert f"{hea.stem}: MLII: no usable signal in the whole record" in capsys.readouterr().err


def test_reading_leads_changes_only_the_lead_preference(ecg_model, eeg_model):
    fusing = replace(ecg_model, preprocessing=replace(ecg_model.preprocessing, fuse_leads=2))
    reading = fusing.reading_leads([" V1 ", "V2"])
    assert reading.preprocessing.lead_preference == ["V1", "V2"]
    assert reading.preprocessing.fuse_leads == 1  # told which lead: it reads that one
    assert reading.model is ecg_model.model  # the same weights
    assert ecg_model.preprocessing.lead_preference[0] == "MLII"  # the original is untouched
    assert reading.preprocessing.fs == ecg_model.preprocessing.fs
    with pytest.raises(ValueError, match="at least one lead"):
        ecg_model.reading_leads([" "])
    with pytest.raises(ValueError, match="reads no ECG lead"):
        eeg_model.reading_leads(["V1"])


def test_a_malformed_seizure_sidecar_does_not_stop_scoring_but_stops_evaluation(tmp_path,
                                                                                eeg_ckpt):
    """Scoring reads no expert labels: a sidecar with a bad onset failed the record there,
    while `evaluate`, which needs them, names the sidecar and its line."""
    from scoring_helpers import synthetic_eeg, write_edf

    edf = write_edf(synthetic_eeg(40.0, seed=2), tmp_path / "eeg")
    sidecar = edf.with_name(f"{edf.stem}_events.tsv")
    sidecar.write_text("onset\tduration\teventType\nabc\t2\tsz\n")
    out = tmp_path / "out"
    assert main(["score", str(edf), "--task", "seizure", "--model", str(eeg_ckpt), "--out",
                 str(out), "--no-progress"]) == 0
    assert (out / f"{edf.stem}_events.tsv").is_file()
    result = tmp_path / "ev.json"
    from cardioliquid.cli import main as console_main

    assert console_main(["evaluate", "seizure", "--data", str(edf), "--model", str(eeg_ckpt),
                         "--json", str(result), "--no-progress"]) != 0
    errors = json.loads(result.read_text())["errors"]
    assert f"{sidecar}: events file line 2" in errors[str(edf)]


def test_evaluate_refuses_an_eeg_file_without_any_seizure_truth(tmp_path, eeg_ckpt):
    """It was graded as seizure-free: every detection a false alarm, exit 0."""
    from dataclasses import replace

    from scoring_helpers import synthetic_eeg, write_edf

    from cardioliquid.cli import main as console_main

    edf = write_edf(replace(synthetic_eeg(40.0, seed=2), seizures=[]), tmp_path / "eeg")
    result = tmp_path / "ev.json"
    assert console_main(["evaluate", "seizure", "--data", str(edf), "--model", str(eeg_ckpt),
                         "--json", str(result), "--no-progress"]) != 0
    error = json.loads(result.read_text())["errors"][str(edf)]
    assert "no seizure annotations: expected a BIDS/SzCORE _events.tsv" in error
    edf.with_name(f"{edf.stem}_events.tsv").write_text("onset\tduration\teventType\n")
    assert console_main(["evaluate", "seizure", "--data", str(edf), "--model", str(eeg_ckpt),
                         "--json", str(result), "--no-progress"]) == 0  # seizure-free, said so
    record = json.loads(result.read_text())["records"][edf.stem]
    assert record["truth"] == {"source": "events.tsv", "file": f"{edf.stem}_events.tsv"}


def test_a_bids_recording_gets_its_events_file_named_as_bids_names_it(tmp_path, eeg_ckpt):
    """``sub-01_..._eeg.edf`` gave ``sub-01_..._eeg_events.tsv``; BIDS and SzCORE name the
    events of a recording without its data-type suffix."""
    from scoring_helpers import synthetic_eeg, write_edf

    edf = write_edf(synthetic_eeg(40.0, seed=2), tmp_path / "bids")
    bids = edf.with_name("sub-01_task-szMonitoring_run-00_eeg.edf")
    edf.rename(bids)
    out = tmp_path / "out"
    assert main(["score", str(bids), "--task", "seizure", "--model", str(eeg_ckpt), "--out",
                 str(out), "--no-progress"]) == 0
    assert (out / "sub-01_task-szMonitoring_run-00_events.tsv").is_file()
    assert (out / "sub-01_task-szMonitoring_run-00_eeg_windows.csv").is_file()
    assert not list(out.glob("*_eeg_events.tsv"))
    # --resume finds it complete under that name
    assert main(["score", str(bids), "--task", "seizure", "--model", str(eeg_ckpt), "--out",
                 str(out), "--no-progress", "--resume"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["records"]["resumed"] == 1
