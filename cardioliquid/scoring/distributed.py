"""The batch scoring through Lightning's ``Trainer.predict`` with DDP, for clusters.

Each rank scores a disjoint share of the records (Lightning's unrepeated
distributed sampler) and a :class:`RecordWriter` prediction-writer callback
writes exactly the files of :mod:`cardioliquid.scoring.batch` (same writers,
same manifests), so the outputs do not depend on how many processes or nodes
ran. Rank 0 gathers the per-record results and writes ``failures.csv`` and
``summary.json``.

Launch one process per device with ``torchrun`` (or ``srun`` under SLURM)::

    torchrun --nnodes 2 --nproc-per-node 8 --rdzv-backend c10d \\
        --rdzv-endpoint HOST:29500 -m cardioliquid.scoring.cli \\
        DATA --task arrhythmia --out OUT --distributed --devices 8 --num-nodes 2
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightning as L
import torch
import torch.distributed as dist
from lightning.pytorch.callbacks import BasePredictionWriter
from torch.utils.data import Dataset

from cardioliquid.errors import CardioLiquidError
from cardioliquid.io import load_recording
from cardioliquid.scoring import writers
from cardioliquid.scoring.batch import (
    RecordResult,
    ScoreOptions,
    _from_manifest,
    check_task,
    done_result,
    is_done,
    load_scoring_model,
    plan_records,
    predict_record,
    record_inputs,
    run_key,
    summarize,
    write_record_outputs,
)
from cardioliquid.scoring.lock import acquire

if TYPE_CHECKING:
    from cardioliquid.models.checkpoint import LoadedModel


class RecordDataset(Dataset):
    """The records to score: item ``i`` is ``(path, output name)``; loading happens later."""

    def __init__(self, paths: list[Path], names: dict[Path, str]) -> None:
        self.items = [(str(p), names[p]) for p in paths]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[str, str]:
        return self.items[i]


def _collate(batch: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return batch


class ScoringModule(L.LightningModule):
    """Wraps a loaded model; ``predict_step`` loads and scores the batch's records.

    A record that cannot be loaded or scored yields a failure entry instead of
    stopping the rank.
    """

    def __init__(self, loaded: LoadedModel, opts: ScoreOptions) -> None:
        super().__init__()
        self.net = loaded.model  # a submodule, so Lightning moves it to the rank's device
        self.loaded = loaded
        self.opts = opts

    def predict_step(self, batch: list[tuple[str, str]], batch_idx: int) -> list[dict[str, Any]]:
        """Score each (path, name) of this rank's batch; a bad record becomes a failure row."""
        out = []
        for path, name in batch:
            try:
                inputs = record_inputs(Path(path), name, self.opts)  # before reading them
                rec = load_recording(path, seizure_truth=False)  # as batch scoring
                out.append(
                    {
                        "path": path,
                        "name": name,
                        "rec": rec,
                        "pred": predict_record(rec, self.loaded, self.opts),
                        "inputs": inputs,
                    }
                )
            except CardioLiquidError as e:
                out.append(
                    {"path": path, "name": name, "error": type(e).__name__, "reason": str(e)}
                )
        return out


class RecordWriter(BasePredictionWriter):
    """Writes each record's outputs and manifest as soon as its batch is predicted."""

    def __init__(self, opts: ScoreOptions) -> None:
        super().__init__(write_interval="batch")
        self.opts = opts
        self.results: list[RecordResult] = []

    def write_on_batch_end(
        self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx=0
    ) -> None:
        """Write each scored record's outputs and manifest as its batch ends (on its rank)."""
        for item in prediction:
            path, name = item["path"], item["name"]
            if "error" in item:
                self.results.append(
                    RecordResult(path, name, "failed", error=item["error"], reason=item["reason"])
                )
                continue
            try:
                _, info = _write(item, self.opts)
            except (CardioLiquidError, OSError) as e:
                self.results.append(
                    RecordResult(path, name, "failed", error=type(e).__name__, reason=str(e))
                )
                continue
            self.results.append(done_result(path, name, info))


def _write(item: dict[str, Any], opts: ScoreOptions) -> tuple[list[Path], dict[str, Any]]:
    files, info = write_record_outputs(item["pred"], item["rec"], item["name"], opts)
    info["inputs"] = item["inputs"]
    writers.write_manifest(Path(opts.out_dir), item["name"], files, info)
    return files, info


def _gather(results: list[RecordResult]) -> list[RecordResult]:
    if not (dist.is_available() and dist.is_initialized()):
        return results
    every: list[list[RecordResult] | None] = [None] * dist.get_world_size()
    dist.all_gather_object(every, results)
    return [r for part in every if part for r in part]


def score_paths_distributed(
    paths: list[Any],
    opts: ScoreOptions,
    resume: bool = False,
    accelerator: str = "cpu",
    devices: int | str = "auto",
    num_nodes: int = 1,
    progress: bool = True,
    loaded: LoadedModel | None = None,
) -> dict[str, Any] | None:
    """Score every recording under ``paths`` with ``Trainer.predict`` (DDP).

    Same outputs as :func:`cardioliquid.scoring.batch.score_paths`. Returns the
    summary on rank 0 and None on the other ranks. Rank 0 holds the output
    folder's lock for the whole run (:mod:`cardioliquid.scoring.lock`).
    """
    t0 = time.perf_counter()
    out = Path(opts.out_dir)
    records, names, set_aside = plan_records(paths, opts)  # refused: nothing written
    if loaded is None:
        loaded = load_scoring_model(opts)
    check_task(loaded, opts)
    out.mkdir(parents=True, exist_ok=True)  # once the model is known to fit
    opts = opts.resolve(loaded)  # the model's event rule, flags applied
    opts = replace(opts, run_key=run_key(loaded, opts))
    skipped = [p for p in records if resume and is_done(out, names[p], opts.run_key,
                                                         record_inputs(p, names[p], opts))]
    todo = [p for p in records if p not in set(skipped)]
    devices = int(devices) if str(devices).isdigit() else devices
    torch.set_num_threads(1)
    writer = RecordWriter(opts)
    trainer = L.Trainer(
        accelerator=accelerator,
        devices=devices,
        num_nodes=num_nodes,
        strategy="ddp" if devices not in (1, "1") or num_nodes > 1 else "auto",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=progress,
        enable_model_summary=False,
        callbacks=[writer],
    )
    loader = torch.utils.data.DataLoader(
        RecordDataset(todo, names), batch_size=1, shuffle=False, collate_fn=_collate
    )
    # One lock per run, held by rank 0 and taken before the process group forms: no
    # other rank writes until rank 0 has joined it, i.e. is past the lock.
    lock = acquire(out) if trainer.is_global_zero else None
    try:
        if todo:
            trainer.predict(ScoringModule(loaded, opts), loader, return_predictions=False)
        results = _gather(writer.results)
        if not trainer.is_global_zero:
            return None
        return _finish(results, skipped, set_aside, records, names, loaded, opts, out, t0,
                       trainer, num_nodes, accelerator)
    finally:
        if lock is not None:
            lock.release()


def _finish(results, skipped, set_aside, records, names, loaded, opts, out, t0, trainer,
            num_nodes, accelerator) -> dict[str, Any]:
    """Rank 0: failures, summary."""
    results += [_from_manifest(p, names[p], out) for p in skipped] + set_aside
    results.sort(key=lambda r: r.path)
    failures = [
        {"path": r.path, "record": r.name, "error": r.error, "reason": r.reason}
        for r in results
        if r.status == "failed"
    ]
    writers.write_failures(out / "failures.csv", failures)
    summary = summarize(results, loaded, opts, time.perf_counter() - t0, trainer.world_size)
    summary["distributed"] = {
        "world_size": trainer.world_size,
        "num_nodes": num_nodes,
        "accelerator": accelerator,
    }
    summary["not_started"] = len(records) + len(set_aside) - len(results)
    writers.write_summary(out / "summary.json", summary)
    summary["failures"] = failures
    return summary
