"""cardioliquid.models.provenance: how honestly a replayed or evaluated record was scored."""

from cardioliquid.models.provenance import evaluation_label


def test_honest_labels():
    assert "held-out" in evaluation_label("r1", "p1", "seizure", {"test_patients": ["p1"]})
    assert "in-sample" in evaluation_label("r1", "p1", "seizure", {"train_records": ["r1"]})
    assert "UNTRAINED" in evaluation_label("100", "100", "arrhythmia", {"untrained": True})
    meta = {"split": "train DS1, test DS2"}
    assert "DS2" in evaluation_label("100", "100", "arrhythmia", meta)
    assert "DS1" in evaluation_label("101", "101", "arrhythmia", meta)
    assert "unknown" in evaluation_label("x", "x", "arrhythmia", {})
    split = {"split": "leave-patients-out: train chb01+chb02, validation = chb01_26, "
                      "test patient chb03"}  # fmt: skip
    assert "in-sample" in evaluation_label("chb01_03", "chb01", "seizure", split)
    assert "held-out" in evaluation_label("chb03_01", "chb03", "seizure", split)
    assert "unknown" in evaluation_label("chb011_01", "chb011", "seizure", split)


# The shipped arrhythmia card's own words (metadata "data" and "split").
TRAINED_ON_DS1_AND_SVDB = {
    "data": "MIT-BIH Arrhythmia Database (mitdb 1.0.0) DS1 (de Chazal 2004, 22 records) + MIT-BIH "
            "Supraventricular Arrhythmia Database (svdb 1.0.0), the 39 records of the mirror",
    "split": "inter-patient: train DS1 + 39 SVDB records; test DS2 (never used for selection)",
}  # fmt: skip


def test_svdb_training_records_are_in_sample_and_the_others_held_out():
    from cardioliquid.data.splits import SVDB_TRAIN

    for rid in ("803", SVDB_TRAIN[-1]):
        label = evaluation_label(rid, rid, "arrhythmia", TRAINED_ON_DS1_AND_SVDB)
        assert label.startswith("in-sample patient") and "optimistic" in label, label
    assert "800" not in SVDB_TRAIN
    assert "held-out" in evaluation_label("800", "800", "arrhythmia", TRAINED_ON_DS1_AND_SVDB)
    # a card that names SVDB without saying which records: in-sample known, the rest unknown
    vague = {"data": "DS1 + svdb"}
    assert "in-sample" in evaluation_label("803", "803", "arrhythmia", vague)
    assert "unknown" in evaluation_label("800", "800", "arrhythmia", vague)


def test_noise_stress_records_are_judged_as_the_mitbih_record_they_add_noise_to():
    for rid in ("118e06", "119e06", "118e_6", "119e24"):
        label = evaluation_label(rid, rid, "arrhythmia", TRAINED_ON_DS1_AND_SVDB)
        assert label.startswith("in-sample patient") and "DS1" in label, label
        assert f"MIT-BIH {rid[:3]}" in label
    assert "unknown" in evaluation_label("999e06", "999e06", "arrhythmia", TRAINED_ON_DS1_AND_SVDB)


def test_record_202_shares_its_patient_with_ds1_record_201():
    label = evaluation_label("202", "201", "arrhythmia", TRAINED_ON_DS1_AND_SVDB)
    assert label.startswith("in-sample patient") and "201" in label
    # A card that lists its records (202 among the test records, as in de Chazal's split)
    # still puts 202 in-sample, by its patient, whatever id the caller gives as the patient.
    listed = {"train_records": ["101", "201", "svdb/803"], "test_records": ["100", "202"]}
    for patient in ("mitdb/202", "202"):
        label = evaluation_label("202", patient, "arrhythmia", listed)
        assert label.startswith("in-sample patient") and "record 201" in label, label
    assert "in-sample" in evaluation_label("202", "201", "arrhythmia", listed)
    assert "held-out" in evaluation_label("100", "mitdb/100", "arrhythmia", listed)
    assert "in-sample" in evaluation_label("803", "svdb/803", "arrhythmia", listed)


def test_the_shipped_arrhythmia_card_gives_svdb_and_nstdb_provenance():
    from cardioliquid.models.checkpoint import load_model

    meta = load_model("arrhythmia").metadata
    assert "in-sample" in evaluation_label("803", "803", "arrhythmia", meta)
    assert "in-sample" in evaluation_label("118e06", "118e06", "arrhythmia", meta)
    assert "held-out" in evaluation_label("232", "232", "arrhythmia", meta)


def test_provenance_summary_groups_records_by_what_the_model_saw():
    from cardioliquid.models.provenance import provenance_line, provenance_summary

    meta = {"data": "MIT-BIH DS1 (de Chazal 2004) + 39 svdb records"}
    labels = {r: evaluation_label(r, r, "arrhythmia", meta)
              for r in ("100", "101", "202", "803", "999")}
    summary = provenance_summary(labels)
    # 202 is in DS2, but its patient's record 201 is in DS1.
    assert summary["in_sample"] == ["101", "202", "803"]
    assert summary["held_out"] == ["100"] and summary["unknown"] == ["999"]
    assert summary["untrained"] == [] and summary["labels"] == dict(sorted(labels.items()))
    assert provenance_line(summary) == (
        "patients: 1 held out, 3 in-sample (101, 202, 803: seen in training, expect optimistic "
        "figures), 1 unknown (the model card does not say) of 5 records")
    many = provenance_summary({str(r): "in-sample patient (x)" for r in range(7)})
    assert "7 in-sample (0, 1, 2, 3, 4, ...:" in provenance_line(many)
    untrained = provenance_summary({"a": evaluation_label("a", "a", "seizure",
                                                          {"untrained": True})})
    assert provenance_line(untrained).startswith("patients: the model is UNTRAINED")


def test_a_card_that_lists_its_training_records_is_held_to_the_list():
    """A run with its records overridden keeps the recipe's prose (DS1 + 39 SVDB records): the
    lists it wrote say what it saw."""
    meta = {**TRAINED_ON_DS1_AND_SVDB, "train_records": ["101", "106"], "val_records": ["118"],
            "test_records": ["100"]}  # fmt: skip
    label = evaluation_label("803", "803", "arrhythmia", meta)
    assert label.startswith("held-out patient") and "3 records" in label, label
    assert "held-out" in evaluation_label("109", "109", "arrhythmia", meta)  # DS1, not listed
    assert "in-sample" in evaluation_label("106", "svdb/106", "arrhythmia", meta)
    assert "in-sample" in evaluation_label("118", "118", "arrhythmia", meta)  # chose the epoch
    noisy = evaluation_label("118e06", "118e06", "arrhythmia", meta)
    assert noisy.startswith("in-sample patient") and "MIT-BIH 118" in noisy, noisy
    # EEG: another file of a training patient is in-sample, another patient's held out
    eeg = {"train_records": ["chb01_03", "chb02_16"], "test_records": []}
    assert "in-sample" in evaluation_label("chb01_04", "chb01", "seizure", eeg)
    assert "held-out" in evaluation_label("chb03_01", "chb03", "seizure", eeg)
