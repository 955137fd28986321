"""Leave-patients-out cross-validation of an arrhythmia recipe on DS1 only.

Model selection for the shipped ``arrhythmia`` model: each recipe (the YAML
config plus LightningCLI-style overrides) is trained on three of the four
DS1 folds of :data:`cardioliquid.data.splits.DS1_FOLDS` and scored on the
fourth, for a fixed number of epochs (no early stopping or checkpoint choice
on the held-out patients). The predictions of the four held-out folds are
pooled: every DS1 beat is classified by a model that never saw its patient.
DS2 is not read.

The score is the pooled mean F1 of SVEB and VEB (beat level, reference beat
positions): unlike per-fold validation it punishes normal beats called V or S
on patients the model has not seen, which is what inter-patient testing does.

Examples
--------
::

    export CARDIOLIQUID_DATA_MIRROR=/path/to/shared/data
    python pipelines/arrhythmia_cv.py --name v3-recipe --epochs 10
    python pipelines/arrhythmia_cv.py --name capped -- --model.class_weight_max 20

Results are merged into ``pipelines/results/arrhythmia_cv.json`` (one entry per
``--name``), printed as a table and drawn in ``arrhythmia_cv.png`` beside it
(``--table-only`` redraws both from the JSON without training).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

CLASSES = ["N", "S", "V", "F", "Q"]


def _fold_job(config: str, overrides: list[str], fold: int, epochs: int,
              threads: int, adapt_minutes: float = 0.0,
              adapt_variants: list[dict[str, Any]] | None = None,
              other_lead: bool = False) -> dict[str, Any]:
    """Train on DS1 minus fold ``fold`` and predict that fold (and adapt to it).

    With ``other_lead`` the held-out records are also scored on their second
    listed lead (V1, V2, V4 or V5 in MIT-BIH), a lead the shipped model does
    not read: how the recipe holds on other leads, as other databases record.
    """
    import lightning as L
    import torch
    from lightning.pytorch.callbacks import Checkpoint, EarlyStopping, ModelSummary, ProgressBar

    from cardioliquid.data.splits import DS1_FOLDS
    from cardioliquid.training.cli import TrainCLI
    from cardioliquid.training.module import LiquidClassifierModule

    torch.set_num_threads(threads)
    held_out = list(DS1_FOLDS[fold])
    args = ["--config", config, *overrides,
            "--data.init_args.train_records", "DS1",
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
    trainer.fit(model, dm)
    seconds = time.perf_counter() - t0
    from cardioliquid.io import load_ecg
    from cardioliquid.signal.windows import beat_windows

    model.eval()
    k = len(CLASSES)
    conf = np.zeros((k, k), dtype=np.int64)
    per_record = {}
    # The held-out records one by one (the same beats as dm.val_set), so the
    # pooled matrix comes with each record's share of it.
    for record in dm.split_records()["val"]:
        rec = load_ecg(dm.root / record)
        w = beat_windows(rec, dm.preprocessing)
        keep = np.asarray(w.labels) >= 0
        rec_conf = np.zeros((k, k), dtype=np.int64)
        _add_predictions(rec_conf, model, w, keep, rec.fs, dm.preprocessing)
        per_record[record] = rec_conf.tolist()
        conf += rec_conf
    out = {"fold": fold, "patients": held_out, "confusion": conf.tolist(),
           "records": per_record, "train_seconds": round(seconds, 1)}
    if other_lead:
        out["other_lead"] = _other_lead_confusions(model, dm)
    if adapt_minutes > 0:
        out["adaptive"] = _adaptive_confusions(model, dm, adapt_minutes, adapt_variants or [{}])
    return out


def _other_lead_confusions(module: Any, dm: Any) -> dict[str, Any]:
    """The held-out records scored on their second listed lead (see :func:`_fold_job`)."""
    from dataclasses import replace

    from cardioliquid.io import load_ecg
    from cardioliquid.signal.leads import listed_leads
    from cardioliquid.signal.windows import beat_windows

    k = len(CLASSES)
    conf = np.zeros((k, k), dtype=np.int64)
    leads = {}
    for record in dm.split_records()["val"]:
        rec = load_ecg(dm.root / record)
        others = listed_leads(rec.channel_names, dm.preprocessing.lead_preference)[1:]
        if not others:
            continue
        prep = replace(dm.preprocessing, lead_preference=others[:1])
        w = beat_windows(rec, prep)
        _add_predictions(conf, module.model.eval(), w, np.asarray(w.labels) >= 0, rec.fs, prep)
        leads[record] = others[0]
    return {"confusion": conf.tolist(), "leads": leads}


def _adaptive_confusions(module: Any, dm: Any, minutes: float,
                         variants: list[dict[str, Any]]) -> dict[str, Any]:
    """Patient-adaptive mode on the held-out records, as ``evaluate --calibrate-minutes``.

    Each held-out record adapts a copy of the fold's model on its first
    ``minutes`` of reference labels, once per keyword set of ``variants``
    (arguments of :func:`adapt_to_patient`); the unadapted model (``"before"``)
    and every adapted one (``"after"``, in order) are scored on the same beats,
    those after the calibration minutes.
    """
    from cardioliquid.io import load_ecg
    from cardioliquid.models.checkpoint import LoadedModel
    from cardioliquid.signal.windows import beat_windows
    from cardioliquid.training.adapt import adapt_to_patient

    k = len(CLASSES)
    before = np.zeros((k, k), dtype=np.int64)
    after = [np.zeros((k, k), dtype=np.int64) for _ in variants]
    hp = module.hparams
    base = LoadedModel(module.model.eval(), dm.preprocessing, hp["model_name"],
                       dict(hp["model_kwargs"]))
    for record in dm.split_records()["val"]:
        rec = load_ecg(dm.root / record)
        w = beat_windows(rec, dm.preprocessing)
        keep = (np.asarray(w.sample) >= minutes * 60.0 * rec.fs) & (np.asarray(w.labels) >= 0)
        models = [base] + [adapt_to_patient(base, rec, minutes, **kw) for kw in variants]
        for loaded, conf in zip(models, [before, *after], strict=True):
            _add_predictions(conf, loaded.model, w, keep, rec.fs, dm.preprocessing)
    return {"before": before.tolist(), "after": [c.tolist() for c in after]}


def _add_predictions(conf: np.ndarray, model: Any, w: Any, keep: np.ndarray, fs: float,
                     prep: Any, batch: int = 4096) -> None:
    """Add ``model``'s calls on the ``keep`` beats of windows ``w`` to ``conf``.

    Calls are settled as scoring settles them: with the preprocessing's AF
    gate, S probability of beats in AF rhythm (judged on all the record's
    beats, around each one) moves to N before the argmax.
    """
    import torch

    from cardioliquid.scoring.inference import sveb_to_normal_in_af
    from cardioliquid.signal.rhythm import af_beats

    x = torch.from_numpy(np.asarray(w.x, dtype=np.float32)[keep])
    feats = np.asarray(w.features, dtype=np.float32)[keep]
    f = torch.from_numpy(feats) if feats.shape[-1] else None
    with torch.no_grad():
        logits = torch.cat([model(x[i:i + batch], None if f is None else f[i:i + batch])
                            for i in range(0, len(x), batch)])
    proba = torch.softmax(logits, -1).numpy()
    if prep.af_gate:
        proba = sveb_to_normal_in_af(proba, af_beats(w.sample, fs)[keep], CLASSES)
    np.add.at(conf, (np.asarray(w.labels)[keep], proba.argmax(-1)), 1)


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
    parser.add_argument("--name", help="key of this recipe in the JSON")
    parser.add_argument("--table-only", action="store_true",
                        help="print the table and redraw the plot from --out, train nothing")
    parser.add_argument("--config", default="pipelines/configs/arrhythmia.yaml")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2, help="folds trained at once")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per job")
    parser.add_argument("--out", default="pipelines/results/arrhythmia_cv.json")
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
    if not args.name:
        parser.error("--name is required unless --table-only")

    from cardioliquid._atomic import atomic_write_text
    from cardioliquid.data.splits import DS1_FOLDS

    variants = args.adapt_kwargs if isinstance(args.adapt_kwargs, list) else [args.adapt_kwargs]
    t0 = time.perf_counter()
    n = len(DS1_FOLDS)
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        jobs = [pool.submit(_fold_job, args.config, overrides, f, args.epochs, args.threads,
                            args.adapt_minutes, variants, args.other_lead)
                for f in range(n)]
        folds = [j.result() for j in jobs]
    pooled = sum(np.asarray(f["confusion"]) for f in folds)
    entry = {
        "config": args.config, "overrides": overrides, "epochs": args.epochs,
        "pooled": scores(pooled), "confusion": pooled.tolist(),
        "folds": [{**f, "scores": scores(np.asarray(f["confusion"]))} for f in folds],
        "wall_seconds": round(time.perf_counter() - t0, 1),
    }
    if args.other_lead:
        conf = sum(np.asarray(f["other_lead"]["confusion"]) for f in folds)
        entry["other_lead"] = {"pooled": scores(conf), "confusion": conf.tolist()}
    if args.adapt_minutes > 0:
        conf = sum(np.asarray(f["adaptive"]["before"]) for f in folds)
        entry["adaptive"] = {"minutes": args.adapt_minutes,
                             "before": {"pooled": scores(conf), "confusion": conf.tolist()},
                             "variants": []}
        for i, kw in enumerate(variants):
            conf = sum(np.asarray(f["adaptive"]["after"][i]) for f in folds)
            entry["adaptive"]["variants"].append(
                {"adapt_kwargs": kw, "pooled": scores(conf), "confusion": conf.tolist()})
    results = json.loads(out.read_text()) if out.is_file() else {}
    results[args.name] = entry
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


def plot(results: dict[str, Any], path: Path) -> None:
    """Pooled held-out key F1 per recipe in the order tried: seed mean, each seed a dot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cardioliquid._atomic import atomic_write

    entries = _entries(results)
    groups = recipe_seeds(results)
    names = list(groups)
    y = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(7, 0.2 * len(names) + 1.4))
    best = max(entries[n]["pooled"]["key_f1"] for g in groups.values() for n in g)
    for i, name in enumerate(names):
        f1 = [entries[n]["pooled"]["key_f1"] for n in groups[name]]
        color = "tab:blue" if len(f1) >= 3 else "tab:gray"
        ax.barh(i, np.mean(f1), 0.7, color=color, alpha=0.45)
        ax.plot(f1, [i] * len(f1), "o", color=color, markersize=3)
    ax.set_yticks(y, [f"{n} ({len(groups[n])})" for n in names], fontsize=6)
    ax.set_ylim(len(names) - 0.5, -0.5)  # first tried on top
    ax.set_xlabel("key F1 (%: mean of SVEB and VEB F1), DS1 beats pooled over held-out folds; "
                  "bar = seed mean, dots = seeds", fontsize=7)
    ax.set_xlim(20, max(75.0, 5 * np.ceil(best / 5) + 2))
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("Arrhythmia recipes, DS1 leave-patients-out cross-validation "
                 "(blue: 3 or more seeds)", fontsize=9)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    plt.close(fig)


def _entries(results: dict[str, Any]) -> dict[str, Any]:
    """The recipes of a results file (keys starting with ``_`` are notes)."""
    return {k: v for k, v in results.items() if not k.startswith("_")}


def print_records(entry: dict[str, Any]) -> None:
    """Each held-out record of one entry: its S and V beats found, and N beats miscalled."""
    rows = {r: np.asarray(c) for f in entry["folds"] for r, c in f.get("records", {}).items()}
    if not rows:
        print("\n(no per-record results in this entry: it predates them)")
        return
    s, v = CLASSES.index("S"), CLASSES.index("V")
    print(f"\n{'record':<7} {'beats':>6} {'S':>5} {'S found':>8} {'called S':>9} "
          f"{'V':>5} {'V found':>8} {'called V':>9} {'N->S':>5} {'N->V':>5}")
    for record, c in sorted(rows.items()):
        print(f"{record:<7} {c.sum():6d} {c[s].sum():5d} {c[s, s]:8d} {c[:, s].sum():9d} "
              f"{c[v].sum():5d} {c[v, v]:8d} {c[:, v].sum():9d} {c[0, s]:5d} {c[0, v]:5d}")


def print_table(results: dict[str, Any]) -> None:
    """One row per recipe: pooled held-out-patient scores on DS1."""
    head = f"{'recipe':<22} {'keyF1':>6} {'S Se':>6} {'S +P':>6} {'V Se':>6} {'V +P':>6} " \
           f"{'N->x%':>6} {'acc':>6} {'fold keyF1':>24}"
    print(head)
    print("-" * len(head))
    for name, e in _entries(results).items():
        p = e["pooled"]
        per_fold = " ".join(f"{f['scores']['key_f1']:5.1f}" for f in e["folds"])
        print(f"{name:<22} {p['key_f1']:6.1f} {p['S']['se']:6.1f} {p['S']['ppv']:6.1f} "
              f"{p['V']['se']:6.1f} {p['V']['ppv']:6.1f} {p['n_false_alarm_pct']:6.2f} "
              f"{p['accuracy']:6.2f} {per_fold:>24}")
    seeded = {b: g for b, g in recipe_seeds(results).items() if len(g) >= 3}
    if seeded:
        print("\nseed means (recipes with 3 or more seeds; the selection rule compares these)")
        for base, group in seeded.items():
            f1 = [results[n]["pooled"]["key_f1"] for n in group]
            print(f"{base:<28} {np.mean(f1):5.1f}   seeds " + " / ".join(f"{v:.1f}" for v in f1))
    other = {n: e["other_lead"]["pooled"] for n, e in _entries(results).items()
             if "other_lead" in e}
    if other:
        print("\nheld-out records on their second lead (V1, V2, V4 or V5; the model reads MLII)")
        for name, o in other.items():
            print(f"{name:<22} keyF1 {o['key_f1']:5.1f}   S {o['S']['se']:5.1f}/"
                  f"{o['S']['ppv']:5.1f}   V {o['V']['se']:5.1f}/{o['V']['ppv']:5.1f}   "
                  f"acc {o['accuracy']:6.2f}")
        bases = {b: g for b, g in recipe_seeds(results).items()
                 if len(g) >= 3 and all(n in other for n in g)}
        for base, group in bases.items():
            f1 = [other[n]["key_f1"] for n in group]
            print(f"{base:<28} second-lead seed mean {np.mean(f1):5.1f}   seeds "
                  + " / ".join(f"{v:.1f}" for v in f1))
    adaptive = {n: e["adaptive"] for n, e in _entries(results).items() if "adaptive" in e}
    if adaptive:
        print("\npatient-adaptive (beats after the calibration minutes; before -> after adapting)")
        for name, a in adaptive.items():
            b = a["before"]["pooled"]
            print(f"{name:<22} unadapted keyF1 {b['key_f1']:5.1f}   S {b['S']['se']:5.1f}/"
                  f"{b['S']['ppv']:5.1f}   V {b['V']['se']:5.1f}/{b['V']['ppv']:5.1f}")
            for v in a["variants"]:
                c = v["pooled"]
                print(f"{'':<22}   adapted keyF1 {c['key_f1']:5.1f}   S {c['S']['se']:5.1f}/"
                      f"{c['S']['ppv']:5.1f}   V {c['V']['se']:5.1f}/{c['V']['ppv']:5.1f}   "
                      f"{json.dumps(v['adapt_kwargs'])}")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
