"""cardioliquid-train as a user drives it: every subcommand runs, and every mistake is one line.

Bad usage (a checkpoint of another model, an accelerator this machine lacks, an
``--export_to`` that cannot be written, a typo in ``model_kwargs``...) ends with
``cardioliquid-train: error: ...`` and exit 2 before any epoch runs, never a
traceback; a run that trained but could not export keeps its weights and says where.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from cardioliquid.models.checkpoint import load_model
from cardioliquid.training import cli as train_cli
from cardioliquid.training.cli import main, records_metadata
from cardioliquid.training.export import main as export_main


def _one_line_error(capsys, *words: str) -> str:
    """The run's stderr: no traceback, the error line names every word."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    line = next(ln for ln in err.splitlines() if ln.startswith("cardioliquid-train: error:"))
    for word in words:
        assert word in line, line
    return line


def _checkpoints(folder) -> list:
    return sorted(folder.rglob("*.ckpt"))


# -- the subcommands ------------------------------------------------------------------------------
def test_predict_writes_the_test_splits_probabilities_into_the_run_folder(synthetic_run, capsys):
    """``predict`` crashed (a loader built with a positional batch size) and then kept nothing."""
    run = synthetic_run
    assert main(["predict", "--config", str(run.config), "--ckpt_path",
                 str(run.checkpoint)]) == 0
    (path,) = (run.folder / "runs").rglob(train_cli.PREDICTIONS_FILE)
    assert f"wrote {path}" in capsys.readouterr().out
    saved = np.load(path)
    assert saved["proba"].shape == (32, 3) and saved["label"].shape == (32,)
    np.testing.assert_allclose(saved["proba"].sum(-1), 1.0, atol=1e-5)
    assert list(saved["classes"]) == ["N", "S", "V"]


def test_test_and_resume_from_a_runs_checkpoint(synthetic_run, tmp_path):
    run = synthetic_run
    assert main(["test", "--config", str(run.config), "--ckpt_path", str(run.checkpoint)]) == 0
    out = tmp_path / "resumed.safetensors"
    assert main(["fit", "--config", str(run.config), "--ckpt_path", str(run.checkpoint),
                 "--trainer.max_epochs", "2", "--export_to", str(out)]) == 0
    assert load_model(out).model_name == run.model_name


def test_validate_with_validation_turned_off_is_refused(synthetic_run, capsys):
    """It used to run nothing and exit 0 (the arrhythmia recipe sets limit_val_batches: 0)."""
    run = synthetic_run
    assert main(["validate", "--config", str(run.config), "--ckpt_path", str(run.checkpoint),
                 "--trainer.limit_val_batches", "0"]) == 2
    _one_line_error(capsys, "nothing to run", "limit_val_batches")


@pytest.mark.parametrize("keyword", ["best", "last"])
def test_best_or_last_without_a_fit_is_refused(synthetic_run, capsys, keyword):
    """``test --ckpt_path last`` used to test the untrained model, with a warning only."""
    run = synthetic_run
    assert main(["test", "--config", str(run.config), "--ckpt_path", keyword]) == 2
    _one_line_error(capsys, keyword, "give the checkpoint file")


# -- the machine ----------------------------------------------------------------------------------
@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
@pytest.mark.parametrize("accelerator", ["gpu", "cuda"])
def test_an_accelerator_this_machine_lacks_is_one_line(make_config, model_name, tmp_path,
                                                       capsys, accelerator):
    cfg = make_config(tmp_path, model_name, epochs=1)
    assert main(["fit", "--config", str(cfg), "--trainer.accelerator", accelerator]) == 2
    _one_line_error(capsys, f"trainer.accelerator {accelerator!r}", "--trainer.accelerator cpu")


# -- the config -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("args", "words"), [
    (["--model.model_kwargs", '{"unitz": 12}'], ["model_kwargs", "'unitz'"]),
    (["--model.model_name", "liquid-cfx"], ["'model_name'", "liquid-cfx"]),
    (["--model.lr", "-1"], ["'lr'"]),
    (["--data", "cardioliquid.training.datamodules.SeizureDataModule",
      "--data.init_args.test_patients", "[chb01]"], ["both training/validation and test"]),
], ids=["model_kwargs-typo", "model-name", "negative-lr", "patient-overlap"])
def test_a_config_mistake_is_one_line_before_training(make_config, model_name, tmp_path,
                                                      capsys, args, words):
    cfg = make_config(tmp_path, model_name, epochs=1)
    assert main(["fit", "--config", str(cfg), *args]) == 2
    _one_line_error(capsys, *words)
    assert not _checkpoints(tmp_path)


def test_a_mistyped_option_is_one_line_with_the_closest_name(make_config, model_name, tmp_path,
                                                             capsys):
    """jsonargparse printed ~80 lines of usage before the error, and no suggestion."""
    cfg = make_config(tmp_path, model_name, epochs=1)
    text = yaml.safe_load(cfg.read_text())
    text["trainer"]["max_epoch"] = text["trainer"].pop("max_epochs")
    cfg.write_text(yaml.safe_dump(text))
    assert main(["fit", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "usage:" not in err and len(err.strip().splitlines()) == 1, err
    assert "'trainer.max_epoch'; did you mean --trainer.max_epochs?" in err
    assert "(the options: cardioliquid-train fit --help)" in err
    cfg = make_config(tmp_path, model_name, epochs=1)
    assert main(["fit", "--config", str(cfg), "--data.init_args.n_trian", "8"]) == 2
    err = capsys.readouterr().err
    assert "usage:" not in err and len(err.strip().splitlines()) == 1, err
    assert ("data option 'n_trian' (--data.init_args.n_trian or under data: init_args: in a "
            "config): SyntheticDataModule has no such option; did you mean n_train? (its "
            "options: cardioliquid-train fit --data.help "
            "cardioliquid.training.datamodules.SyntheticDataModule)") in err
    assert not _checkpoints(tmp_path)


def test_a_config_that_is_not_yaml_is_named(tmp_path, capsys):
    """The parser said only 'in "<unicode string>", line 2'."""
    bad = tmp_path / "typo.yaml"
    bad.write_text("trainer:\n  max_epochs: [1\n")
    assert main(["fit", f"--config={bad}"]) == 2
    _one_line_error(capsys, f"--config {bad}: not valid YAML at line 3")


def test_a_run_without_data_names_the_recipes(capsys):
    assert main(["fit"]) == 2
    _one_line_error(capsys, "no data source", "pipelines/configs/arrhythmia.yaml")


def test_early_stopping_on_validation_with_validation_off_is_refused(make_config, model_name,
                                                                    tmp_path, capsys):
    """It used to train an epoch, then stop with a RuntimeError traceback."""
    cfg = make_config(tmp_path, model_name, epochs=1)
    text = yaml.safe_load(cfg.read_text())
    text["trainer"]["callbacks"].append({
        "class_path": "lightning.pytorch.callbacks.EarlyStopping",
        "init_args": {"monitor": "val/loss", "mode": "min"}})
    cfg.write_text(yaml.safe_dump(text))
    assert main(["fit", "--config", str(cfg), "--trainer.limit_val_batches", "0"]) == 2
    _one_line_error(capsys, "EarlyStopping", "val/loss", "limit_val_batches")
    assert not _checkpoints(tmp_path)


# -- --export_to ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("target", "words"), [
    ("model.pt", ["ending in .safetensors", "'.pt'"]),
    ("model", ["ending in .safetensors", "no suffix"]),
    ("", ["is a folder"]),
    ("a-file/model.safetensors", ["cannot be written", "nothing was trained"]),
], ids=["other-suffix", "no-suffix", "folder", "unwritable-folder"])
def test_export_to_is_checked_before_training(make_config, model_name, tmp_path, capsys,
                                              target, words):
    """A bad target used to fail after the whole run (or write a file nothing could load)."""
    cfg = make_config(tmp_path, model_name, epochs=1)
    (tmp_path / "a-file").write_text("not a folder")
    assert main(["fit", "--config", str(cfg), "--export_to", str(tmp_path / target)]) == 2
    _one_line_error(capsys, "--export_to", *words)
    assert not _checkpoints(tmp_path)


def test_invalid_export_decision_is_refused_before_training(make_config, model_name, tmp_path,
                                                            capsys):
    cfg = make_config(tmp_path, model_name, epochs=1)
    assert main(["fit", "--config", str(cfg), "--export_to", str(tmp_path / "m.safetensors"),
                 "--export_decision", '{"thresh": 0.6}']) == 2
    _one_line_error(capsys, "unknown decision settings", "thresh")
    assert not _checkpoints(tmp_path)


def test_export_to_outside_fit_is_refused(synthetic_run, tmp_path, capsys):
    """``test --export_to`` used to export nothing, silently."""
    run = synthetic_run
    assert main(["test", "--config", str(run.config), "--ckpt_path", str(run.checkpoint),
                 "--export_to", str(tmp_path / "m.safetensors")]) == 2
    _one_line_error(capsys, "--export_to", "python -m cardioliquid.training.export")


@pytest.mark.parametrize("checkpointing", [True, False], ids=["best-checkpoint", "none"])
def test_a_failed_export_keeps_the_trained_weights(make_config, model_name, tmp_path, capsys,
                                                   monkeypatch, checkpointing):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(train_cli, "export_checkpoint", full_disk)
    cfg = make_config(tmp_path, model_name, epochs=1)
    args = [] if checkpointing else ["--trainer.callbacks", "[]",
                                     "--trainer.enable_checkpointing", "false"]
    assert main(["fit", "--config", str(cfg), *args,
                 "--export_to", str(tmp_path / "m.safetensors")]) == 2
    line = _one_line_error(capsys, "No space left on device", "python -m "
                           "cardioliquid.training.export")
    (kept,) = _checkpoints(tmp_path)
    assert str(kept) in line
    assert load_model(kept).model_name == model_name


# -- --ckpt_path ----------------------------------------------------------------------------------
def test_checkpoint_mistakes_are_one_line(synthetic_run, tmp_path, capsys):
    run = synthetic_run
    (tmp_path / "notes.ckpt").write_text("not a checkpoint")
    exported = tmp_path / "m.safetensors"
    cases = {
        str(tmp_path / "missing.ckpt"): "no such checkpoint file",
        str(exported): "an exported model, not a training checkpoint",
        str(tmp_path / "notes.ckpt"): "not a Lightning checkpoint",
    }
    for path, words in cases.items():
        assert main(["validate", "--config", str(run.config), "--ckpt_path", path]) == 2
        _one_line_error(capsys, path, words)


def test_resuming_another_models_checkpoint_is_refused(synthetic_run, capsys):
    """Lightning would otherwise build the checkpoint's model and ignore the config's."""
    run = synthetic_run
    assert main(["fit", "--config", str(run.config), "--ckpt_path", str(run.checkpoint),
                 "--model.model_name", "gru"]) == 2
    _one_line_error(capsys, repr(run.model_name), "'gru'", "config.yaml")


def test_a_checkpoint_that_does_not_fit_the_data_says_so(synthetic_run, capsys):
    """It used to blame model_kwargs the user never wrote, in a traceback."""
    run = synthetic_run
    assert main(["test", "--config", str(run.config), "--ckpt_path", str(run.checkpoint),
                 "--data.init_args.n_classes", "2"]) == 2
    _one_line_error(capsys, str(run.checkpoint), "n_outputs=3", "does not fit this config's data")


# -- python -m cardioliquid.training.export -------------------------------------------------------
def test_the_export_command_answers_bad_usage_in_one_line(synthetic_run, tmp_path, capsys):
    ckpt = str(synthetic_run.checkpoint)
    with pytest.raises(SystemExit) as exc:
        export_main([ckpt, str(tmp_path / "m.pt")])
    assert exc.value.code == 2 and "ending in .safetensors" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        export_main([ckpt, str(tmp_path / "m.safetensors"), "--metadata", "{bad"])
    assert exc.value.code == 2 and "expected a JSON object" in capsys.readouterr().err
    for args, words in [
        ([str(tmp_path / "missing.ckpt"), str(tmp_path / "m.safetensors")], "no such"),
        ([ckpt, str(tmp_path / "m.safetensors"), "--decision", '{"thresh": 1}'], "thresh"),
    ]:
        assert export_main(args) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and words in err
    assert not (tmp_path / "m.safetensors").exists()
    assert export_main([ckpt, str(tmp_path / "m.safetensors")]) == 0
    assert load_model(tmp_path / "m.safetensors").model_name == synthetic_run.model_name


# -- provenance -----------------------------------------------------------------------------------
def test_trained_on_counts_the_records_of_each_extra_database():
    """The line showed the first dozen names only: 61 records read as 61 MIT-BIH records."""

    class Data:
        def records_used(self) -> dict[str, list[str]]:
            return {"train": [str(r) for r in range(100, 122)]
                    + [f"svdb/{r}" for r in range(800, 839)] + ["incartdb/I01"],
                    "val": [], "test": ["200"]}

    line = records_metadata(Data())["trained_on"]
    assert line.startswith("train records 62 (100, 101,")
    assert "; 39 from svdb; 1 from incartdb)" in line
    assert line.endswith("validation none; test 1 (200)")


def test_an_exported_model_names_the_cpu_that_trained_it(synthetic_run, tmp_path):
    """Bit-for-bit reproduction holds on the same kind of CPU: the file says which."""
    ckpt = str(synthetic_run.checkpoint)
    assert export_main([ckpt, str(tmp_path / "m.safetensors")]) == 0
    meta = load_model(tmp_path / "m.safetensors").metadata
    assert meta["cpu"] and meta["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert int(meta["threads"]) == torch.get_num_threads()
