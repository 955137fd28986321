"""Model files are checked against :data:`cardioliquid.models.limits.LIMITS` before use."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from cardioliquid.errors import CheckpointError
from cardioliquid.models.checkpoint import PRETRAINED_DIR, load_model
from cardioliquid.models.limits import LIMITS


def rewrite_header(src: Path, dst: Path, change) -> Path:
    """Copy a model file with its JSON header changed by ``change(header)`` (in place)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(src), framework="pt") as f:
        header = json.loads(f.metadata()["cardioliquid"])
        state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    change(header)
    save_file(state, str(dst), metadata={"cardioliquid": json.dumps(header)})
    return dst


SHIPPED = PRETRAINED_DIR / "seizure-1ch.safetensors"


def test_shipped_models_are_within_the_limits():
    """Each shipped file loads (the limits are checked on load), reads its task's signal,
    and every size its header sets lies in the stated bounds."""
    expected = {"arrhythmia": ("arrhythmia", "ecg"), "seizure": ("seizure", "eeg"),
                "seizure-1ch": ("seizure", "eeg")}
    for name, (task, modality) in expected.items():
        loaded = load_model(name)
        assert (loaded.task, loaded.modality) == (task, modality), name
        sizes = {k: v for k, v in loaded.model_kwargs.items()
                 if k in LIMITS and not isinstance(v, list)}
        assert {"n_chans", "n_outputs", "n_times", "sfreq", "units"} <= set(sizes), name
        for key, value in sizes.items():
            lo, hi = LIMITS[key]
            assert lo <= value <= hi, (name, key, value)
        for key in ("conv_channels", "kernel_sizes", "strides"):
            lo, hi = LIMITS[key]
            assert all(lo <= v <= hi for v in loaded.model_kwargs[key]), (name, key)
        lo, hi = LIMITS["classes"]
        assert lo <= len(loaded.classes) == loaded.model_kwargs["n_outputs"] <= hi, name
        assert loaded.preprocessing.fs == loaded.model_kwargs["sfreq"], name


def test_a_million_units_is_refused_before_any_tensor_is_built(tmp_path, monkeypatch):
    import cardioliquid.models.checkpoint as ckpt

    built = []
    monkeypatch.setattr(ckpt, "create_model", lambda *a, **k: built.append(a))
    path = rewrite_header(SHIPPED, tmp_path / "huge.safetensors",
                          lambda h: h["model_kwargs"].update(units=10**6))
    with pytest.raises(CheckpointError, match=r"huge\.safetensors: model description: expected "
                                              r"'units' an integer in \[3, 1024\], got 1000000"):
        load_model(path)
    assert not built


def test_no_classes_is_refused(tmp_path):
    path = rewrite_header(SHIPPED, tmp_path / "none.safetensors",
                          lambda h: h["preprocessing"].update(classes=[]))
    with pytest.raises(CheckpointError, match=r"'classes' 2 to 64 distinct names, got \[\]"):
        load_model(path)


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("n_chans", 0, r"'n_chans' an integer in \[1, 256\]"),
        ("n_times", 10**9, r"'n_times' an integer in \[8, 65536\]"),
        ("sfreq", float("nan"), r"'sfreq' a number"),
        ("n_outputs", 1, r"'n_outputs' an integer in \[2, 64\]"),
        ("conv_channels", [1024, 1024], r"conv layer in x out x kernel"),
        ("strides", "4", r"'strides' a list of integers"),
    ],
)
def test_model_sizes_out_of_bounds(tmp_path, key, value, match):
    path = rewrite_header(SHIPPED, tmp_path / "bad.safetensors",
                          lambda h: h["model_kwargs"].update({key: value}))
    with pytest.raises(CheckpointError, match=match):
        load_model(path)


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("fs", 256.0, r"the preprocessing rate equal to the model's \(128.0 Hz\)"),
        ("window_s", 3.0, r"a window of the model's 256 samples"),
        ("bandpass", [40.0, 0.5], r"'bandpass' \(low, high\)"),
        ("classes", ["bckg", "bckg"], r"'classes' 2 to 64 distinct names"),
        ("channels", ["C3", "C4"], r"as many channels as the model reads \(1\)"),
    ],
)
def test_preprocessing_that_does_not_fit_the_model(tmp_path, key, value, match):
    path = rewrite_header(SHIPPED, tmp_path / "bad.safetensors",
                          lambda h: h["preprocessing"].update({key: value}))
    with pytest.raises(CheckpointError, match=match):
        load_model(path)


def test_a_stated_modality_must_fit_the_task(tmp_path):
    path = rewrite_header(SHIPPED, tmp_path / "ecg.safetensors",
                          lambda h: h["metadata"].update(modality="ecg"))
    with pytest.raises(CheckpointError, match=r"'modality' 'eeg' for a seizure model.*'ecg'"):
        load_model(path)


def test_limits_are_stated_in_one_table():
    assert LIMITS["classes"][0] == 2 and LIMITS["units"] == (3, 1024)


def test_pickle_refusal_is_one_clear_sentence(tmp_path):
    class Evil:
        def __reduce__(self):
            import os

            return (os.system, ("echo pwned",))

    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "x": Evil()}, path)
    with pytest.raises(CheckpointError) as info:
        load_model(path)
    text = str(info.value)
    assert "refused: expected only tensors and plain values, got pickled Python objects" in text
    assert "system" in text and "weights_only" not in text and "\n" not in text
    assert pickle.loads(pickle.dumps(info.value)).reason == info.value.reason


@pytest.mark.parametrize("content", [b"# a model card\n", b"", b"\x00\x01garbage"])
def test_a_file_that_is_no_checkpoint_is_called_so(tmp_path, content):
    """A text or truncated file is 'not a model file', not a pickle refusal."""
    path = tmp_path / "card.md"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=r"card\.md: not a model file: expected a "
                                              r"\.safetensors model or a Lightning"):
        load_model(path)
