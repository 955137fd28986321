"""What a model may read, and whether reference beats are trusted, before scoring."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from scoring_helpers import synthetic_ecg, synthetic_eeg, write_edf, write_wfdb

from cardioliquid.errors import ContractError, RecordingError
from cardioliquid.io import load_recording
from cardioliquid.io.recording import BeatAnnotations
from cardioliquid.scoring.batch import ScoreOptions, predict_record, score_paths
from cardioliquid.scoring.checks import check_channel_kind, check_reference_beats


def _ecg_only_edf(tmp_path):
    ecg = synthetic_ecg(30.0, fs=256.0)
    rec = replace(ecg, signal=ecg.signal * 1000, units="uV", channel_names=["ECG"],
                  record_id="ecg_only", modality="eeg", beats=None)  # fmt: skip
    return write_edf(rec, tmp_path / "edf")


def test_an_eeg_model_never_scores_an_ecg_only_edf(tmp_path):
    from cardioliquid.models.checkpoint import load_model

    rec = load_recording(_ecg_only_edf(tmp_path))
    loaded = load_model("seizure-1ch")
    with pytest.raises(ContractError, match=r"ecg_only\.edf: model 'seizure-1ch' reads EEG "
                                            r"channels, got ECG channel\(s\) \['ECG'\]"):
        predict_record(rec, loaded, ScoreOptions("seizure", "seizure-1ch", str(tmp_path)))


def test_the_score_command_lists_it_as_a_failure(tmp_path):
    edf = _ecg_only_edf(tmp_path)
    summary = score_paths(
        [edf], ScoreOptions("seizure", "seizure-1ch", str(tmp_path / "out")), progress=False
    )
    assert summary["records"]["failed"] == 1
    assert "reads EEG channels, got ECG channel" in summary["failures"][0]["reason"]


def test_an_ecg_model_never_reads_an_eeg_derivation(ecg_model):
    rec = synthetic_ecg(20.0)
    rec = replace(rec, channel_names=["C3-M2"])
    with pytest.raises(ContractError, match=r"reads ECG channels, got EEG channel\(s\) "
                                            r"\['C3-M2'\]"):
        check_channel_kind(rec, ecg_model)
    check_channel_kind(synthetic_ecg(20.0), ecg_model)  # MLII: fine
    check_channel_kind(synthetic_eeg(10.0), _eeg_model())


def _eeg_model():
    from scoring_helpers import make_eeg_model

    return make_eeg_model()


def test_far_fewer_reference_beats_than_detected_qrs_is_refused(tmp_path, ecg_model):
    rec = synthetic_ecg(40.0)
    keep = np.arange(len(rec.beats.sample)) % 4 == 0  # three beats in four lost
    b = rec.beats
    rec = replace(rec, beats=BeatAnnotations(b.sample[keep], b.symbol[keep], b.aami[keep]))
    with pytest.raises(RecordingError, match=r"reference annotations: expected about as many "
                                             r"beats as the QRS complexes counted"):
        check_reference_beats(rec, ecg_model)
    check_reference_beats(synthetic_ecg(40.0), ecg_model)  # the whole set passes


def test_a_shortened_atr_fails_the_record_in_score(tmp_path, ecg_ckpt):
    import wfdb

    hea = write_wfdb(synthetic_ecg(40.0), tmp_path / "db")
    ann = wfdb.rdann(str(hea.with_suffix("")), "atr")
    wfdb.wrann("syn0", "atr", ann.sample[::4], list(np.asarray(ann.symbol)[::4]),
               write_dir=str(hea.parent))  # fmt: skip
    summary = score_paths(
        [hea], ScoreOptions("arrhythmia", str(ecg_ckpt), str(tmp_path / "out")), progress=False
    )
    assert summary["records"]["failed"] == 1
    assert "syn0.atr: reference annotations" in summary["failures"][0]["reason"]
    detect = score_paths(
        [hea], ScoreOptions("arrhythmia", str(ecg_ckpt), str(tmp_path / "d"), beats="detect"),
        progress=False,
    )  # fmt: skip
    assert detect["records"]["done"] == 1  # the detector does not use the file


@pytest.mark.parametrize("state", ["empty", "missing"])
def test_auto_without_a_reference_is_said_in_manifest_and_summary(tmp_path, ecg_ckpt, state):
    hea = write_wfdb(synthetic_ecg(30.0), tmp_path / "db")
    atr = hea.with_suffix(".atr")
    atr.write_bytes(b"") if state == "empty" else atr.unlink()
    out = tmp_path / "out"
    summary = score_paths([hea], ScoreOptions("arrhythmia", str(ecg_ckpt), str(out)),
                          progress=False)  # fmt: skip
    manifest = json.loads((out / "syn0.done.json").read_text())
    assert manifest["beat_source"] == "detect"
    assert manifest["reference_annotations"]["state"] == state
    assert f"syn0.atr is {state}" in manifest["beat_source_note"]
    assert summary["beat_source_records"] == {"detect": 1}
    assert f"syn0.atr is {state}" in summary["beat_source_notes"]["syn0"]
    ref = score_paths(
        [hea], ScoreOptions("arrhythmia", str(ecg_ckpt), str(tmp_path / "r"), beats="reference"),
        progress=False,
    )  # fmt: skip
    assert ref["records"]["failed"] == 1
    assert "expected reference beat annotations" in ref["failures"][0]["reason"]


def test_evaluate_refuses_a_record_without_reference(tmp_path, ecg_model):
    from cardioliquid.evaluation.run import evaluate_arrhythmia_record

    hea = write_wfdb(synthetic_ecg(30.0), tmp_path / "db")
    hea.with_suffix(".atr").write_bytes(b"")
    with pytest.raises(RecordingError, match=r"syn0\.atr: expected reference beat annotations "
                                             r"to evaluate against, got a file that is empty"):
        evaluate_arrhythmia_record(hea.parent, "syn0", ecg_model)


def test_a_long_lead_is_counted_hour_by_hour_without_losing_beats_at_the_seams(monkeypatch):
    """A 24-hour lead was counted at once in float64 (1.2 GB of copies); blocks of an hour
    count the same beats, none twice or lost where blocks meet, NaN samples as 0."""
    from cardioliquid.scoring import checks

    fs = 128.0
    rec = synthetic_ecg(300.0, fs=fs, seed=3)
    x = rec.signal[0].copy()
    x[1000:1100] = np.nan
    whole = checks.count_qrs(x, fs)
    assert 0.75 * len(rec.beats) < whole <= len(rec.beats)  # its Gaussian QRS: a rough count
    monkeypatch.setattr(checks, "QRS_COUNT_BLOCK_S", 37.0)  # seams inside the record
    assert checks.count_qrs(x, fs) == whole
    monkeypatch.setattr(checks, "QRS_COUNT_BLOCK_S", 299.0)  # a last block under 2 s joins
    assert checks.count_qrs(x, fs) == whole
