"""Score many recordings into an output folder: parallel, resumable, failure-tolerant.

:func:`score_paths` is what ``cardioliquid score`` runs. Each record is scored
by :func:`score_record` (load, predict, write the outputs, write the manifest
last); records run in worker processes (``spawn``, one torch thread each) when
``workers > 1``. A record that cannot be read or scored becomes a row of
``failures.csv`` and the run goes on.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import signal
import sys
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from cardioliquid._check import with_article
from cardioliquid._version import __version__
from cardioliquid.decision.settings import DecisionSettings
from cardioliquid.errors import CardioLiquidError, ContractError
from cardioliquid.io import load_recording
from cardioliquid.models.checkpoint import LoadedModel, load_model
from cardioliquid.scoring import writers
from cardioliquid.scoring.beats import predict_beats
from cardioliquid.scoring.checks import check_reference_beats, reference_note
from cardioliquid.scoring.discover import discover_for_task, output_names, record_name
from cardioliquid.scoring.inputs import check_outputs_apart, input_fingerprint
from cardioliquid.scoring.lock import acquire
from cardioliquid.scoring.results import BeatPredictions, WindowPredictions
from cardioliquid.scoring.runner import DEFAULT_BATCH_SIZE
from cardioliquid.scoring.windows import predict_windows

TASKS = ("arrhythmia", "seizure")
DEFAULT_MODELS = {"arrhythmia": "arrhythmia", "seizure": "seizure"}


@dataclass
class ScoreOptions:
    """How each record is scored and written (the same in every worker).

    Attributes
    ----------
    task : str
        ``"arrhythmia"`` or ``"seizure"``.
    model : str
        Shipped model name or checkpoint path.
    out_dir : str
        Output folder.
    beats : str
        ECG R-peak source: ``auto``, ``reference`` or ``detect``.
    batch_size : int
        Windows per forward pass.
    segment_s : float or None
        Preprocess in segments (what the app's live replay computes); None:
        whole recording.
    threshold, smooth_windows, min_duration_s
        Seizure event rule (:func:`~cardioliquid.decision.events.seizure_events`);
        None: the model's own (``loaded.decision``), filled in by :meth:`resolve`.
    parquet : bool
        Also write the per-beat table as Parquet (needs pyarrow).
    leads : tuple of str
        ECG leads to read, by name in order of preference, instead of the
        model's own (:meth:`~cardioliquid.models.checkpoint.LoadedModel.reading_leads`);
        empty: the model's choice.
    """

    task: str
    model: str
    out_dir: str
    beats: str = "auto"
    batch_size: int = DEFAULT_BATCH_SIZE
    segment_s: float | None = None
    threshold: float | None = None
    smooth_windows: int | None = None
    min_duration_s: float | None = None
    parquet: bool = field(default_factory=writers.has_parquet)
    leads: tuple[str, ...] = ()
    run_key: str = ""
    """Hash of the model file and the options that change outputs (set by the runner);
    ``--resume`` only skips records whose manifest carries the same key."""

    def resolve(self, loaded: LoadedModel) -> ScoreOptions:
        """These options with the event rule's unset values taken from the model's settings.

        Done before the run key is computed, so it and ``summary.json`` state
        the rule that was applied.
        """
        settings = loaded.decision.override(**self._event_rule())
        return replace(self, **settings.event_rule())

    def event_settings(self) -> DecisionSettings:
        """The event rule of resolved options (:meth:`resolve`) as decision settings."""
        rule = self._event_rule()
        if None in rule.values():
            raise ValueError("expected resolved options (ScoreOptions.resolve), got an unset "
                             f"event rule: {rule}")
        return DecisionSettings(**rule)

    def _event_rule(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "smooth_windows": self.smooth_windows,
                "min_duration_s": self.min_duration_s}


@dataclass
class RecordResult:
    """What happened to one record."""

    path: str
    name: str
    status: str  # "done", "skipped" or "failed"
    duration_s: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    n_events: int = 0
    beat_source: str = ""
    error: str = ""
    reason: str = ""  # why it failed, or why it was set aside (another modality's file)
    af_beats: int | None = None  # beats in AF-like rhythm (models with an AF gate)
    beat_source_note: str = ""  # why the beats are not the reference ones, when asked for
    leads_note: str = ""  # leads left out: no usable signal in the whole record


# --------------------------------------------------------------------------- one record
def _load(path: Path):
    # scoring reads no expert labels of an EEG file: a malformed sidecar does not stop it
    return load_recording(path, seizure_truth=False)


def predict_record(rec: Any, loaded: LoadedModel, opts: ScoreOptions):
    """Beats or windows of one loaded recording, as the options say."""
    if opts.task != loaded.task:
        raise ContractError(
            f"--task {opts.task} but model {loaded.name!r} is {with_article(loaded.task)} model"
        )
    # (predict_* check the channels' kind: an ECG lead is never read as EEG, nor EEG as ECG)
    if loaded.task == "arrhythmia" and opts.beats != "detect":
        check_reference_beats(rec, loaded)
    if loaded.task == "arrhythmia":
        return predict_beats(
            rec, loaded, beats=opts.beats, batch_size=opts.batch_size, segment_s=opts.segment_s
        )
    return predict_windows(rec, loaded, batch_size=opts.batch_size, segment_s=opts.segment_s)


def write_record_outputs(
    pred: BeatPredictions | WindowPredictions,
    rec: Any,
    name: str,
    opts: ScoreOptions,
) -> tuple[list[Path], dict[str, Any]]:
    """Write one record's outputs; return the files and the manifest's info.

    ``opts`` must be resolved (:meth:`ScoreOptions.resolve`): its event rule
    makes the seizure events.
    """
    out = Path(opts.out_dir)
    info: dict[str, Any] = {
        "run_key": opts.run_key,
        "source": str(rec.source or ""),
        "record_id": rec.record_id,
        "duration_s": round(rec.duration_s, 6),
        "fs": rec.fs,
        "counts": pred.counts(),
    }
    if isinstance(pred, BeatPredictions):
        pred.record_id = name
        files = [
            writers.write_annotations(pred, out / f"{name}.{writers.ANNOTATION_EXTENSION}"),
            writers.write_beat_table(pred, out / f"{name}_beats.csv"),
        ]
        if opts.parquet:
            files.append(writers.write_beat_parquet(pred, out / f"{name}_beats.parquet"))
        info["beat_source"] = pred.beat_source
        note = reference_note(rec, opts.beats, pred.beat_source)
        if note is not None:  # --beats auto found no reference: said, not silent
            info["reference_annotations"] = note
            info["beat_source_note"] = note["note"]
        info["lead"] = pred.lead
        if pred.leads_off:  # read without them: said, not silent
            info["leads_off"] = list(pred.leads_off)
            info["leads_note"] = (f"{', '.join(pred.leads_off)}: no usable signal in the whole "
                                  f"record (lead off); read {pred.lead} instead")
        info["n_beats"] = len(pred)
        if pred.af is not None:
            info["af_beats"] = int(pred.af.sum())
    else:
        pred.record_id = name
        events = pred.events(opts.event_settings())
        date_time = writers.format_datetime(rec.meta.get("meas_date"))
        files = [
            writers.write_events(
                events, out / writers.events_file_name(name), rec.duration_s, date_time,
                pred.channels
            ),
            writers.write_window_table(pred, out / f"{name}_windows.csv"),
        ]
        info["n_windows"] = len(pred)
        info["n_events"] = len(events)
    return files, info


def record_inputs(path: Path, name: str, opts: ScoreOptions) -> dict[str, Any]:
    """The fingerprint of record ``path``'s files, its own outputs left out.

    See :func:`~cardioliquid.scoring.inputs.input_fingerprint`; the outputs
    matter when ``opts.out_dir`` is the recording's folder.
    """
    outputs = writers.record_outputs(name, opts.task, opts.parquet)
    return input_fingerprint(path, [Path(opts.out_dir) / f for f in outputs])


def score_record(path: Path, name: str, loaded: LoadedModel, opts: ScoreOptions) -> RecordResult:
    """Load, score and write one record; a bad record gives a ``failed`` result.

    The manifest records the fingerprint of the record's files taken before
    they are read (:func:`record_inputs`): ``--resume`` re-scores the record
    when they change.
    """
    opts = opts.resolve(loaded)
    try:
        inputs = record_inputs(path, name, opts)
        rec = _load(path)
        pred = predict_record(rec, loaded, opts)
        files, info = write_record_outputs(pred, rec, name, opts)
        info["inputs"] = inputs
        writers.write_manifest(Path(opts.out_dir), name, files, info)  # last: marks completion
    except CardioLiquidError as e:
        return RecordResult(str(path), name, "failed", error=type(e).__name__, reason=str(e))
    except OSError as e:  # a file that cannot be read or written: its name, not our code's
        where = e.filename2 or e.filename  # a rename names its target second
        reason = f"{path}: {where}: {e.strerror or e}" if where else f"{path}: {e}"
        return RecordResult(str(path), name, "failed", error=type(e).__name__, reason=reason)
    except Exception as e:  # an unexpected bug must not stop a run over thousands of files
        last = traceback.extract_tb(e.__traceback__)[-1]
        reason = f"{path}: {e} (at {Path(last.filename).name}:{last.lineno})"
        return RecordResult(str(path), name, "failed", error=type(e).__name__, reason=reason)
    return done_result(str(path), name, info)


def done_result(path: str, name: str, info: dict[str, Any]) -> RecordResult:
    """The result of a record scored now, from its manifest ``info``."""
    return RecordResult(
        path, name, "done", info["duration_s"], info["counts"], info.get("n_events", 0),
        info.get("beat_source", ""), af_beats=info.get("af_beats"),
        beat_source_note=info.get("beat_source_note", ""), leads_note=info.get("leads_note", ""),
    )  # fmt: skip


def _from_manifest(path: Path, name: str, out_dir: Path) -> RecordResult:
    doc = writers.read_manifest(out_dir, name) or {}
    return RecordResult(
        str(path), name, "skipped", float(doc.get("duration_s", 0.0)),
        dict(doc.get("counts", {})), int(doc.get("n_events", 0)), doc.get("beat_source", ""),
        af_beats=doc.get("af_beats"), beat_source_note=doc.get("beat_source_note", ""),
        leads_note=doc.get("leads_note", ""),
    )  # fmt: skip


# --------------------------------------------------------------------------- workers
_WORKER_MODEL: LoadedModel | None = None
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def load_scoring_model(opts: ScoreOptions) -> LoadedModel:
    """The model of ``opts``, reading ``opts.leads`` when they are given."""
    loaded = load_model(opts.model)
    return loaded.reading_leads(opts.leads) if opts.leads else loaded


def _die_with_parent(parent_pid: int) -> None:
    """End this worker when the run that started it dies, ``kill -9`` included (Linux).

    Without it, a killed run left its workers blocked on their task pipe, parented to init,
    beside the next ``--resume`` run that takes the folder over.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)


def _init_worker(opts: ScoreOptions, parent_pid: int) -> None:
    global _WORKER_MODEL
    _die_with_parent(parent_pid)
    torch.set_num_threads(1)
    _WORKER_MODEL = load_scoring_model(opts)


def _score_in_worker(path: Path, name: str, opts: ScoreOptions) -> RecordResult:
    assert _WORKER_MODEL is not None, "worker not initialised"
    return score_record(path, name, _WORKER_MODEL, opts)


# --------------------------------------------------------------------------- the run
def check_task(loaded: LoadedModel, opts: ScoreOptions) -> None:
    """Raise unless the model is for ``opts.task``."""
    if loaded.task != opts.task:
        raise CardioLiquidError(
            f"{loaded.path or loaded.name}: expected {with_article(opts.task)} model, "
            f"got {with_article(loaded.task)} model"
        )


def plan_records(
    paths: list[str | os.PathLike], opts: ScoreOptions
) -> tuple[list[Path], dict[Path, str], list[RecordResult]]:
    """The records to score, their output names, and the files set aside.

    A folder or glob search sets aside the other modality's files
    (:func:`~cardioliquid.scoring.discover.discover_for_task`): they come back
    as ``skipped`` results with the reason.

    Raises
    ------
    CardioLiquidError
        An output would overwrite a recording's file or land where the loader
        reads its reference annotations
        (:func:`~cardioliquid.scoring.inputs.check_outputs_apart`).
    """
    records, other = discover_for_task(paths, opts.task)
    names = output_names(records)
    check_outputs_apart(records, names, Path(opts.out_dir), opts.task, opts.parquet)
    set_aside = [RecordResult(str(p), record_name(p), "skipped", reason=why)
                 for p, why in other.items()]
    return records, names, set_aside


def run_key(loaded: LoadedModel, opts: ScoreOptions) -> str:
    """What a record's outputs depend on: the model's bytes and the output options."""
    ident = model_identity(loaded)
    fields = asdict(opts)
    for volatile in ("out_dir", "batch_size", "run_key", "model"):
        fields.pop(volatile)
    doc = json.dumps({"model": ident["sha256"] or ident["name"], **fields}, sort_keys=True)
    return hashlib.sha256(doc.encode()).hexdigest()[:16]


def is_done(out: Path, name: str, key: str, inputs: dict[str, Any]) -> bool:
    """Whether record ``name`` is complete in ``out``, scored with run key ``key`` from ``inputs``.

    ``inputs`` is the record's fingerprint now (:func:`record_inputs`). A
    manifest without one (written before fingerprints were) is not complete:
    what it was scored from cannot be told, so the record is scored again.
    """
    if not writers.is_complete(out, name):
        return False
    doc = writers.read_manifest(out, name) or {}
    return doc.get("run_key", "") == key and doc.get("inputs") == inputs


def model_identity(loaded: LoadedModel) -> dict[str, Any]:
    """Name, version and file hash of a model, for the summary."""
    digest = ""
    if loaded.path and Path(loaded.path).is_file():
        digest = hashlib.sha256(Path(loaded.path).read_bytes()).hexdigest()
    meta = loaded.metadata
    return {
        "name": loaded.name,
        "model_name": loaded.model_name,
        # a stated version, else the commit the exporter recorded (training.export.provenance)
        "version": str(meta.get("version") or meta.get("git_commit") or ""),
        "sha256": digest,
        "path": loaded.path,
    }


def summarize(
    results: list[RecordResult],
    loaded: LoadedModel,
    opts: ScoreOptions,
    wall_time_s: float,
    workers: int,
) -> dict[str, Any]:
    """The run summary written to ``summary.json``."""
    set_aside = [r for r in results if r.status == "skipped" and r.reason]
    scored = [r for r in results if r.status in ("done", "skipped") and not r.reason]
    classes = loaded.classes
    per_class = {c: sum(r.counts.get(c, 0) for r in scored) for c in classes}
    hours_done = sum(r.duration_s for r in results if r.status == "done") / 3600
    hours_all = sum(r.duration_s for r in scored) / 3600
    unit = "beats" if opts.task == "arrhythmia" else "windows"
    summary: dict[str, Any] = {
        "cardioliquid_version": __version__,
        "task": opts.task,
        "model": model_identity(loaded),
        "options": {k: v for k, v in asdict(opts).items() if k not in ("out_dir",)},
        # "skipped" counts both kinds: records an earlier run completed (--resume,
        # "resumed") and the other modality's files ("set_aside", not records).
        "records": {
            "total": len(results),
            "done": sum(r.status == "done" for r in results),
            "skipped": sum(r.status == "skipped" for r in results),
            "resumed": sum(r.status == "skipped" and not r.reason for r in results),
            "set_aside": len(set_aside),
            "failed": sum(r.status == "failed" for r in results),
        },
        "skipped_files": [{"path": r.path, "reason": r.reason} for r in set_aside],
        f"{unit}_per_class": per_class,
        f"{unit}_total": sum(per_class.values()),
        "signal_hours": round(hours_all, 6),
        "signal_hours_scored_this_run": round(hours_done, 6),
        "wall_time_s": round(wall_time_s, 3),
        "throughput_signal_hours_per_s": round(hours_done / wall_time_s, 6)
        if wall_time_s
        else None,
        "realtime_factor": round(hours_done * 3600 / wall_time_s, 1) if wall_time_s else None,
        "workers": workers,
        "finished_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if opts.task == "seizure":
        summary["events_total"] = sum(r.n_events for r in scored)
    else:
        sources: dict[str, int] = {}
        for r in scored:
            sources[r.beat_source] = sources.get(r.beat_source, 0) + 1
        summary["beat_source_records"] = sources
        notes = {r.name: r.beat_source_note for r in scored if r.beat_source_note}
        if notes:  # records whose reference annotations were missing or empty
            summary["beat_source_notes"] = notes
        leads = {r.name: r.leads_note for r in scored if r.leads_note}
        if leads:  # records read without a lead that was off throughout
            summary["leads_notes"] = leads
        af = [r for r in scored if r.af_beats is not None]
        if af:  # a model with an AF gate: how much of the signal is in AF-like rhythm
            summary["af_beats_total"] = sum(r.af_beats for r in af)
            summary["records_with_af"] = sum(r.af_beats > 0 for r in af)
    return summary


def score_paths(
    paths: list[str | os.PathLike],
    opts: ScoreOptions,
    workers: int = 1,
    resume: bool = False,
    strict: bool = False,
    progress: bool = True,
    loaded: LoadedModel | None = None,
) -> dict[str, Any]:
    """Score every recording under ``paths`` into ``opts.out_dir``.

    Parameters
    ----------
    paths : list of str or path
        Files, folders (searched recursively) or globs. A search sets aside the
        other modality's files (``skipped``, with the reason, in
        ``summary["skipped_files"]``); a file named here is always scored.
    opts : ScoreOptions
    workers : int
        Processes scoring records in parallel (1: this process).
    resume : bool
        Skip records whose outputs are complete (manifest present and matching).
    strict : bool
        Stop at the first failed record (records already running finish).
    progress : bool
        Show a progress bar (records and signal-hours) on stderr.
    loaded : LoadedModel, optional
        An already loaded model (``workers=1`` only); default: load ``opts.model``.

    Returns
    -------
    summary : dict
        As written to ``summary.json``; ``summary["failures"]`` lists failed
        records (also in ``failures.csv``).

    Raises
    ------
    OutputLockedError
        Another live run owns ``opts.out_dir`` (:mod:`cardioliquid.scoring.lock`).
    CardioLiquidError
        An output would overwrite a recording's file or its reference
        annotations (:func:`plan_records`); nothing is written.
    """
    t0 = time.perf_counter()
    out = Path(opts.out_dir)
    plan = plan_records(paths, opts)  # before the lock: a refused run writes nothing,
    if loaded is None:  # nor creates its folder
        loaded = load_scoring_model(opts)
    check_task(loaded, opts)
    with acquire(out):  # one run per folder; removes only dead processes' temporaries
        return _score_locked(plan, opts, loaded, out, t0, workers, resume, strict, progress)


def _score_locked(
    plan: tuple[list[Path], dict[Path, str], list[RecordResult]],
    opts: ScoreOptions,
    loaded: LoadedModel,
    out: Path,
    t0: float,
    workers: int,
    resume: bool,
    strict: bool,
    progress: bool,
) -> dict[str, Any]:
    """:func:`score_paths` once the folder's lock is held."""
    opts = opts.resolve(loaded)
    opts = replace(opts, run_key=run_key(loaded, opts))
    records, names, set_aside = plan
    results: list[RecordResult] = list(set_aside)
    todo: list[Path] = []
    for p in records:
        if resume and is_done(out, names[p], opts.run_key, record_inputs(p, names[p], opts)):
            results.append(_from_manifest(p, names[p], out))
        else:
            todo.append(p)
    bar = _progress(len(records) + len(set_aside), progress)
    bar.update(len(results))
    hours = [sum(r.duration_s for r in results) / 3600]

    def record(r: RecordResult) -> bool:
        results.append(r)
        hours[0] += r.duration_s / 3600
        bar.update(1)
        bar.set_postfix(
            signal_h=f"{hours[0]:.2f}", failed=sum(x.status == "failed" for x in results)
        )
        return strict and r.status == "failed"

    if workers <= 1 or len(todo) <= 1:
        # One thread, as in each worker: small recurrent ops lose time in thread
        # hand-offs, and parallelism comes from --workers.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            for p in todo:
                if record(score_record(p, names[p], loaded, opts)):
                    break
        finally:
            torch.set_num_threads(threads)
    else:
        _run_pool(todo, names, opts, workers, record)
    bar.close()
    results.sort(key=lambda r: r.path)
    failures = [
        {"path": r.path, "record": r.name, "error": r.error, "reason": r.reason}
        for r in results
        if r.status == "failed"
    ]
    writers.write_failures(out / "failures.csv", failures)
    summary = summarize(results, loaded, opts, time.perf_counter() - t0, workers)
    summary["not_started"] = len(records) + len(set_aside) - len(results)
    writers.write_summary(out / "summary.json", summary)
    summary["failures"] = failures
    return summary


def _run_pool(todo, names, opts, workers, record) -> None:
    ctx = mp.get_context("spawn")  # no forked torch/OpenMP state in workers
    # One thread per worker for every numeric library: N workers on N cores, no
    # oversubscription (spawned workers read these when numpy/torch load).
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update({k: "1" for k in _THREAD_VARS})
    try:
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=_init_worker,
            initargs=(opts, os.getpid()),
        ) as pool:
            _drain(pool, todo, names, opts, workers, record)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _drain(pool, todo, names, opts, workers, record) -> None:
    """Keep every worker busy (two records queued each) until done or stopped."""
    pending: set[Future] = set()
    queue = list(todo)
    stop = False
    while queue or pending:
        while queue and not stop and len(pending) < 2 * workers:
            p = queue.pop(0)
            pending.add(pool.submit(_score_in_worker, p, names[p], opts))
        if not pending:
            break
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        for f in done:
            stop = record(f.result()) or stop
        if stop:
            queue.clear()


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="rec", desc="scoring", disable=not enabled, dynamic_ncols=True)
