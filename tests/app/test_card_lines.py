"""The model card's figures as the app words them (cardioliquid.app.card)."""

from __future__ import annotations

import json

from cardioliquid.app.card import card_limits


def _model_with_results(tmp_path, result):
    import hashlib

    model = tmp_path / "m.safetensors"
    model.write_bytes(b"weights")
    result = {**result, "model_sha256": hashlib.sha256(b"weights").hexdigest()}
    (tmp_path / "eval.json").write_text(json.dumps(result))
    return str(model)


def test_a_lead_list_is_not_worded_as_its_first_lead(tmp_path):
    path = _model_with_results(tmp_path, {
        "mode": "inter-patient", "records_requested": "DS2", "n_records": 22,
        "lead_preference": ["V1", "V2", "V4", "V5"], "veb": {"se": 95.1, "ppv": 81.8},
        "sveb": {"se": 15.4, "ppv": 45.6}})  # fmt: skip
    (line,) = card_limits(path, "arrhythmia", results_dir=tmp_path).held_out
    assert "read from the first of V1/V2/V4/V5 each record has" in line


def test_minutes_of_eeg_give_no_daily_false_alarm_rate(tmp_path):
    path = _model_with_results(tmp_path, {
        "mode": "held-out patient chb03", "n_records": 14, "duration_h": 0.0389,
        "event": {"se": 85.7, "precision": 100.0, "fa_per_24h": 0.0, "tp": 6, "fp": 0,
                  "n_ref": 7}})  # fmt: skip
    (line,) = card_limits(path, "seizure", results_dir=tmp_path).held_out
    assert "0 false alarms in 2 min of EEG (too little to estimate" in line
    assert "per 24 h)" in line and "0.0 false alarms per 24 h" not in line
