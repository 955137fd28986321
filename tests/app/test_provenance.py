"""cardioliquid.app.provenance: how honestly a replayed record was evaluated."""

from cardioliquid.app.provenance import evaluation_label


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
