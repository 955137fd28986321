"""``cardioliquid evaluate`` end to end on synthetic records with stand-in models."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import wfdb

from cardioliquid.data import splits
from cardioliquid.decision.alerts import seizure_alerts
from cardioliquid.decision.settings import DecisionSettings
from cardioliquid.errors import CardioLiquidError, RecordingError
from cardioliquid.evaluation import cli, records, run
from cardioliquid.io.labels import BEAT_TO_AAMI
from cardioliquid.io.recording import Recording
from cardioliquid.scoring.results import BeatPredictions, WindowPredictions
from cardioliquid.signal.config import WindowPreprocessing

CLASSES = ["N", "S", "V", "F", "Q"]


def main(argv: list[str]) -> int:
    """``cardioliquid evaluate ...`` as the console script runs it (exit 2 on input errors)."""
    assert argv[0] == "evaluate"
    parser = argparse.ArgumentParser(prog="cardioliquid evaluate")
    cli.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    try:
        return cli.run(args)
    except CardioLiquidError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _stand_in_labels(aami: np.ndarray) -> np.ndarray:
    """The reference class, except every 4th beat is called V (a known error pattern)."""
    out = aami.copy()
    out[::4] = "V"
    return out


def _fake_predict_beats(rec, loaded, beats="auto", **kw) -> BeatPredictions:
    labels = _stand_in_labels(rec.beats.aami)
    proba = np.eye(5, dtype=np.float32)[[CLASSES.index(c) for c in labels]]
    return BeatPredictions(rec.beats.sample, proba, CLASSES, rec.fs, beats, rec.record_id)


@pytest.fixture
def stand_in_model(monkeypatch):
    calls = {"adapt": []}
    monkeypatch.setattr(
        "cardioliquid.evaluation.cli._load_model",
        lambda name: SimpleNamespace(name=f"stand-in:{name}", label=f"stand-in:{name}",
                                     model_name=name, path="",
                                     metadata={"adaptation": {"eval_mode": True}},
                                     preprocessing=SimpleNamespace(af_gate=True),
                                     decision=DecisionSettings(af_gate=True)),
    )
    monkeypatch.setattr("cardioliquid.evaluation.run.predict_beats", _fake_predict_beats)

    def fake_adapt(loaded, rec, minutes, **settings):
        calls["adapt"].append((rec.record_id, minutes))
        calls.setdefault("settings", []).append(settings)
        return loaded

    monkeypatch.setattr("cardioliquid.evaluation.run.adapt_to_patient", fake_adapt)
    return calls


def _expected_veb(folder: Path, records: list[str], start_s: float = 0.0) -> tuple[int, int]:
    tp = fp = 0
    for r in records:
        ann = wfdb.rdann(str(folder / r), "atr")
        ref = np.array([BEAT_TO_AAMI[s] for s in ann.symbol])
        called_v = np.zeros(len(ref), dtype=bool)
        called_v[::4] = True
        scored = ann.sample >= start_s * ann.fs
        tp += int(np.sum(scored & (ref == "V")))
        fp += int(np.sum(scored & called_v & np.isin(ref, ["N", "S"])))
    return tp, fp


def test_arrhythmia_cli_with_stand_in_model(
    ecg_folder: Path, tmp_path: Path, stand_in_model
) -> None:
    out = tmp_path / "out" / "eval.json"
    md = tmp_path / "out" / "eval.md"
    rc = main(
        [
            "evaluate",
            "arrhythmia",
            "--data",
            str(ecg_folder),
            "--records",
            "r1,r2,r3",
            "--model",
            "anything",
            "--json",
            str(out),
            "--report",
            str(md),
            "--no-progress",
        ]
    )
    assert rc == 0
    res = json.loads(out.read_text())
    assert res["mode"] == "inter-patient" and res["errors"] == {}
    assert res["n_beats"] == 240 and set(res["records"]) == {"r1", "r2", "r3"}
    tp, fp = _expected_veb(ecg_folder, ["r1", "r2", "r3"])
    assert (res["veb"]["tp"], res["veb"]["fp"]) == (tp, fp)
    assert res["veb"]["se"] == pytest.approx(100.0)
    assert res["veb"]["ppv"] == pytest.approx(100 * tp / (tp + fp))
    assert np.array(res["confusion"]).sum() == 240
    assert res["model"] == "stand-in:anything"
    assert res["af_gate"] is True  # the model's own setting, stated with its numbers
    # Report and figure, and no temporary file left behind.
    text = md.read_text()
    assert "| VEB |" in text and "eval_confusion.png" in text
    assert "**AF gate**: on" in text
    assert (md.parent / "eval_confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(md.parent.glob(".*tmp"))


def test_predictions_folder_gives_the_same_numbers(
    ecg_folder: Path, tmp_path: Path, stand_in_model
) -> None:
    from cardioliquid.io import load_ecg

    pred_dir = tmp_path / "pred"
    pred_dir.mkdir()
    for r in ("r1", "r2", "r3"):
        p = _fake_predict_beats(load_ecg(ecg_folder / r), None)
        wfdb.wrann(r, "cla", p.sample, symbol=list(p.labels), fs=p.fs, write_dir=str(pred_dir))
    direct, from_files = tmp_path / "direct.json", tmp_path / "files.json"
    common = [
        "evaluate",
        "arrhythmia",
        "--data",
        str(ecg_folder),
        "--records",
        "r1,r2,r3",
        "--no-progress",
    ]
    assert main([*common, "--json", str(direct)]) == 0
    assert main([*common, "--predictions", str(pred_dir), "--json", str(from_files)]) == 0
    a, b = json.loads(direct.read_text()), json.loads(from_files.read_text())
    for key in ("classes", "veb", "sveb", "qrs", "accuracy", "confusion", "n_beats", "records"):
        assert a[key] == b[key], key
    assert b["source"] == "predictions"
    assert b["af_gate"] is None  # a predictions folder does not say how it was made


def test_patient_adaptive_mode_scores_after_calibration(
    ecg_folder: Path, tmp_path: Path, stand_in_model
) -> None:
    out = tmp_path / "adaptive.json"
    rc = main(
        [
            "evaluate",
            "arrhythmia",
            "--data",
            str(ecg_folder),
            "--records",
            "r1,r2",
            "--calibrate-minutes",
            "0.5",
            "--json",
            str(out),
            "--no-progress",
        ]
    )
    assert rc == 0
    res = json.loads(out.read_text())
    assert res["mode"] == "patient-adaptive" and res["start_s"] == 30.0
    assert stand_in_model["adapt"] == [("r1", 0.5), ("r2", 0.5)]
    # Each model adapts with the recipe stored in its metadata.
    assert stand_in_model["settings"] == [{"eval_mode": True}] * 2
    n_after = sum(
        int(np.sum(wfdb.rdann(str(ecg_folder / r), "atr").sample >= 30 * 360)) for r in ("r1", "r2")
    )
    assert res["n_beats"] == n_after < 160
    assert (res["veb"]["tp"], res["veb"]["fp"]) == _expected_veb(ecg_folder, ["r1", "r2"], 30.0)


def test_a_bad_record_is_listed_and_the_run_goes_on(
    ecg_folder: Path, tmp_path: Path, stand_in_model
) -> None:
    (ecg_folder / "broken.hea").write_text("this is not a header\n")
    out = tmp_path / "e.json"
    rc = main(
        [
            "evaluate",
            "arrhythmia",
            "--data",
            str(ecg_folder),
            "--records",
            "r1,missing,broken",
            "--json",
            str(out),
            "--no-progress",
        ]
    )
    assert rc == 1
    res = json.loads(out.read_text())
    assert set(res["errors"]) == {"missing", "broken"}
    assert "missing" in res["errors"]["missing"]
    assert res["n_records"] == 1 and res["n_beats"] == 80


def test_no_record_evaluable_is_an_error(
    ecg_folder: Path, tmp_path: Path, stand_in_model, capsys
) -> None:
    """Every record failing is a failed run (exit 1, as in `score`), not bad usage (2)."""
    rc = main(
        [
            "evaluate",
            "arrhythmia",
            "--data",
            str(ecg_folder),
            "--records",
            "nope",
            "--json",
            str(tmp_path / "x.json"),
            "--no-progress",
        ]
    )
    assert rc == 1
    assert "no record could be evaluated (1 failed)" in capsys.readouterr().err
    assert set(json.loads((tmp_path / "x.json").read_text())["errors"]) == {"nope"}


def test_missing_prediction_file_is_named(ecg_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    rc = main(
        [
            "evaluate",
            "arrhythmia",
            "--data",
            str(ecg_folder),
            "--records",
            "r1",
            "--predictions",
            str(tmp_path),
            "--json",
            str(out),
            "--no-progress",
        ]
    )
    assert rc == 1
    assert "r1.cla" in json.loads(out.read_text())["errors"]["r1"]


# ----------------------------------------------------------------------------- seizure


def test_evaluate_says_which_patients_the_model_saw_in_training(
    ecg_folder: Path, tmp_path: Path, stand_in_model, monkeypatch, capsys
) -> None:
    from cardioliquid.evaluation import cli

    stand_in = cli._load_model("anything")
    # A run's lists name another database's records by folder ("ecg/r2" is r2 here).
    stand_in.metadata = {"train_records": ["r1", "ecg/r2"], "test_records": ["r3"]}
    monkeypatch.setattr("cardioliquid.evaluation.cli._load_model", lambda name: stand_in)
    out, md = tmp_path / "eval.json", tmp_path / "eval.md"
    rc = main(["evaluate", "arrhythmia", "--data", str(ecg_folder), "--records", "r1,r2,r3",
               "--json", str(out), "--report", str(md), "--no-progress"])
    assert rc == 0
    prov = json.loads(out.read_text())["provenance"]
    assert (prov["in_sample"], prov["held_out"], prov["unknown"]) == (["r1", "r2"], ["r3"], [])
    assert prov["labels"]["r1"].startswith("in-sample patient")
    line = ("patients: 1 held out, 2 in-sample (r1, r2: seen in training, expect optimistic "
            "figures) of 3 records")
    assert line in capsys.readouterr().out
    assert f"- **patients**: {line.removeprefix('patients: ')}" in md.read_text()


def test_seizure_cli_with_stand_in_model(tmp_path: Path, monkeypatch) -> None:
    data = tmp_path / "eeg"
    data.mkdir()
    for name in ("a.edf", "b.edf"):
        (data / name).write_bytes(b"")
    prep = WindowPreprocessing(window_s=2.0, hop_s=1.0)
    monkeypatch.setattr(
        "cardioliquid.evaluation.cli._load_model",
        lambda name: SimpleNamespace(name="sz-stand-in", label="sz-stand-in", preprocessing=prep,
                                     decision=DecisionSettings()),
    )

    def fake_load(path):
        seizures = [(100.0, 160.0)] if Path(path).stem == "a" else []
        return Recording(
            np.zeros((1, 600 * 8), np.float32),
            8.0,
            ["C3"],
            "uV",
            Path(path).stem,
            "p",
            "eeg",
            str(path),
            seizures=seizures,
            meta={"seizure_source": "events.tsv", "seizure_file": f"{path}_events.tsv"},
        )

    def fake_predict(rec, loaded, **kw):
        start = np.arange(0, rec.duration_s - 1, 1.0)
        p = np.zeros(len(start))
        if rec.seizures:
            p[(start >= 110) & (start < 150)] = 0.9  # detected 10 s after onset
        else:
            p[(start >= 300) & (start < 310)] = 0.9  # one false alarm
        return WindowPredictions(
            start, start + 2, np.stack([1 - p, p], 1), ["bckg", "sz"], rec.record_id, rec.duration_s
        )

    monkeypatch.setattr("cardioliquid.evaluation.run.load_recording", fake_load)
    monkeypatch.setattr("cardioliquid.evaluation.run.predict_windows", fake_predict)
    out, md = tmp_path / "sz.json", tmp_path / "sz.md"
    rc = main(
        [
            "evaluate",
            "seizure",
            "--data",
            str(data),
            "--smooth-windows",
            "1",
            "--json",
            str(out),
            "--report",
            str(md),
            "--no-progress",
        ]
    )
    assert rc == 0
    res = json.loads(out.read_text())
    assert res["event"]["tp"] == 1 and res["event"]["fp"] == 1 and res["event"]["n_ref"] == 1
    assert res["event"]["fa_per_24h"] == pytest.approx(1 / (1200 / 86400))
    assert res["latency_s"]["per_seizure"] == [10.0]
    # a monitor knows the event when its first window ends (112 s): the app's alert latency
    assert res["alert_latency_s"]["per_seizure"] == [12.0]
    rec_a = fake_load(data / "a.edf")
    pred_a = fake_predict(rec_a, None)
    (alert,) = [a for a in seizure_alerts(pred_a.start_s, pred_a.end_s, pred_a.proba,
                                          rec_a.seizures, (30.0, 60.0),
                                          DecisionSettings(smooth_windows=1))]
    assert alert.latency_s == 12.0
    assert "Alert latency from onset" in md.read_text() and "| 10.0 | 12.0 |" in md.read_text()
    assert res["records"]["a"]["hyp_events"] == [[110.0, 151.0]]
    assert res["window"]["tp"] > 0 and res["window"]["fp"] == 10
    assert "Only 0.33 h of EEG" in md.read_text()
    assert (tmp_path / "sz_timeline.png").read_bytes()[:4] == b"\x89PNG"


def test_empty_prediction_file_means_every_beat_missed(ecg_folder: Path, tmp_path: Path) -> None:
    (tmp_path / "r1.cla").write_bytes(b"\x00\x00")  # what `cardioliquid score` writes for no beats
    out = tmp_path / "p.json"
    rc = main(
        [
            "evaluate",
            "arrhythmia",
            "--data",
            str(ecg_folder),
            "--records",
            "r1",
            "--predictions",
            str(tmp_path),
            "--json",
            str(out),
            "--no-progress",
        ]
    )
    assert rc == 0
    res = json.loads(out.read_text())
    assert res["qrs"]["se"] == 0.0 and res["qrs"]["fn"] == 80 and res["n_beats"] == 80


def test_records_spec() -> None:
    assert records.resolve_records("100, 101,") == ["100", "101"]
    with pytest.raises(CardioLiquidError, match="DS1, DS2, all or a comma list"):
        records.resolve_records(" , ")
    assert records.resolve_records("ds2") == list(splits.DS2)
    assert len(records.resolve_records("DS1")) == len(records.resolve_records("DS2")) == 22
    with pytest.raises(CardioLiquidError, match="needs the database folder"):
        records.resolve_records("all")


def test_all_records_of_a_folder(ecg_folder: Path, tmp_path: Path) -> None:
    # Without a RECORDS file: the headers in the folder.
    assert records.resolve_records("all", ecg_folder) == ["r1", "r2", "r3"]
    # Not MIT-BIH, so the default is every record rather than DS2.
    assert records.resolve_records("auto", ecg_folder) == ["r1", "r2", "r3"]
    # A RECORDS file decides (PhysioNet lists sub-folder records as paths).
    (ecg_folder / "RECORDS").write_text("r3\nsub/r9\n\n")
    assert records.resolve_records("all", ecg_folder) == ["r3", "sub/r9"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RecordingError, match="no WFDB record found"):
        records.resolve_records("all", empty)


def test_auto_means_ds2_in_an_mitbih_folder(tmp_path: Path) -> None:
    for r in [*splits.DS1, *splits.DS2]:
        (tmp_path / f"{r}.hea").write_text("")
    assert records.resolve_records("auto", tmp_path) == list(splits.DS2)
    # The shipped model trained on DS1: a folder missing a DS2 record is not taken for MIT-BIH.
    (tmp_path / f"{splits.DS2[0]}.hea").unlink()
    assert len(records.resolve_records("auto", tmp_path)) == 43


def test_default_records_score_a_whole_foreign_database(
    ecg_folder: Path, tmp_path: Path, stand_in_model
) -> None:
    out = tmp_path / "eval.json"
    rc = main(["evaluate", "arrhythmia", "--data", str(ecg_folder), "--model", "anything",
               "--json", str(out), "--no-progress"])
    assert rc == 0
    res = json.loads(out.read_text())
    assert res["records_requested"] == "all" and set(res["records"]) == {"r1", "r2", "r3"}


def test_model_digest_names_the_weights(tmp_path: Path) -> None:
    f = tmp_path / "m.safetensors"
    f.write_bytes(b"weights")
    import hashlib

    assert run.model_digest(SimpleNamespace(path=str(f))) == hashlib.sha256(b"weights").hexdigest()
    assert run.model_digest(SimpleNamespace(path="")) is None
    assert run.model_digest(None) is None


def test_lead_option_makes_the_shipped_model_read_another_lead(tmp_path: Path, rng) -> None:
    folder = tmp_path / "two_leads"
    folder.mkdir()
    fs = 360
    beats = np.arange(1, 71) * int(0.8 * fs)
    sig = 0.02 * rng.standard_normal((60 * fs, 2))
    sig[beats, 0] += 1.0
    sig[beats, 1] -= 0.6  # the second lead sees the QRS upside down
    wfdb.wrsamp("t1", fs=fs, units=["mV", "mV"], sig_name=["MLII", "V1"], p_signal=sig,
                fmt=["16", "16"], write_dir=str(folder))
    wfdb.wrann("t1", "atr", beats, symbol=["N"] * len(beats), write_dir=str(folder))
    results = {}
    for lead in (None, "V1", "aVR"):
        out = tmp_path / f"{lead}.json"
        rc = main(["evaluate", "arrhythmia", "--data", str(folder), "--records", "t1",
                   "--json", str(out), "--no-progress", *(["--lead", lead] if lead else [])])
        results[lead] = (rc, json.loads(out.read_text()))
    assert results[None][0] == 0 and results["V1"][0] == 0
    assert results[None][1]["lead_preference"][0] == "MLII"
    assert results["V1"][1]["lead_preference"] == ["V1"]
    assert results["V1"][1]["n_beats"] == results[None][1]["n_beats"] == 70
    rc, res = results["aVR"]  # no such lead: the record fails by name, saying what it has
    assert rc != 0 and "aVR" in res["errors"]["t1"] and "V1" in res["errors"]["t1"]


def test_evaluate_prints_its_summary_and_json_is_optional(
    ecg_folder: Path, tmp_path: Path, stand_in_model, capsys
) -> None:
    """Without --json the result is printed, not lost; with it, the file is named."""
    base = ["evaluate", "arrhythmia", "--data", str(ecg_folder), "--records", "r1,r2",
            "--model", "anything", "--no-progress"]
    assert main(base) == 0
    out = capsys.readouterr().out
    tp, fp = _expected_veb(ecg_folder, ["r1", "r2"])
    assert "records 2, beats 160" in out
    assert f"VEB   Se 100.0  +P {100 * tp / (tp + fp):.1f}  (TP {tp}, FN 0, FP {fp})" in out
    assert "wrote" not in out and not list(tmp_path.glob("*.json"))
    target = tmp_path / "r.json"
    assert main([*base, "--json", str(target)]) == 0
    assert f"wrote {target}" in capsys.readouterr().out
    assert json.loads(target.read_text())["n_beats"] == 160


def _write_short_record(folder: Path, seconds: float, rng: np.random.Generator) -> None:
    """``short``: a one-lead record of ``seconds``, a beat every 0.74 s, all N."""
    fs = 360
    beats = np.arange(1, int(seconds / 0.74)) * int(0.74 * fs)
    sig = 0.02 * rng.standard_normal(int(seconds * fs))
    sig[beats] += 1.0
    wfdb.wrsamp("short", fs=fs, units=["mV"], sig_name=["MLII"], p_signal=sig[:, None],
                fmt=["16"], write_dir=str(folder))
    wfdb.wrann("short", "atr", beats, symbol=["N"] * len(beats), write_dir=str(folder))


def test_calibration_longer_than_a_record_fails_that_record(
    ecg_folder: Path, tmp_path: Path, stand_in_model, rng, capsys
) -> None:
    """No beat after minute M: that record fails by name and reason, the others are scored."""
    _write_short_record(ecg_folder, 20.0, rng)
    out = tmp_path / "a.json"
    base = ["evaluate", "arrhythmia", "--data", str(ecg_folder), "--calibrate-minutes", "0.5",
            "--no-progress"]
    assert main([*base, "--records", "r1,short", "--json", str(out)]) == 1
    res = json.loads(out.read_text())
    assert set(res["records"]) == {"r1"} and res["n_beats"] > 0
    assert res["errors"]["short"].endswith("no beats after minute 0.5: the record lasts 0.3 min")
    assert stand_in_model["adapt"] == [("r1", 0.5)]  # never adapted on a record with nothing left
    assert "short: " in capsys.readouterr().err
    # No record left: a failed run (exit 1) that says so, not "beats 0, accuracy - %".
    assert main([*base, "--records", "short", "--json", str(out)]) == 1
    captured = capsys.readouterr()
    assert "no beats after minute 0.5" in captured.err
    assert "no record could be evaluated (1 failed)" in captured.err
    assert "accuracy" not in captured.out
    assert json.loads(out.read_text())["n_records"] == 0


@pytest.mark.parametrize("extra, flag", [
    (["--calibrate-minutes", "5"], "--calibrate-minutes"),
    (["--beats", "detect"], "--beats"),
    (["--beats", "reference"], "--beats"),
    (["--lead", "V1"], "--lead"),
    (["--model", "arrhythmia-1lead"], "--model"),
])
def test_predictions_refuse_options_that_need_a_model(
    ecg_folder: Path, tmp_path: Path, extra: list[str], flag: str, capsys, monkeypatch
) -> None:
    """Fixed calls cannot be adapted, re-detected or re-read: a usage error before any work."""
    from cardioliquid.cli import main as console_main

    def no_work(*a, **kw):
        raise AssertionError("a record was read")

    monkeypatch.setattr("cardioliquid.evaluation.run.load_ecg", no_work)
    out = tmp_path / "p.json"
    rc = console_main(["evaluate", "arrhythmia", "--data", str(ecg_folder), "--records", "r1",
                       "--predictions", str(tmp_path), *extra, "--json", str(out),
                       "--no-progress"])
    assert rc == 2
    err = capsys.readouterr().err
    assert f"cardioliquid evaluate: error: --predictions with {flag}" in err
    assert "predictions are fixed calls from `cardioliquid score`" in err
    if flag == "--calibrate-minutes":
        assert "adapts a model" in err and "give --model instead of --predictions" in err
    assert not out.exists()


def test_unwritable_outputs_are_refused_before_any_work(
    ecg_folder: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    """--json/--report that could not be written stop the run at once, naming the path."""
    from cardioliquid.cli import main as console_main

    def no_work(name):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr("cardioliquid.evaluation.cli._load_model", no_work)
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    targets = [(tmp_path, "got an existing folder"), (a_file / "x.json", "is not a folder")]
    if Path("/proc/self").is_dir():  # Linux: nothing can create a file in /proc, not even root
        targets.append((Path("/proc/x.json"), "cannot write a file in /proc"))
    for flag in ("--json", "--report"):
        for target, why in targets:
            rc = console_main(["evaluate", "arrhythmia", "--data", str(ecg_folder), "--records",
                               "r1", flag, str(target), "--no-progress"])
            assert rc == 2
            err = capsys.readouterr().err
            assert f"error: {flag} {target}: " in err and why in err and "Traceback" not in err
    # The seizure command checks them too; nothing was written or left behind.
    assert console_main(["evaluate", "seizure", "--data", str(tmp_path), "--report",
                         str(tmp_path)]) == 2
    assert "error: --report" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "ecg"]


def test_output_folders_that_do_not_exist_yet_are_made(
    ecg_folder: Path, tmp_path: Path, stand_in_model
) -> None:
    out = tmp_path / "new" / "deeper" / "e.json"
    assert cli.check_output_path("--json", out) is None and not out.parent.exists()
    assert main(["evaluate", "arrhythmia", "--data", str(ecg_folder), "--records", "r1",
                 "--json", str(out), "--no-progress"]) == 0
    assert json.loads(out.read_text())["n_beats"] == 80


def test_seizure_help_describes_the_command(capsys) -> None:
    from cardioliquid.cli import main as console_main

    for task, line in (("arrhythmia", "EC57 beat-by-beat evaluation on WFDB records"),
                       ("seizure", "SzCORE event and sample scores on EEG recordings")):
        with pytest.raises(SystemExit) as stop:
            console_main(["evaluate", task, "--help"])
        assert stop.value.code == 0
        text = capsys.readouterr().out
        assert text.split("\n\n")[1].strip() == line  # the line after the usage


def test_predictions_provenance_of_a_folder(tmp_path: Path) -> None:
    """A model without the AF gate writes no af_beats; without summary.json the model is unknown."""
    from cardioliquid.scoring.writers import write_manifest

    for r in ("a", "b"):
        (tmp_path / f"{r}.cla").write_bytes(b"\x00\x00")
        write_manifest(tmp_path, r, [tmp_path / f"{r}.cla"],
                       {"run_key": "k1", "beat_source": "detect" if r == "b" else "reference"})
    made = records.predictions_provenance(tmp_path, ["a", "b"])
    assert made["af_gate"] is False and made["beats"] is None  # two beat sources
    assert made["model_sha256"] is None and "no readable summary.json" in made["note"]
    (tmp_path / "summary.json").write_text(json.dumps(
        {"model": {"name": "m", "sha256": "cd" * 32}, "options": {"run_key": "k1"}}))
    made = records.predictions_provenance(tmp_path, ["a", "b"])
    assert (made["model"], made["model_sha256"], made["note"]) == ("m", "cd" * 32, None)
    made = records.predictions_provenance(tmp_path, ["a", "c"])  # c: no manifest
    assert made["model_sha256"] is None and made["af_gate"] is None
    assert "1 of 2 records (c)" in made["note"]
