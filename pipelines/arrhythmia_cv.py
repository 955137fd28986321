"""Patient-grouped cross-validation of arrhythmia recipes over DS1 and SVDB.

Model selection for the shipped ``arrhythmia`` model. Fold ``k`` holds out the
DS1 patients of :data:`cardioliquid.data.splits.DS1_FOLDS` ``[k]`` together
with the SVDB patients of :data:`~cardioliquid.data.splits.SVDB_FOLDS` ``[k]``;
each recipe (a YAML config plus LightningCLI-style overrides) trains on the
other three folds of both databases for a fixed number of epochs (no early
stopping or checkpoint choice on the held-out patients) and scores the held-out
records through :func:`cardioliquid.scoring.beats.predict_beats`, with the
AF gate and without. Every training beat of DS1 and SVDB is thus classified by
a model that never saw its patient. DS2 is not read.

The score is the pooled mean F1 of SVEB and VEB (beat level, reference beat
positions), over all held-out beats and per database. The rule that chooses
among recipes is registered in ``pipelines/results/arrhythmia_cv_protocol.md``
before the runs.

Examples
--------
::

    export CARDIOLIQUID_DATA_MIRROR=/path/to/shared/data
    python pipelines/arrhythmia_cv.py --seeds 0,1,2 \\
        --recipe beat=pipelines/configs/arrhythmia-candidates/beat.yaml \\
        --recipe rhythm=pipelines/configs/arrhythmia-candidates/rhythm.yaml
    python pipelines/arrhythmia_cv.py --name capped -- --model.class_weight_max 20

Results are merged into ``pipelines/results/arrhythmia_cv_xdb.json`` (one entry
per recipe and seed; seed k > 0 is ``NAME_s<k>``), printed as a table and drawn
in ``arrhythmia_cv_xdb.png`` beside it (``--table-only`` redraws both from the
JSON without training). ``--databases mitdb`` holds out DS1 folds only and
trains without SVDB (the earlier DS1-only protocol, whose results stay in
``arrhythmia_cv.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from cardioliquid.decision.beats import settle_calls
from cardioliquid.decision.settings import DecisionSettings
from cardioliquid.io import load_ecg
from cardioliquid.scoring.beats import (
    fusion_partners,
    model_beat_windows,
    predict_beats,
    stacked_partners,
)

CLASSES = ["N", "S", "V", "F", "Q"]
S_FLOORS = (50, 60, 70, 80)
"""``sveb_min_proba`` (%) of the ``gate_nn_atrial_s*`` settings (round 20)."""
GATE_VARIANTS = {
    "gate_off": DecisionSettings(af_gate=False),
    "gate_on": DecisionSettings(af_gate=True, af_gate_rule="rhythm"),
    "gate_nn": DecisionSettings(af_gate=True, af_gate_rule="af_specific"),
    "gate_atrial": DecisionSettings(af_gate=True, af_gate_rule="atrial"),
    "gate_nn_atrial": DecisionSettings(af_gate=True, af_gate_rule="af_specific_atrial"),
    **{f"gate_nn_atrial_s{t}": DecisionSettings(
        af_gate=True, af_gate_rule="af_specific_atrial", sveb_min_proba=t / 100)
       for t in S_FLOORS},
}
"""The AF-gate settings each held-out record is scored under (keys of the JSON)."""
CALIBRATED_CANDIDATES = ("gate_nn_atrial", "gate_off", "gate_atrial_max")
"""The gates a patient-adaptive record chooses among on its own calibration beats
(``gate_calibrated``, round 27); the first (v9's, which adapted models keep) wins ties."""
ATRIAL_LEAD_RULES = {
    "min": lambda first, other: np.fmin(first, other),
    "max": lambda first, other: np.fmax(first, other),
    "mean": lambda first, other: np.where(np.isnan(other), first, np.where(
        np.isnan(first), other, (first + other) / 2)),
}
"""How a model that fuses leads may read the gate's atrial consistency from both (round 24):
``min``: the gate acts where either lead lacks a consistent P wave; ``max``: only where
neither has one; ``mean``: their mean.
Scored as ``<P-wave setting>_<rule>`` beside the first lead's (the shipped reading)."""
DATABASES = ("mitdb", "svdb")
"""Training databases whose patients are held out fold by fold (DS1 of mitdb; svdb)."""


def _fold_job(config: str, overrides: list[str], fold: int, epochs: int,
              threads: int, databases: tuple[str, ...] = DATABASES, adapt_minutes: float = 0.0,
              adapt_variants: list[dict[str, Any]] | None = None,
              other_lead: bool = False, fuse_leads: int = 1) -> dict[str, Any]:
    """Train without fold ``fold``'s patients and score them (and adapt to them).

    The held-out patients are ``DS1_FOLDS[fold]`` and, with ``"svdb"`` in
    ``databases``, ``SVDB_FOLDS[fold]``; the other SVDB training records are
    the fold's extra training records. Every held-out record is scored through
    :func:`cardioliquid.scoring.beats.predict_beats` on its reference beats,
    the path ``evaluate`` and ``score`` take, with and without the AF gate.
    With ``other_lead`` the held-out records are also scored on their second
    listed lead; with ``fuse_leads`` > 1 also by the model averaging its
    probabilities over that many listed leads (``preprocessing.fuse_leads``),
    in patient-adaptive mode too.
    """
    import lightning as L
    import torch
    from lightning.pytorch.callbacks import Checkpoint, EarlyStopping, ModelSummary, ProgressBar

    from cardioliquid.data.splits import DS1_FOLDS, SVDB_FOLDS, SVDB_TRAIN
    from cardioliquid.models.checkpoint import LoadedModel
    from cardioliquid.training.cli import TrainCLI
    from cardioliquid.training.distill import prepare_teachers
    from cardioliquid.training.module import LiquidClassifierModule

    torch.set_num_threads(threads)
    held_out = list(DS1_FOLDS[fold])
    held_svdb = list(SVDB_FOLDS[fold]) if "svdb" in databases else []
    extra = [f"svdb/{r}" for r in SVDB_TRAIN if r not in held_svdb] if "svdb" in databases else []
    args = ["--config", config,
            "--data.init_args.train_records", "DS1",
            "--data.init_args.extra_train_records", json.dumps(extra),
            *overrides,
            "--data.init_args.val_patients", json.dumps(held_out),
            "--trainer.logger", "false"]
    cli = TrainCLI(LiquidClassifierModule, datamodule_class=None, subclass_mode_data=True,
                   run=False, args=args, auto_configure_optimizers=False,
                   save_config_callback=None)
    model, dm = cli.model, cli.datamodule
    # The config's training callbacks (weight averaging...) run; selection and
    # early stopping do not: nothing may look at the held-out fold.
    skip = (Checkpoint, EarlyStopping, ProgressBar, ModelSummary)
    callbacks = [cb for cb in cli.trainer.callbacks if not isinstance(cb, skip)]
    trainer = L.Trainer(
        callbacks=callbacks,
        max_epochs=epochs, accelerator="cpu", devices=1, deterministic=True, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0, limit_val_batches=0,
    )
    t0 = time.perf_counter()
    # A distilled recipe's teachers train here, on this fold's training patients only.
    prepare_teachers(model, dm, epochs, cli.config.get("seed_everything"))
    trainer.fit(model, dm)
    seconds = time.perf_counter() - t0
    hp = model.hparams
    # One lead, whatever the config's fuse_leads: the fused scores are their own entry.
    loaded = LoadedModel(model.model.eval(), replace(dm.preprocessing, fuse_leads=1),
                         hp["model_name"], dict(hp["model_kwargs"]))
    paths = {f"mitdb/{r}": dm.root / r for r in dm.split_records()["val"]}
    paths.update({f"svdb/{r}": dm.extra_root("svdb") / r for r in held_svdb})
    per_record = {name: _record_confusions(loaded, path) for name, path in paths.items()}
    out = {"fold": fold, "patients": held_out + held_svdb, "records": per_record,
           "train_seconds": round(seconds, 1)}
    if other_lead:
        out["other_lead"] = _other_lead_confusions(loaded, paths)
    if fuse_leads > 1:
        fused = _fusing(loaded, fuse_leads)
        out["fused"] = {"records": {name: _record_confusions(fused, path)
                                    for name, path in paths.items()}}
    if adapt_minutes > 0:
        # The decision the recipe exports: label-free adaptation learns from its calls.
        exported = DecisionSettings.from_dict(
            {**loaded.decision.to_dict(), **dict(cli.config.get("export_decision") or {})})
        out["adaptive"] = _adaptive_confusions(replace(loaded, decision=exported), paths,
                                               adapt_minutes, adapt_variants or [{}], fuse_leads)
    return out


def _fusing(loaded: Any, fuse_leads: int) -> Any:
    """``loaded`` averaging its probabilities over ``fuse_leads`` listed leads."""
    return replace(loaded, preprocessing=replace(loaded.preprocessing, fuse_leads=fuse_leads))


def _record_confusions(loaded: Any, path: Path, after_s: float = 0.0) -> dict[str, list]:
    """Confusion matrices of one record's reference beats: AF gate on, off, and AF-specific.

    The record is scored once, ungated, through the package's
    :func:`~cardioliquid.scoring.beats.predict_beats`; each variant then settles
    those calls through the one settle path
    (:func:`cardioliquid.decision.beats.settle_calls`) with its decision
    settings. ``gate_nn`` keeps the gate only where the irregularity is
    AF-specific: the intervals between the model's own N calls are irregular
    too (``af_gate_rule="af_specific"``); ``gate_atrial`` and ``gate_nn_atrial``
    keep it, of the beats ``gate_on`` and ``gate_nn`` settle, only where the
    recent beats have no consistent P wave (the ``"atrial"`` rules).

    Only beats at or after ``after_s`` seconds are counted (patient-adaptive
    scoring leaves the calibration minutes out). With ``after_s`` > 0 and two
    fused leads, ``gate_calibrated`` is the gate of :data:`CALIBRATED_CANDIDATES`
    that makes the fewest S and V errors on the calibration beats themselves
    (those before ``after_s``, whose labels adaptation may read), counted after
    them; :func:`calibration_choice`.
    """
    rec = load_ecg(path)
    ungated = replace(loaded, decision=replace(loaded.decision, af_gate=False))
    pred = predict_beats(rec, ungated, beats="reference")
    lookup = {c: i for i, c in enumerate(CLASSES)}
    ref = dict(zip(rec.beats.sample.tolist(), rec.beats.aami.tolist(), strict=True))
    truth = np.array([lookup.get(str(ref.get(int(s), "")), -1) for s in pred.sample])
    keep = (truth >= 0) & (pred.sample >= after_s * rec.fs)
    # The atrial consistency the "atrial" rules read, as predict_beats computes it.
    bw, atrial = model_beat_windows(replace(rec, beats=None), loaded, rec.beats.sample,
                                    atrial=True)
    if not np.array_equal(bw.sample, pred.sample):
        raise RuntimeError(f"{path}: the atrial features' beats are not the scored beats")
    variants = [(key, settings, atrial) for key, settings in GATE_VARIANTS.items()]
    prep = loaded.preprocessing
    if prep.fuse_leads > 1 or prep.stack_leads > 1:  # the other lead's atrial evidence too
        partners = fusion_partners(rec, loaded) or stacked_partners(rec, loaded)
        other = atrial  # a record with one listed lead has only the first lead's
        if partners:
            _, other = model_beat_windows(replace(rec, beats=None), partners[0],
                                          rec.beats.sample, atrial=True)
        for rule, combine in ATRIAL_LEAD_RULES.items():
            for key in ("gate_atrial", "gate_nn_atrial"):
                variants.append((f"{key}_{rule}", GATE_VARIANTS[key], combine(atrial, other)))
    # Patient-adaptive records also let their calibration beats choose a gate.
    early = (truth >= 0) & ~keep
    choose = after_s > 0 and {key for key, _, _ in variants} >= set(CALIBRATED_CANDIDATES)
    out, calibration = {}, {}
    for key, settings, consistency in variants:
        proba, _ = settle_calls(rec.fs, pred.sample, pred.proba, pred.classes, settings,
                                atrial=consistency)
        calls = proba.argmax(-1)
        out[key] = _confusion(truth[keep], calls[keep]).tolist()
        if choose and key in CALIBRATED_CANDIDATES:
            calibration[key] = _confusion(truth[early], calls[early])
    if choose:
        out["gate_calibrated"] = out[calibration_choice(calibration)]
    return out


def _confusion(truth: np.ndarray, calls: np.ndarray) -> np.ndarray:
    """Confusion matrix of class indices (rows: reference, columns: calls)."""
    k = len(CLASSES)
    conf = np.zeros((k, k), dtype=np.int64)
    np.add.at(conf, (truth, calls), 1)
    return conf


def calibration_choice(calibration: dict[str, np.ndarray]) -> str:
    """The gate of :data:`CALIBRATED_CANDIDATES` with the fewest S and V errors on the
    calibration beats' confusions (rows: reference); the earlier candidate wins a tie."""
    key = [CLASSES.index("S"), CLASSES.index("V")]

    def errors(conf: np.ndarray) -> int:
        wrong = conf - np.diag(np.diag(conf))
        return int(wrong[key].sum() + wrong[:, key].sum() - wrong[np.ix_(key, key)].sum())

    return min(CALIBRATED_CANDIDATES, key=lambda g: errors(calibration[g]))


def _other_lead_confusions(loaded: Any, paths: dict[str, Path]) -> dict[str, Any]:
    """The held-out records scored on their second listed lead (see :func:`_fold_job`)."""
    import wfdb

    from cardioliquid.signal.leads import listed_leads

    records, leads = {}, {}
    for name, path in paths.items():
        names = wfdb.rdheader(str(path)).sig_name
        others = listed_leads(names, loaded.preprocessing.lead_preference)[1:]
        if not others:
            continue
        records[name] = _record_confusions(loaded.reading_leads(others[:1]), path)
        leads[name] = others[0]
    return {"records": records, "leads": leads}


def _adaptive_confusions(loaded: Any, paths: dict[str, Path], minutes: float,
                         variants: list[dict[str, Any]], fuse_leads: int = 1) -> dict[str, Any]:
    """Patient-adaptive mode on the held-out records, as ``evaluate --calibrate-minutes``.

    Each held-out record adapts a copy of the fold's model on its first
    ``minutes`` of reference labels, once per keyword set of ``variants``
    (arguments of :func:`adapt_to_patient`); the unadapted model (``"before"``)
    and every adapted one (``"after"``, in order) are scored on the same beats,
    those after the calibration minutes. With ``fuse_leads`` > 1 each adapted
    model is also scored averaging that many leads (``"after_fused"``); it
    adapts on its first lead unless a variant sets ``all_leads``.
    """
    from cardioliquid.training.adapt import adapt_to_patient

    before, after = {}, [{} for _ in variants]
    after_fused: list[dict[str, Any]] = [{} for _ in variants]
    # The copy that adapts knows the leads it will average (``all_leads`` reads them).
    source = _fusing(loaded, fuse_leads) if fuse_leads > 1 else loaded
    before_fused = {}
    for name, path in paths.items():
        rec = load_ecg(path)
        before[name] = _record_confusions(loaded, path, minutes * 60.0)
        if fuse_leads > 1:
            before_fused[name] = _record_confusions(source, path, minutes * 60.0)
        for i, kw in enumerate(variants):
            adapted = adapt_to_patient(source, rec, minutes, **kw)
            after[i][name] = _record_confusions(_fusing(adapted, 1), path, minutes * 60.0)
            if fuse_leads > 1:
                after_fused[i][name] = _record_confusions(adapted, path, minutes * 60.0)
    out: dict[str, Any] = {"before": before, "after": after}
    if fuse_leads > 1:
        out["after_fused"] = after_fused
        out["before_fused"] = before_fused
    return out


def pooled(records: dict[str, dict[str, list]], gate: str,
           database: str | None = None) -> np.ndarray:
    """Sum of the records' confusions (``gate``: ``"gate_on"``/``"gate_off"``), one or all DBs."""
    k = len(CLASSES)
    conf = np.zeros((k, k), dtype=np.int64)
    for name, c in records.items():
        if database is None or name.startswith(f"{database}/"):
            conf += np.asarray(c[gate], dtype=np.int64)
    return conf


def summarise(records: dict[str, dict[str, list]]) -> dict[str, Any]:
    """Pooled and per-database scores of per-record confusions, per AF-gate setting.

    Entries made before the AF-specific gate existed have no ``gate_nn`` confusions.
    """
    out: dict[str, Any] = {}
    for gate in (g for g in GATES if all(g in c for c in records.values())):
        out[gate] = {"pooled": scores(pooled(records, gate))}
        for db in DATABASES:
            conf = pooled(records, gate, db)
            if conf.sum():
                out[gate][db] = scores(conf)
    return out


def scores(conf: np.ndarray) -> dict[str, Any]:
    """Per-class Se, +P, F1 (%) and accuracy of a confusion matrix (rows = reference)."""
    out: dict[str, Any] = {}
    for i, name in enumerate(CLASSES):
        tp, ref, called = conf[i, i], conf[i].sum(), conf[:, i].sum()
        se = tp / ref if ref else float("nan")
        ppv = tp / called if called else float("nan")
        f1 = 2 * tp / (ref + called) if ref + called else float("nan")
        out[name] = {"se": round(100 * se, 1), "ppv": round(100 * ppv, 1),
                     "f1": round(100 * f1, 1), "n": int(ref)}
    out["accuracy"] = round(100 * np.trace(conf) / conf.sum(), 2)
    out["key_f1"] = round((out["S"]["f1"] + out["V"]["f1"]) / 2, 1)
    # Normal beats called anything else: the false alarms a clinician sees.
    out["n_false_alarm_pct"] = round(100 * (conf[0].sum() - conf[0, 0]) / conf[0].sum(), 2)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    overrides: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, overrides = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", action="append", default=[], metavar="NAME=CONFIG",
                        help="a recipe to cross-validate (repeatable); all folds and seeds of "
                             "every recipe share one pool of --jobs processes")
    parser.add_argument("--name", help="key of a single recipe (with --config)")
    parser.add_argument("--config", default="pipelines/configs/arrhythmia.yaml")
    parser.add_argument("--seeds", default="0",
                        help="comma list; seed k > 0 is stored as NAME_s<k> (default 0)")
    parser.add_argument("--databases", default=",".join(DATABASES),
                        help="patient folds to hold out: mitdb (DS1) and/or svdb")
    parser.add_argument("--table-only", action="store_true",
                        help="print the table and redraw the plot from --out, train nothing")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2, help="folds trained at once")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per job")
    parser.add_argument("--out", default="pipelines/results/arrhythmia_cv_xdb.json")
    parser.add_argument("--records-of", metavar="NAME",
                        help="with --table-only: also print entry NAME's held-out records")
    parser.add_argument("--adapt-minutes", type=float, default=0.0,
                        help="also score patient-adaptive mode: adapt each held-out record on "
                             "its first M minutes and score the rest (0: off)")
    parser.add_argument("--adapt-kwargs", type=json.loads, default=[{}],
                        help="JSON keyword arguments of training.adapt.adapt_to_patient, or a "
                             "list of them: each variant adapts the same fold models")
    parser.add_argument("--other-lead", action="store_true",
                        help="also score the held-out records on their second lead")
    parser.add_argument("--fuse-leads", type=int, default=1, metavar="N",
                        help="also score the held-out records averaging the probabilities of "
                             "N listed leads (preprocessing.fuse_leads; 1: off)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.table_only:
        results = json.loads(out.read_text())
        print_table(results)
        plot(results, out.with_suffix(".png"))
        if args.records_of:
            if args.records_of not in results:
                parser.error(f"--records-of: no entry {args.records_of!r} in {out}")
            print_records(results[args.records_of])
        return 0
    recipes = [tuple(r.split("=", 1)) for r in args.recipe]
    if args.name:
        recipes.append((args.name, args.config))
    if not recipes or any(len(r) != 2 for r in recipes):
        parser.error("give --recipe NAME=CONFIG (or --name with --config) unless --table-only")
    databases = tuple(d for d in args.databases.split(",") if d)
    unknown = sorted(set(databases) - set(DATABASES))
    if unknown or not databases:
        parser.error(f"--databases: expected some of {list(DATABASES)}, got {args.databases!r}")
    seeds = [int(s) for s in args.seeds.split(",")]

    from cardioliquid._atomic import atomic_write_text
    from cardioliquid.data.splits import DS1_FOLDS

    variants = args.adapt_kwargs if isinstance(args.adapt_kwargs, list) else [args.adapt_kwargs]
    t0 = time.perf_counter()
    runs = []  # (entry name, config, overrides)
    for name, config in recipes:
        for seed in seeds:
            extra = [] if seed == 0 else ["--seed_everything", str(seed),
                                          "--data.init_args.seed", str(seed)]
            runs.append((name if seed == 0 else f"{name}_s{seed}", config, overrides + extra))
    n = len(DS1_FOLDS)
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        jobs = {(entry, f): pool.submit(_fold_job, config, ov, f, args.epochs, args.threads,
                                        databases, args.adapt_minutes, variants,
                                        args.other_lead, args.fuse_leads)
                for entry, config, ov in runs for f in range(n)}
        done = {key: job.result() for key, job in jobs.items()}
    results = json.loads(out.read_text()) if out.is_file() else {}
    for entry_name, config, ov in runs:
        folds = [done[(entry_name, f)] for f in range(n)]
        records = {r: c for f in folds for r, c in f["records"].items()}
        summary = summarise(records)
        entry = {
            "config": config, "overrides": ov, "epochs": args.epochs,
            "databases": list(databases), "scores": summary,
            "pooled": summary["gate_on"]["pooled"],
            "folds": [{k: f[k] for k in ("fold", "patients", "train_seconds")} for f in folds],
            "records": records,
        }
        if args.other_lead:
            other = {r: c for f in folds for r, c in f["other_lead"]["records"].items()}
            entry["other_lead"] = {"scores": summarise(other), "records": other}
        if args.fuse_leads > 1:
            fused = {r: c for f in folds for r, c in f["fused"]["records"].items()}
            entry["fused"] = {"leads": args.fuse_leads, "scores": summarise(fused),
                              "records": fused}
        if args.adapt_minutes > 0:
            before = {r: c for f in folds for r, c in f["adaptive"]["before"].items()}
            entry["adaptive"] = {"minutes": args.adapt_minutes,
                                 "before": {"scores": summarise(before)}, "variants": []}
            if args.fuse_leads > 1 and all("before_fused" in f["adaptive"] for f in folds):
                bf = {r: c for f in folds for r, c in f["adaptive"]["before_fused"].items()}
                entry["adaptive"]["before"]["fused"] = {"leads": args.fuse_leads,
                                                        "scores": summarise(bf), "records": bf}
            for i, kw in enumerate(variants):
                after = {r: c for f in folds for r, c in f["adaptive"]["after"][i].items()}
                variant = {"adapt_kwargs": kw, "scores": summarise(after), "records": after}
                if args.fuse_leads > 1:
                    fa = {r: c for f in folds
                          for r, c in f["adaptive"]["after_fused"][i].items()}
                    variant["fused"] = {"leads": args.fuse_leads, "scores": summarise(fa),
                                        "records": fa}
                entry["adaptive"]["variants"].append(variant)
        results[entry_name] = entry
    results.setdefault("_wall_seconds", {})[",".join(n for n, _, _ in runs)] = round(
        time.perf_counter() - t0, 1)
    atomic_write_text(out, dumps(results))
    print_table(results)
    plot(results, out.with_suffix(".png"))
    return 0


def dumps(results: dict[str, Any]) -> str:
    """JSON with one line per list of numbers (confusion rows), so the file stays readable."""
    text = json.dumps(results, indent=1)
    # A raw newline never occurs inside a JSON string, so "[" + newline opens a list.
    flat = re.sub(r"\[\n\s*([-0-9.eE+,\s]+?)\n\s*\]",
                  lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]",
                  text)
    return flat + "\n"


def recipe_seeds(results: dict[str, Any]) -> dict[str, list[str]]:
    """Entries grouped by recipe: ``NAME``, ``NAME_s1``, ``NAME_s2`` are seeds of ``NAME``.

    A ``_s<k>`` entry whose seed-0 entry is missing forms its own recipe.
    """
    names = list(_entries(results))
    groups: dict[str, list[str]] = {}
    for name in names:
        m = re.fullmatch(r"(.+)_s(\d+)", name)
        base = m.group(1) if m and m.group(1) in names else name
        groups.setdefault(base, []).append(name)
    return groups


def best_settings(results: dict[str, Any]) -> list[tuple[str, str, bool, float]]:
    """Each recipe at its best scoring setting, best recipe first.

    Returns ``(recipe, gate, fused, mean)``: the gate setting and lead count (one lead, or
    its leads fused where every seed was scored so) with the highest seed-mean pooled key
    F1, and that mean.
    """
    entries, best = _entries(results), []
    for base, names in recipe_seeds(results).items():
        options = []
        for fused in (False, True):
            if fused and not all("fused" in entries[n] for n in names):
                continue
            for gate in _scored(entries[names[0]], fused):
                f1 = [_scored(entries[n], fused).get(gate, {}).get("pooled", {})
                      .get("key_f1", np.nan) for n in names]
                if not np.all(np.isnan(f1)):
                    options.append((float(np.nanmean(f1)), gate, fused))
        if options:
            mean, gate, fused = max(options, key=lambda o: o[0])
            best.append((base, gate, fused, mean))
    return sorted(best, key=lambda b: -b[3])


def plot(results: dict[str, Any], path: Path) -> None:
    """Each recipe at its best setting, best first: pooled held-out key F1 (seed mean bars,
    seeds as dots) beside each database's own key F1 under the same setting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cardioliquid._atomic import atomic_write

    entries = _entries(results)
    groups = recipe_seeds(results)
    rows = best_settings(results)
    height = 0.24 * len(rows) + 1.8
    fig, axes = plt.subplots(1, 3, figsize=(12, height), sharey=True)
    colors = {"gate_on": "tab:blue", "gate_off": "tab:orange", "gate_nn": "tab:green",
              "gate_atrial": "tab:purple", "gate_nn_atrial": "tab:red"}
    # A row's colour is its gate's rule: "gate_atrial_max" is a gate_atrial.
    families = [next((g for g in sorted(colors, key=len, reverse=True) if gate.startswith(g)),
                     gate) for _, gate, _, _ in rows]
    seen: list[float] = []
    for ax, where in zip(axes, ("pooled", *DATABASES), strict=True):
        means = []
        for i, (base, gate, fused, _) in enumerate(rows):
            f1 = [_scored(entries[n], fused)[gate].get(where, {}).get("key_f1", np.nan)
                  for n in groups[base]]
            color = colors.get(families[i], "tab:gray")
            means.append(float(np.nanmean(f1)))
            ax.barh(i, means[-1], 0.7, color=color, alpha=0.45)
            ax.plot(f1, [i] * len(f1), "o", color=color, markersize=3)
            seen.extend(v for v in f1 if np.isfinite(v))
        if means:  # the best recipe's seed mean, to read every other bar against
            ax.axvline(means[0], color="black", lw=0.8, ls="--")
        ax.set_title({"pooled": "all held-out beats", "mitdb": "DS1 patients",
                      "svdb": "SVDB patients"}[where], fontsize=9)
        ax.set_xlabel("key F1 (%), mean of SVEB and VEB F1", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    if seen:  # the range the scores span: a few points apart matter here
        for ax in axes:
            ax.set_xlim(5 * np.floor(min(seen) / 5 - 0.2), min(100.0, max(seen) + 2))
    axes[0].set_yticks(np.arange(len(rows)),
                       [f"{b} ({GATE_SHORT.get(g, g)}, "
                        + (f"{entries[b]['fused']['leads']} leads" if fused else "1 lead")
                        + f", {len(groups[b])} seeds)" for b, g, fused, _ in rows], fontsize=7)
    axes[0].set_ylim(len(rows) - 0.5, -0.5)
    shown = [g for g in colors if g in families]
    axes[-1].legend([plt.Rectangle((0, 0), 1, 1, color=colors[g], alpha=0.45) for g in shown],
                    [GATE_LONG[g] for g in shown], loc="lower right", fontsize=7)
    fig.suptitle("Arrhythmia recipes at their best setting (--table-only lists every setting), "
                 "patient-grouped cross-validation over DS1 and SVDB\n"
                 "bar: seed mean, dots: seeds, dashed: the best recipe's mean; colour: the "
                 "AF gate's rule", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.75 / height))
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def _scored(entry: dict[str, Any], fused: bool) -> dict[str, Any]:
    """An entry's scores per gate setting: one lead's, or with its leads fused."""
    return entry["fused"]["scores"] if fused else entry["scores"]


GATES = ("gate_on", "gate_off", "gate_nn", "gate_atrial", "gate_nn_atrial",
         *(f"gate_nn_atrial_s{t}" for t in S_FLOORS),
         *(f"{g}_{rule}" for rule in ATRIAL_LEAD_RULES for g in ("gate_atrial", "gate_nn_atrial")),
         "gate_calibrated")
GATE_SHORT = {"gate_on": "on", "gate_off": "off", "gate_nn": "nn", "gate_atrial": "at",
              "gate_nn_atrial": "nn+at", **{f"gate_nn_atrial_s{t}": f"nn+at,S>={t}"
                                            for t in S_FLOORS},
              **{f"{g}_{rule}": f"{short},P:{rule}" for rule in ATRIAL_LEAD_RULES
                 for g, short in (("gate_atrial", "at"), ("gate_nn_atrial", "nn+at"))},
              "gate_calibrated": "calibrated"}
GATE_LONG = {"gate_on": "AF gate", "gate_off": "no gate", "gate_nn": "AF-specific gate",
             "gate_atrial": "AF gate without P waves",
             "gate_nn_atrial": "AF-specific gate without P waves",
             **{f"gate_nn_atrial_s{t}": f"AF-specific gate without P waves, S >= 0.{t // 10}"
                for t in S_FLOORS},
             **{f"{g}_{rule}": f"{long}, P waves of both leads ({rule})"
                for rule in ATRIAL_LEAD_RULES
                for g, long in (("gate_atrial", "AF gate without P waves"),
                                ("gate_nn_atrial", "AF-specific gate without P waves"))},
             "gate_calibrated": "the gate the calibration beats choose"}


def _entries(results: dict[str, Any]) -> dict[str, Any]:
    """The recipes of a results file (keys starting with ``_`` are notes)."""
    return {k: v for k, v in results.items() if not k.startswith("_")}


def print_records(entry: dict[str, Any], gate: str = "gate_on") -> None:
    """Each held-out record of one entry: its S and V beats found, and N beats miscalled."""
    rows = {r: np.asarray(c[gate]) for r, c in entry["records"].items()}
    s, v = CLASSES.index("S"), CLASSES.index("V")
    print(f"\n{'record':<11} {'beats':>6} {'S':>5} {'S found':>8} {'called S':>9} "
          f"{'V':>5} {'V found':>8} {'called V':>9} {'N->S':>5} {'N->V':>5}   ({gate})")
    for record, c in sorted(rows.items()):
        print(f"{record:<11} {c.sum():6d} {c[s].sum():5d} {c[s, s]:8d} {c[:, s].sum():9d} "
              f"{c[v].sum():5d} {c[v, v]:8d} {c[:, v].sum():9d} {c[0, s]:5d} {c[0, v]:5d}")


def _row(label: str, sc: dict[str, Any]) -> str:
    p = sc["pooled"]
    per_db = "".join(
        f" {sc[db]['key_f1']:6.1f} {sc[db]['S']['se']:5.1f}/{sc[db]['S']['ppv']:5.1f}"
        if db in sc else f" {'-':>6} {'-':>11}" for db in DATABASES)
    return (f"{label:<30} {p['key_f1']:6.1f} {p['S']['se']:6.1f} {p['S']['ppv']:6.1f} "
            f"{p['V']['se']:6.1f} {p['V']['ppv']:6.1f} {p['n_false_alarm_pct']:6.2f}{per_db}")


def print_table(results: dict[str, Any]) -> None:
    """One row per recipe and AF-gate setting: pooled and per-database held-out scores."""
    head = (f"{'recipe (gate)':<30} {'keyF1':>6} {'S Se':>6} {'S +P':>6} {'V Se':>6} "
            f"{'V +P':>6} {'N->x%':>6}" + "".join(f" {db + ' kF1':>6} {'S Se/+P':>11}"
                                                  for db in DATABASES))
    print(head)
    print("-" * len(head))
    entries = _entries(results)
    for name, e in entries.items():
        for gate in (g for g in GATES if g in e["scores"]):
            print(_row(f"{name} ({GATE_SHORT[gate]})", e["scores"][gate]))
    seeded = {b: g for b, g in recipe_seeds(results).items() if len(g) >= 3}
    if seeded:
        print("\nseed means of pooled key F1 (recipes with 3 or more seeds; the rule compares "
              "these)")
        for base, group in seeded.items():
            for gate in (g for g in GATES if all(g in entries[n]["scores"] for n in group)):
                f1 = [entries[n]["scores"][gate]["pooled"]["key_f1"] for n in group]
                per_db = {db: np.mean([entries[n]["scores"][gate][db]["key_f1"] for n in group])
                          for db in DATABASES if db in entries[group[0]]["scores"][gate]}
                svdb_s = [entries[n]["scores"][gate].get("svdb", {}).get("S", {}) for n in group]
                s_txt = ""
                if all(svdb_s):
                    s_txt = (f"   svdb SVEB Se/+P {np.mean([x['se'] for x in svdb_s]):5.1f}/"
                             f"{np.mean([x['ppv'] for x in svdb_s]):5.1f}")
                print(f"{base + f' ({GATE_SHORT[gate]})':<34} "
                      f"{np.mean(f1):5.1f}   seeds " + " / ".join(f"{v:.1f}" for v in f1)
                      + "".join(f"   {db} {v:5.1f}" for db, v in per_db.items()) + s_txt)
    other = {n: e["other_lead"]["scores"] for n, e in entries.items() if "other_lead" in e}
    if other:
        print("\nheld-out records on their second lead")
        for name, sc in other.items():
            for gate in (g for g in GATES if g in sc):
                print(_row(f"{name} ({GATE_SHORT[gate]})", sc[gate]))
    print_fused_seed_means(results)
    adaptive = {n: e["adaptive"] for n, e in entries.items() if "adaptive" in e}
    if adaptive:
        print("\npatient-adaptive (beats after the calibration minutes; before -> after)")
        for name, a in adaptive.items():
            print(_row(f"{name} unadapted (on)", a["before"]["scores"]["gate_on"]))
            for v in a["variants"]:
                print(_row(f"  adapted {json.dumps(v['adapt_kwargs'])[:18]}",
                           v["scores"]["gate_on"]))
        # The decisions v7 and v8.1 ship; v9.1's (both leads' P waves).
        for gate in ("gate_off", "gate_nn_atrial", "gate_atrial_max"):
            print_adaptive_seed_means(results, gate)


def _adaptive_variant_rows(entry: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(label, scores) of an entry's unadapted model and of each adaptation variant."""
    a = entry["adaptive"]
    rows = [("unadapted", a["before"]["scores"])]
    if "fused" in a["before"]:
        rows.append((f"unadapted, {a['before']['fused']['leads']} leads fused",
                     a["before"]["fused"]["scores"]))
    for v in a["variants"]:
        label = json.dumps(v["adapt_kwargs"], sort_keys=True)
        rows.append((label, v["scores"]))
        if "fused" in v:
            rows.append((f"{label}, {v['fused']['leads']} leads fused", v["fused"]["scores"]))
    return rows


def print_adaptive_seed_means(results: dict[str, Any], gate: str = "gate_off") -> None:
    """Seed means of the patient-adaptive scores, per adaptation variant (under ``gate``):
    the figures an adaptation re-check compares."""
    entries = _entries(results)
    for base, group in recipe_seeds(results).items():
        if len(group) < 3 or not all("adaptive" in entries[n] for n in group):
            continue
        # Rows scored before this gate setting existed, or on one lead where the gate reads
        # both, are left out.
        rows = [[(label, sc) for label, sc in _adaptive_variant_rows(entries[n]) if gate in sc]
                for n in group]
        if not rows[0]:
            continue
        if len({len(r) for r in rows}) != 1:
            continue
        print(f"\npatient-adaptive seed means, {base} ({GATE_SHORT[gate]}): key F1, "
              "per database, SVEB and VEB Se/+P")
        for i, (label, _) in enumerate(rows[0]):
            sc = [r[i][1][gate] for r in rows]

            def mean(*path: str, sc: list = sc) -> float:
                return float(np.mean([_dig(x, *path) for x in sc]))

            print(f"  {mean('pooled', 'key_f1'):5.1f}   seeds "
                  + " / ".join(f"{_dig(x, 'pooled', 'key_f1'):.1f}" for x in sc)
                  + "".join(f"   {db} {mean(db, 'key_f1'):5.1f}" for db in DATABASES
                            if db in sc[0])
                  + f"   S {mean('pooled', 'S', 'se'):5.1f}/{mean('pooled', 'S', 'ppv'):5.1f}"
                  + f"   V {mean('pooled', 'V', 'se'):5.1f}/{mean('pooled', 'V', 'ppv'):5.1f}"
                  + f"   {label}")


def print_fused_seed_means(results: dict[str, Any]) -> None:
    """Seed means of the held-out scores with several leads fused, beside one lead's."""
    entries = _entries(results)
    for base, group in recipe_seeds(results).items():
        if len(group) < 3 or not all("fused" in entries[n] for n in group):
            continue
        leads = entries[group[0]]["fused"]["leads"]
        print(f"\nseed means, {base}: one lead -> {leads} leads fused (key F1, per database, "
              "SVEB and VEB Se/+P)")
        for gate in (g for g in GATES if g in entries[group[0]]["fused"]["scores"]):
            # Settings that read every lead's evidence (round 24) have no one-lead row.
            rows = [(label, [_scored(entries[n], fused)[gate] for n in group])
                    for label, fused in (("1 lead", False), (f"{leads} leads", True))
                    if gate in _scored(entries[group[0]], fused)]
            for label, sc in rows:
                def mean(*path: str, sc: list = sc) -> float:
                    return float(np.mean([_dig(x, *path) for x in sc]))

                print(f"  {GATE_SHORT[gate] + ', ' + label:<28} {mean('pooled', 'key_f1'):5.2f}"
                      "   seeds " + " / ".join(f"{_dig(x, 'pooled', 'key_f1'):.1f}" for x in sc)
                      + "".join(f"   {db} {mean(db, 'key_f1'):5.2f}" for db in DATABASES
                                if db in sc[0])
                      + f"   S {mean('pooled', 'S', 'se'):5.1f}/{mean('pooled', 'S', 'ppv'):5.1f}"
                      + f"   V {mean('pooled', 'V', 'se'):5.1f}/{mean('pooled', 'V', 'ppv'):5.1f}")


def _dig(d: dict[str, Any], *keys: str) -> float:
    for k in keys:
        d = d[k]
    return float(d)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
