"""cardioliquid.models.checkpoint: what a report calls a loaded model."""

from cardioliquid.models.checkpoint import load_model, save_model


def test_a_users_copy_of_a_shipped_model_is_named_by_its_path(tmp_path):
    shipped = load_model("arrhythmia")
    assert shipped.label == "arrhythmia"
    copy = tmp_path / "arrhythmia.safetensors"  # the docs' own export example
    save_model(copy, shipped.model, shipped.model_name, shipped.model_kwargs,
               shipped.preprocessing, metadata=shipped.metadata)
    mine = load_model(copy)
    assert mine.name == "arrhythmia" and mine.label == str(copy)
