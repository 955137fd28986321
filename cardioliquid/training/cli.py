"""``cardioliquid-train``: the Lightning CLI for every CardioLiquid model.

Examples
--------
Train the arrhythmia model from its config and export the best checkpoint::

    cardioliquid-train fit --config pipelines/configs/arrhythmia.yaml \\
        --export_to cardioliquid/models/pretrained/arrhythmia.safetensors

Scale out with Lightning's own strategies::

    cardioliquid-train fit --config pipelines/configs/arrhythmia.yaml \\
        --trainer.strategy ddp --trainer.devices 2 --trainer.num_nodes 4

Score a run's checkpoint on the config's test split, or write its class
probabilities to ``predictions.npz`` in the new run folder::

    cardioliquid-train test --config pipelines/configs/seizure.yaml --ckpt_path RUN.ckpt
    cardioliquid-train predict --config pipelines/configs/seizure.yaml --ckpt_path RUN.ckpt

The signal shape (``n_chans``, ``n_outputs``, ``n_times``, ``n_features``,
``sfreq``) and the preprocessing dict are linked from the DataModule into the
model, the resolved config is saved next to every run (``config.yaml``), and
runs are seeded and deterministic when the config says so. Bad usage (a
checkpoint of another model, an accelerator this machine lacks, an
``--export_to`` that cannot be written...) is one line and exit 2, before any
data is read.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import inspect
import itertools
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import EarlyStopping
from lightning.pytorch.cli import LightningCLI

from cardioliquid.errors import CardioLiquidError, CheckpointError, ContractError
from cardioliquid.training.distill import prepare_teachers
from cardioliquid.training.export import check_decision_overrides, export_checkpoint
from cardioliquid.training.module import LiquidClassifierModule
from cardioliquid.training.records import CHECKPOINT_KEY, records_metadata
from cardioliquid.training.usage import (
    check_ckpt_path,
    check_export_target,
    first_line,
    root_cause,
)

LINKS = ("n_chans", "n_outputs", "n_times", "n_features", "sfreq")

PREDICTIONS_FILE = "predictions.npz"
"""What ``predict`` writes into its run folder (beside ``config.yaml``)."""

GPU_ACCELERATORS = ("gpu", "cuda", "mps", "tpu")


def _save_final_weights(module: LiquidClassifierModule, datamodule: object, folder: Path,
                        epoch: int, step: int) -> str:
    """Write a run's final weights as ``final.ckpt`` in its folder; return its path.

    Only this process writes (no collective call: the other ranks of a DDP run
    may be gone); the file holds what :func:`~cardioliquid.models.checkpoint.load_model`
    and the export read (``state_dict`` and plain ``hyper_parameters``).
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "final.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams),
                "epoch": int(epoch), "global_step": int(step),
                CHECKPOINT_KEY: records_metadata(datamodule)}, path)
    return str(path)


class TrainCLI(LightningCLI):
    """LightningCLI with data→model links, export after ``fit`` and one-line usage errors.

    Everything the command line can get wrong is refused before any data is
    read or any epoch runs, with one line naming the option: a checkpoint that
    is missing, not a training checkpoint, or of another model; an accelerator
    this machine lacks; an ``--export_to`` that cannot be written; early
    stopping on a validation metric with validation off; ``validate`` or
    ``test`` with their batches limited to 0.
    """

    def add_arguments_to_parser(self, parser) -> None:
        """Link the data's shapes into the model and add the ``--export_*`` options."""
        for name in LINKS:
            parser.link_arguments(f"data.{name}", f"model.{name}", apply_on="instantiate")
        parser.link_arguments("data.preprocessing_dict", "model.preprocessing",
                              apply_on="instantiate")
        parser.add_argument(
            "--export_to", type=str | None, default=None,
            help="after fit, write the best checkpoint as a .safetensors model here "
                 "(checked before training)",
        )
        parser.add_argument(
            "--export_metadata", type=dict, default={},
            help="provenance added to the exported model's metadata",
        )
        parser.add_argument(
            "--export_decision", type=dict, default={},
            help="decision settings written into the exported model (e.g. the AF gate's rule)",
        )

    def parse_arguments(self, parser, args) -> None:
        """Parse, turning a usage error into one line (jsonargparse prints ~80 lines of usage
        before it), with the closest option when a name is mistyped."""
        try:
            super().parse_arguments(parser, args)
        except argparse.ArgumentError as e:
            raise CardioLiquidError(_usage_error(parser, _subcommand(args),
                                                 str(e))) from None

    def _cfg(self) -> Any:
        return self.config.get(self.subcommand, self.config)

    # -- before anything is built ----------------------------------------------------------------
    def _parse_ckpt_path(self) -> None:
        """Check ``--ckpt_path`` first, then let Lightning read its hyper-parameters.

        Lightning builds the model from the checkpoint's hyper-parameters, not the
        config's ``model:`` block; resuming ``fit`` from another model's checkpoint
        is refused here, with both names.
        """
        subcommand = self.config.get("subcommand")
        if not subcommand:
            return
        cfg = self.config[subcommand]
        hparams = check_ckpt_path(cfg.get("ckpt_path"), subcommand)
        if hparams and subcommand == "fit":
            wanted = cfg.get("model", {}).get("model_name")
            found = hparams.get("model_name")
            if wanted and found and wanted != found:
                raise CheckpointError(
                    cfg.get("ckpt_path"),
                    f"a checkpoint of model {found!r}, but this config trains {wanted!r}: "
                    f"resume a run with the config it was started with (its config.yaml)")
        self._ckpt_hparams = hparams
        super()._parse_ckpt_path()

    def before_instantiate_classes(self) -> None:
        """Refuse a run without data, and ``--export_to`` outside ``fit``, before any build."""
        if self.subcommand is None:  # built for a script (run=False): nothing is run
            return
        cfg = self._cfg()
        if cfg.get("data") is None:
            raise CardioLiquidError(
                "no data source: give a recipe (--config pipelines/configs/arrhythmia.yaml, "
                "seizure.yaml or seizure-1ch.yaml) or --data with a DataModule's class path "
                "(cardioliquid.training.datamodules.<Name>)")
        if cfg.get("export_to") and self.subcommand != "fit":
            raise CardioLiquidError(
                f"--export_to is written after fit, not by {self.subcommand}; to export a "
                f"checkpoint run python -m cardioliquid.training.export CKPT OUT.safetensors")
        if cfg.get("export_to") and self.subcommand == "fit":
            check_export_target(cfg.get("export_to"))
            check_decision_overrides(dict(cfg.get("export_decision") or {}))

    def instantiate_classes(self) -> None:
        """Build data, model and trainer; a constructor's refusal is one line."""
        try:
            super().instantiate_classes()
        except ValueError as e:
            root = root_cause(e)
            if not isinstance(root, ValueError):
                raise
            ckpt = self._cfg().get("ckpt_path")
            if isinstance(root, ContractError) and getattr(self, "_ckpt_hparams", None):
                hp = self._ckpt_hparams
                shape = {k: hp.get("model_kwargs", {}).get(k) for k in LINKS[:3]}
                raise CheckpointError(
                    ckpt, f"its model ({hp.get('model_name')!r}, "
                          f"{', '.join(f'{k}={v}' for k, v in shape.items())}) does not fit "
                          f"this config's data: {first_line(root)}") from e
            if isinstance(root, CardioLiquidError):
                raise root from None
            raise CardioLiquidError(f"invalid configuration: {first_line(root)}") from e

    def instantiate_trainer(self, **kwargs: Any) -> Any:
        """The Trainer; an accelerator this machine lacks is one line, not a traceback."""
        try:
            return super().instantiate_trainer(**kwargs)
        except (MisconfigurationException, ModuleNotFoundError) as e:
            accelerator = str(self._cfg().get("trainer", {}).get("accelerator"))
            where, hint = "trainer", ""
            if accelerator in GPU_ACCELERATORS:
                where = f"trainer.accelerator {accelerator!r}"
                if not torch.cuda.is_available():
                    hint = (f"; torch {torch.__version__} finds no such device on this "
                            f"machine: the shipped configs train on the CPU "
                            f"(--trainer.accelerator cpu)")
            raise CardioLiquidError(f"{where}: {first_line(e).rstrip('.')}{hint}") from e

    # -- subcommands -------------------------------------------------------------------------------
    def _check_batches(self, stage: str, limit_name: str) -> None:
        limit = getattr(self.trainer, limit_name, None)
        if limit == 0:
            why = (" (the arrhythmia recipes set it, having no validation patients: name some "
                   "with --data.init_args.val_patients)" if stage == "validate" else "")
            raise CardioLiquidError(
                f"{stage}: nothing to run: trainer.{limit_name} is 0, so it would report "
                f"nothing{why}; pass --trainer.{limit_name} 1.0")

    def before_fit(self) -> None:
        """Check the callbacks against validation, then prepare distillation teachers."""
        if self.trainer.limit_val_batches == 0:
            for cb in self.trainer.callbacks:
                monitor = getattr(cb, "monitor", None)
                if isinstance(cb, EarlyStopping) and monitor and monitor.startswith("val/"):
                    raise CardioLiquidError(
                        f"EarlyStopping monitors {monitor!r} but validation is off "
                        f"(trainer.limit_val_batches: 0): it would stop the run after its "
                        f"first epoch; monitor a train/ metric or turn validation on")
        cfg = self._cfg()
        prepare_teachers(self.model, self.datamodule, int(self.trainer.max_epochs or 1),
                         cfg.get("seed_everything"))

    def before_validate(self) -> None:
        """Refuse ``validate`` when its batches are limited to none (it would report nothing)."""
        self._check_batches("validate", "limit_val_batches")

    def before_test(self) -> None:
        """Refuse ``test`` when its batches are limited to none."""
        self._check_batches("test", "limit_test_batches")

    def before_predict(self) -> None:
        """Refuse ``predict`` when its batches are limited to none."""
        self._check_batches("predict", "limit_predict_batches")

    def predict(self, **kwargs: Any) -> Any:
        """``Trainer.predict``, its probabilities written to ``predictions.npz`` in the run folder.

        The file holds ``proba`` (the model's class probabilities, one row per
        window, or per run and beat for the beat-sequence models), ``label`` (the
        reference classes of the same examples, -1 where none) and ``classes``.
        """
        out = self.trainer.predict(**kwargs)
        if not out or not self.trainer.is_global_zero:
            return out
        if self.trainer.world_size > 1:
            print("predict: several processes each hold a share of the predictions; add a "
                  "lightning BasePredictionWriter callback to write them", file=sys.stderr)
            return out
        proba = torch.cat([p.detach().cpu() for p in out]).numpy()
        arrays: dict[str, np.ndarray] = {"proba": proba,
                                         "classes": np.asarray(self.model.classes)}
        dataset = getattr(self.datamodule, "test_set", None)
        labels = getattr(dataset, "tensors", (None,))[-1]
        if labels is not None and len(labels) == len(proba):
            arrays["label"] = labels.numpy()
        folder = Path(self.trainer.log_dir or self.trainer.default_root_dir)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / PREDICTIONS_FILE
        np.savez(path, **arrays)
        print(f"wrote {path}: proba {tuple(proba.shape)}, classes "
              f"{', '.join(self.model.classes)}")
        return out

    def after_fit(self) -> None:
        """Export the best checkpoint when ``--export_to`` is given."""
        cfg = self._cfg()
        target = cfg.get("export_to")
        if not target or not self.trainer.is_global_zero:
            return
        ckpt = self.trainer.checkpoint_callback
        best = getattr(ckpt, "best_model_path", "") if ckpt else ""
        meta = {**dict(cfg.get("export_metadata") or {}), **records_metadata(self.datamodule)}
        meta["best_checkpoint"] = Path(best).name if best else None
        if ckpt is not None and ckpt.best_model_score is not None:
            meta[f"best_{ckpt.monitor}"] = float(ckpt.best_model_score)
        # The resolved config travels with the model (the same text as the run's config.yaml).
        meta["config"] = self._parser(self.subcommand).dump(cfg, skip_none=False)
        decision = dict(cfg.get("export_decision") or {})
        source = best or self.model  # no checkpointing configured: the final weights
        try:
            path = export_checkpoint(source, target, metadata=meta,
                                     decision_overrides=decision)
        except OSError as e:
            folder = Path(self.trainer.log_dir or self.trainer.default_root_dir)
            kept = best or _save_final_weights(self.model, self.datamodule, folder,
                                               self.trainer.current_epoch,
                                               self.trainer.global_step)
            raise CardioLiquidError(
                f"--export_to {target}: training finished but the model could not be written "
                f"({e.strerror or e}); its checkpoint is {kept}: export it with python -m "
                f"cardioliquid.training.export {kept} OUT.safetensors") from e
        print(f"exported {path}")


def _subcommand(args: list[str] | None) -> str | None:
    argv = sys.argv[1:] if args is None else args
    return next((a for a in argv if a in LightningCLI.subcommands()), None)


def _init_options(cls: type) -> list[str]:
    """The keyword options of ``cls``, following ``**kwargs`` up its base classes."""
    names: list[str] = []
    for base in cls.__mro__:
        if "__init__" not in vars(base):
            continue
        params = inspect.signature(base.__init__).parameters.values()
        names += [p.name for p in params if p.kind is p.KEYWORD_ONLY or
                  (p.kind is p.POSITIONAL_OR_KEYWORD and p.name != "self")]
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return names


def _usage_error(parser, subcommand: str | None, message: str) -> str:
    """``message`` with the closest option to a mistyped one, and where the options are listed."""
    # jsonargparse's parsers, read for their option names only: a hint, never an error
    subcommands = getattr(getattr(parser, "_subcommands_action", None), "_name_parser_map", {})
    sub = subcommands.get(subcommand, parser) if subcommand else parser
    where = f"cardioliquid-train {subcommand} --help" if subcommand else "cardioliquid-train --help"
    # A data module's unknown option: jsonargparse explains every Union subtype it tried.
    found = re.search(r"class_path '([\w.]+)':\s*Option '(\w+)' is not accepted", message)
    if found:
        path, typed = found.groups()
        module, _, name = path.rpartition(".")
        try:
            accepted = _init_options(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError, TypeError, ValueError):
            accepted = []
        close = difflib.get_close_matches(typed, accepted, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else ""
        return (f"data option '{typed}' (--data.init_args.{typed} or under data: init_args: in "
                f"a config): {name} has no such option{hint} (its options: cardioliquid-train "
                f"{subcommand or 'fit'} --data.help {path})")
    names = [a.dest for a in getattr(sub, "_actions", []) if not a.dest.endswith(".help")]
    hint = ""
    for typed in re.findall(r"option '([^']+)'", message):
        close = difflib.get_close_matches(typed, names, n=1, cutoff=0.75)
        if close:
            hint += f"; did you mean --{close[0]}?"
    return f"{' '.join(message.split())}{hint} (the options: {where})"


TRAIN_DESCRIPTION = (
    "Train a CardioLiquid model (a LightningCLI). The shipped models' recipes are YAML "
    "configs in pipelines/configs/: arrhythmia.yaml, seizure.yaml and seizure-1ch.yaml; "
    "candidate recipes are in pipelines/configs/arrhythmia-candidates/ and add-ons in "
    "pipelines/configs/add-ons/. The data sources (--data) are the DataModules of "
    "cardioliquid.training.datamodules: BeatSequenceDataModule (runs of heartbeats, the "
    "shipped arrhythmia model), MITBIHBeatDataModule (beat windows), SeizureDataModule "
    "(CHB-MIT) and BonnDataModule, each with a sampling: and an augmentation: block. "
    "Example: "
    "cardioliquid-train fit --config pipelines/configs/arrhythmia.yaml "
    "--export_to my-arrhythmia.safetensors"
)


def _check_yaml_configs(argv: list[str]) -> None:
    """Refuse a ``--config`` file that is not YAML, naming it (the parser says only
    ``in "<unicode string>", line 2``)."""
    import yaml

    paths = [b for a, b in itertools.pairwise(argv) if a == "--config"]
    paths += [a.split("=", 1)[1] for a in argv if a.startswith("--config=")]
    for path in map(Path, paths):
        if not path.is_file():
            continue  # the parser names a missing file itself
        try:
            yaml.safe_load(path.read_text(encoding="utf-8", errors="replace"))
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            what = getattr(e, "problem", None) or str(e).splitlines()[0]
            raise CardioLiquidError(f"--config {path}: not valid YAML{where}: {what}") from e


def main(args: list[str] | None = None) -> int:
    """Entry point of ``cardioliquid-train``.

    A project error (a missing record, patient leakage between splits, a bad
    file, a checkpoint or an accelerator that does not fit the run) and
    Lightning's usage errors end the run with a one-line message and exit
    status 2, as in ``cardioliquid``; anything else keeps its traceback.
    """
    try:
        _check_yaml_configs(list(sys.argv[1:] if args is None else args))
        TrainCLI(
            LiquidClassifierModule,
            datamodule_class=None,
            subclass_mode_data=True,
            save_config_kwargs={"overwrite": True},
            parser_kwargs={"description": TRAIN_DESCRIPTION, "exit_on_error": False},
            args=args,
            auto_configure_optimizers=False,
        )
    except (CardioLiquidError, MisconfigurationException) as e:
        # Lightning's MisconfigurationException is its own usage error (a setting that
        # does not fit the run), as project errors are ours.
        print(f"cardioliquid-train: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
