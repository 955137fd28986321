"""``cardioliquid-train``: the Lightning CLI for every CardioLiquid model.

Examples
--------
Train the arrhythmia model from its config and export the best checkpoint::

    cardioliquid-train fit --config pipelines/configs/arrhythmia.yaml \\
        --export_to cardioliquid/models/pretrained/arrhythmia.safetensors

Scale out with Lightning's own strategies::

    cardioliquid-train fit --config pipelines/configs/arrhythmia.yaml \\
        --trainer.strategy ddp --trainer.devices 2 --trainer.num_nodes 4

The signal shape (``n_chans``, ``n_outputs``, ``n_times``, ``n_features``,
``sfreq``) and the preprocessing dict are linked from the DataModule into the
model, the resolved config is saved next to every run (``config.yaml``), and
runs are seeded and deterministic when the config says so.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lightning.pytorch.cli import LightningCLI

from cardioliquid.errors import CardioLiquidError
from cardioliquid.training.distill import prepare_teachers
from cardioliquid.training.export import export_checkpoint
from cardioliquid.training.module import LiquidClassifierModule

LINKS = ("n_chans", "n_outputs", "n_times", "n_features", "sfreq")


def _listing(names: list[str], most: int = 12) -> str:
    shown = ", ".join(names[:most]) + (", ..." if len(names) > most else "")
    return f"{len(names)} ({shown})" if names else "none"


def records_metadata(datamodule: object) -> dict[str, object]:
    """The records a run read, for the exported model's provenance.

    A config's ``export_metadata`` describes its recipe in words; a run whose
    data were overridden on the command line (``--data.init_args.train_records
    101,106``) trained on something else. The file therefore also lists what
    this run read (``train_records``, ``val_records``, ``test_records``) and
    says it in its ``trained_on`` line, which the app's provenance reads.
    """
    used = getattr(datamodule, "records_used", None)
    if used is None:
        return {}
    splits = used()
    meta: dict[str, object] = {f"{k}_records": list(v) for k, v in splits.items()}
    meta["trained_on"] = (f"train records {_listing(splits.get('train', []))}; validation "
                          f"{_listing(splits.get('val', []))}; test "
                          f"{_listing(splits.get('test', []))}")
    return meta


class TrainCLI(LightningCLI):
    """LightningCLI with data→model links and optional export after ``fit``."""

    def add_arguments_to_parser(self, parser) -> None:
        """Link the data's shapes into the model and add the ``--export_*`` options."""
        for name in LINKS:
            parser.link_arguments(f"data.{name}", f"model.{name}", apply_on="instantiate")
        parser.link_arguments("data.preprocessing_dict", "model.preprocessing",
                              apply_on="instantiate")
        parser.add_argument(
            "--export_to", type=str | None, default=None,
            help="after fit, write the best checkpoint as a .safetensors model here",
        )
        parser.add_argument(
            "--export_metadata", type=dict, default={},
            help="provenance added to the exported model's metadata",
        )
        parser.add_argument(
            "--export_decision", type=dict, default={},
            help="decision settings written into the exported model (e.g. the AF gate's rule)",
        )

    def before_fit(self) -> None:
        """Train or load the teachers of a distilled recipe (``model.distill``)."""
        cfg = self.config.get(self.subcommand, self.config)
        prepare_teachers(self.model, self.datamodule, int(self.trainer.max_epochs or 1),
                         cfg.get("seed_everything"))

    def after_fit(self) -> None:
        """Export the best checkpoint when ``--export_to`` is given."""
        cfg = self.config.get(self.subcommand, self.config)
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
        path = export_checkpoint(source, target, metadata=meta, decision_overrides=decision)
        print(f"exported {path}")


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


def main(args: list[str] | None = None) -> int:
    """Entry point of ``cardioliquid-train``.

    A project error (a missing record, patient leakage between splits, a bad
    file) ends the run with its one-line message and exit status 2, as in
    ``cardioliquid``; anything else keeps its traceback.
    """
    try:
        TrainCLI(
            LiquidClassifierModule,
            datamodule_class=None,
            subclass_mode_data=True,
            save_config_kwargs={"overwrite": True},
            parser_kwargs={"description": TRAIN_DESCRIPTION},
            args=args,
            auto_configure_optimizers=False,
        )
    except CardioLiquidError as e:
        print(f"cardioliquid-train: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
