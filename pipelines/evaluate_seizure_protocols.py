"""Seizure-detection evaluation protocols on the EEG we have, with tiny liquid models.

Protocols (each fit is a fresh, seeded model trained for a fixed number of
epochs; nothing is selected on held-out data):

1. **Leave-one-seizure-out within patient** (CHB-MIT chb01, chb02, chb03): for
   each seizure, train on the patient's other seizures, test on its windows.
2. **Leave-one-patient-out across patients**: train on two patients, test on
   the third.
3. **Onset-detection latency** on the four continuous chb01 ``*_onset.edf``
   excerpts (10 s of background, then the whole seizure), with the
   leave-one-seizure-out model that never saw that seizure; SzCORE event
   scoring (``cardioliquid.evaluation.seizure``) gives the latency.
4. **Bonn set E vs A-D**: k-fold (default 3) cross-validation over segments (stratified by
   set), window- and segment-level.

What this data cannot show: each CHB-MIT seizure comes with only ~10 s of
pre-ictal background, so specificity is measured on ~170 s of EEG in total;
false alarms per 24 h need hours of interictal background (full CHB-MIT
recordings), and Bonn has no patient ids.

Run (200 s on 2 shared CPU cores; 17 + 3 + 3 tiny fits)::

    python pipelines/evaluate_seizure_protocols.py --data ../shared/data \\
        --json pipelines/results/seizure_protocols.json

The same code runs unchanged on full CHB-MIT EDF recordings pulled from
PhysioNet (``--chbmit DIR``): files are grouped by record, seizures come from
the files' annotations.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from cardioliquid.io import load_recording
from cardioliquid.signal.config import WindowPreprocessing
from cardioliquid.signal.windows import eeg_windows
from cardioliquid.training.augment import Augmentation
from cardioliquid.training.datamodules import CHBMIT_BIPOLAR_18, ArrayDataModule, Sampling
from cardioliquid.training.fitting import fit_arrays, predict_proba, set_threads

THRESHOLD = 0.5


def group_of(path: Path) -> str:
    """The record a CHB-MIT excerpt belongs to: ``chb01_18_ictal`` -> ``chb01_18``."""
    stem = path.stem
    for suffix in ("_onset", "_ictal", "_preictal", "_postictal"):
        if stem.endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def load_chbmit(root: Path, prep: WindowPreprocessing) -> dict[str, dict[str, Any]]:
    """Windows of every EDF under ``root`` grouped by record (one seizure each here)."""
    groups: dict[str, dict[str, Any]] = {}
    for f in sorted(root.glob("*.edf")):
        rec = load_recording(f)
        w = eeg_windows(rec, prep)
        g = groups.setdefault(group_of(f), {"patient": rec.patient_id, "x": [], "y": [],
                                            "files": []})
        g["x"].append(w.x)
        g["y"].append(w.labels)
        g["files"].append(f.name)
    for g in groups.values():
        g["x"] = np.concatenate(g["x"]).astype(np.float32)
        g["y"] = np.concatenate(g["y"]).astype(np.int64)
    return groups


def window_scores(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """Window-level sensitivity and specificity (%), with counts."""
    pred = p >= THRESHOLD
    tp, fn = int(np.sum(pred & (y == 1))), int(np.sum(~pred & (y == 1)))
    tn, fp = int(np.sum(~pred & (y == 0))), int(np.sum(pred & (y == 0)))
    return {
        "se": 100.0 * tp / (tp + fn) if tp + fn else None,
        "sp": 100.0 * tn / (tn + fp) if tn + fp else None,
        "tp": tp, "fn": fn, "tn": tn, "fp": fp,
    }  # fmt: skip


def _fit(train_x, train_y, prep, args, seed=0):
    # Validation is unused (fixed epochs); pass a slice of the training set.
    # No augmentation: the recorded results (seizure_protocols.json) were made without it.
    dm = ArrayDataModule((train_x, train_y), (train_x[:8], train_y[:8]), prep,
                         sampling=Sampling(batch_size=args.batch_size, eval_batch_size=1024),
                         augmentation=Augmentation(enabled=False), seed=seed)
    return fit_arrays(dm, args.model, {"units": args.units}, max_epochs=args.epochs,
                      lr=args.lr, seed=seed, key_classes=["sz"])


def leave_one_seizure_out(groups, prep, args) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per patient: train on the other seizures, test on the held-out one."""
    by_patient: dict[str, list[str]] = defaultdict(list)
    for name, g in groups.items():
        by_patient[g["patient"]].append(name)
    out: dict[str, Any] = {}
    models: dict[str, Any] = {}
    for patient, names in sorted(by_patient.items()):
        ys, ps, per = [], [], {}
        for held in names:
            rest = [n for n in names if n != held]
            tx = np.concatenate([groups[n]["x"] for n in rest])
            ty = np.concatenate([groups[n]["y"] for n in rest])
            module = _fit(tx, ty, prep, args)
            models[held] = module
            p = predict_proba(module, groups[held]["x"])[:, 1]
            per[held] = window_scores(groups[held]["y"], p)
            ys.append(groups[held]["y"])
            ps.append(p)
            print(f"  LOSO {patient} {held}: {per[held]}", flush=True)
        out[patient] = {"pooled": window_scores(np.concatenate(ys), np.concatenate(ps)),
                        "per_seizure": per, "n_seizures": len(names)}
    return out, models


def leave_one_patient_out(groups, prep, args) -> dict[str, Any]:
    """Train on all other patients, test on one."""
    patients = sorted({g["patient"] for g in groups.values()})
    out = {}
    for held in patients:
        tx = np.concatenate([g["x"] for g in groups.values() if g["patient"] != held])
        ty = np.concatenate([g["y"] for g in groups.values() if g["patient"] != held])
        vx = np.concatenate([g["x"] for g in groups.values() if g["patient"] == held])
        vy = np.concatenate([g["y"] for g in groups.values() if g["patient"] == held])
        module = _fit(tx, ty, prep, args)
        out[held] = window_scores(vy, predict_proba(module, vx)[:, 1])
        out[held]["trained_on"] = [p for p in patients if p != held]
        print(f"  LOPO test {held}: {out[held]}", flush=True)
    return out


def onset_latency(root: Path, groups, models, prep) -> dict[str, Any]:
    """SzCORE event scoring and latency on the continuous ``*_onset.edf`` excerpts."""
    from cardioliquid.decision.events import probabilities_to_events
    from cardioliquid.decision.settings import DecisionSettings
    from cardioliquid.evaluation.seizure import count_recording, scores

    no_smoothing = DecisionSettings(threshold=THRESHOLD, smooth_windows=1, min_duration_s=0.0)

    out: dict[str, Any] = {}
    for f in sorted(root.glob("*_onset.edf")):
        name = group_of(f)
        if name not in models:
            continue
        rec = load_recording(f)
        w = eeg_windows(rec, prep)
        p = predict_proba(models[name], w.x)[:, 1]
        # The one event rule (the one `cardioliquid score` writes), no smoothing.
        events = [(float(a), float(b)) for a, b in
                  probabilities_to_events(w.start_s, p, prep.window_s, no_smoothing)]
        counts = count_recording(rec.seizures, events, rec.duration_s,
                                 window_true=w.labels, window_pred=(p >= THRESHOLD).astype(int))
        s = scores(counts)
        # The first positive window that ends after onset: when a causal detector could fire.
        onset = rec.seizures[0][0]
        ends = w.start_s + prep.window_s
        fired = np.flatnonzero((p >= THRESHOLD) & (ends > onset))
        out[name] = {
            "onset_s": onset, "duration_s": rec.duration_s,
            "seizures": rec.seizures, "events": events,
            "latency_s": (s["latency_s"]["per_seizure"] or [None])[0],
            "first_window_end_after_onset_s": (float(ends[fired[0]] - onset) if len(fired)
                                               else None),
            "pre_onset_false_windows": int(np.sum((p >= THRESHOLD) & (ends <= onset))),
            "window": s["window"], "event": s["event"],
        }  # fmt: skip
        print(f"  onset {name}: latency {out[name]['latency_s']}", flush=True)
    return out


def bonn_cv(root: Path, prep: WindowPreprocessing, args, folds: int = 3) -> dict[str, Any]:
    """Set E vs A-D, segment-level stratified k-fold."""
    from cardioliquid.io import list_bonn

    segs = list_bonn(root)
    rng = np.random.default_rng(0)
    fold_of = np.zeros(len(segs), dtype=int)
    for letter in "ABCDE":
        idx = [i for i, s in enumerate(segs) if s.set == letter]
        fold_of[np.array(idx)[rng.permutation(len(idx))]] = np.arange(len(idx)) % folds
    xs, ys, sets = [], [], []
    for s in segs:
        w = eeg_windows(load_recording(s.path), prep)
        xs.append(w.x)
        ys.append(np.full(len(w.x), int(s.is_seizure)))
        sets.append(s.set)
    yw_all, pw_all, seg_y, seg_p, seg_set = [], [], [], [], []
    for k in range(folds):
        tr = [i for i in range(len(segs)) if fold_of[i] != k]
        te = [i for i in range(len(segs)) if fold_of[i] == k]
        module = _fit(np.concatenate([xs[i] for i in tr]), np.concatenate([ys[i] for i in tr]),
                      prep, args, seed=k)
        for i in te:
            p = predict_proba(module, xs[i])[:, 1]
            yw_all.append(ys[i])
            pw_all.append(p)
            seg_y.append(int(segs[i].is_seizure))
            seg_p.append(float(p.mean()))
            seg_set.append(sets[i])
        print(f"  Bonn fold {k} done", flush=True)
    seg_y, seg_p = np.array(seg_y), np.array(seg_p)
    per_set = {
        s: 100.0 * float(np.mean((seg_p[np.array(seg_set) == s] >= THRESHOLD) == (s == "E")))
        for s in "ABCDE"
    }
    return {
        "folds": folds,
        "window": window_scores(np.concatenate(yw_all), np.concatenate(pw_all)),
        "segment": window_scores(seg_y, seg_p),
        "segment_accuracy_per_set": per_set,
        "n_segments": len(segs),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("CARDIOLIQUID_DATA_MIRROR", "../shared/data"))
    ap.add_argument("--chbmit", default=None, help="EDF folder (default DATA/eeg/chbmit_edf)")
    ap.add_argument("--bonn", default=None, help="Bonn folder (default DATA/bonn)")
    ap.add_argument("--json", default="pipelines/results/seizure_protocols.json")
    ap.add_argument("--model", default="liquid-cfc")
    ap.add_argument("--units", type=int, default=12)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--fs", type=float, default=64.0)
    ap.add_argument("--bonn-folds", type=int, default=3)
    ap.add_argument("--skip", nargs="*", default=[], choices=["loso", "lopo", "onset", "bonn"])
    args = ap.parse_args(argv)
    set_threads()
    t0 = time.time()
    data = Path(args.data)
    chb = Path(args.chbmit) if args.chbmit else data / "eeg" / "chbmit_edf"
    bonn = Path(args.bonn) if args.bonn else data / "bonn"
    prep = WindowPreprocessing(fs=args.fs, channels=list(CHBMIT_BIPOLAR_18), bandpass=(0.5, 25.0),
                               window_s=2.0, hop_s=0.5, normalization="fixed", scale_uv=100.0)
    prep1 = replace(prep, channels=[], hop_s=1.0)
    result: dict[str, Any] = {
        "settings": {"model": args.model, "units": args.units, "epochs": args.epochs,
                     "lr": args.lr, "threshold": THRESHOLD, "preprocessing": prep.to_dict(),
                     "bonn_preprocessing": prep1.to_dict()},
        "cannot_show": (
            "Each CHB-MIT seizure here has only ~10 s of pre-ictal background (170 s in all), "
            "so specificity rests on very little EEG and false alarms per 24 h cannot be "
            "estimated; that needs hours of interictal recording (full CHB-MIT files). Only 3 "
            "patients: leave-one-patient-out is 3 folds. Bonn has no patient ids, so its "
            "split is by segment and cannot show generalisation to new patients; its sets "
            "C-E are intracranial."
        ),
    }
    groups = load_chbmit(chb, prep)
    result["chbmit_records"] = {
        k: {"patient": g["patient"], "files": g["files"], "n_windows": len(g["y"]),
            "n_seizure_windows": int(g["y"].sum())}
        for k, g in groups.items()
    }
    models = {}
    if "loso" not in args.skip:
        print("leave-one-seizure-out", flush=True)
        result["leave_one_seizure_out"], models = leave_one_seizure_out(groups, prep, args)
    if "lopo" not in args.skip:
        print("leave-one-patient-out", flush=True)
        result["leave_one_patient_out"] = leave_one_patient_out(groups, prep, args)
    if "onset" not in args.skip and models:
        print("onset latency", flush=True)
        result["onset_latency"] = onset_latency(chb, groups, models, prep)
    if "bonn" not in args.skip:
        print("Bonn E vs A-D", flush=True)
        result["bonn_e_vs_ad"] = bonn_cv(bonn, prep1, args, folds=args.bonn_folds)
    result["wall_time_s"] = round(time.time() - t0, 1)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2, default=float))
    os.replace(tmp, out)
    print(f"wrote {out} in {result['wall_time_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
