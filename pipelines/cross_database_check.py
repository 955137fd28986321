"""Does the shipped arrhythmia model hold when MIT-BIH is stored like other databases?

Other PhysioNet ECG databases differ from MIT-BIH in how they are stored more
than in what they hold: the MIT-BIH Supraventricular Arrhythmia Database is
sampled at 128 Hz with leads named ``ECG1``/``ECG2``, the St Petersburg INCART
database at 257 Hz with standard lead names. This script rewrites the chosen
MIT-BIH records in those forms (``wfdb.processing.resample_multichan`` moves
the reference annotations with the signal), scores the shipped model on each
form with the EC57 comparison of ``cardioliquid evaluate``, and reports the
gross statistics and how many beats keep the label they get at 360 Hz. It
chooses nothing: the model and its recipe are fixed before it runs.

    python pipelines/cross_database_check.py --mirror ../shared/data --records DS2 \
        --json pipelines/results/arrhythmia_cross_database.json
    python pipelines/cross_database_check.py --mirror ../shared/data --records DS2 \
        --beats detect --json pipelines/results/arrhythmia_cross_database_detected.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm


@dataclass(frozen=True)
class StorageForm:
    """How a database stores its ECG: rate and the names of the first two leads."""

    name: str
    fs: float
    lead_names: tuple[str, str]


FORMS = (
    StorageForm("mitdb (360 Hz, MLII)", 360.0, ("MLII", "V1")),
    StorageForm("svdb-like (128 Hz, ECG1)", 128.0, ("ECG1", "ECG2")),
    StorageForm("incart-like (257 Hz, II)", 257.0, ("II", "V5")),
)


def rewrite_record(src: Path, out_dir: Path, form: StorageForm) -> Path:
    """Write record ``src`` resampled to ``form.fs`` with ``form``'s lead names."""
    import wfdb
    from wfdb import processing

    rec = wfdb.rdrecord(str(src))
    ann = wfdb.rdann(str(src), "atr")
    sig, moved = processing.resample_multichan(rec.p_signal, ann, rec.fs, form.fs,
                                               resamp_ann_chan=0)
    # MLII takes the form's first lead name wherever it is stored (114 holds it second);
    # records without MLII (102, 104) keep their precordial names.
    if "MLII" in rec.sig_name:
        names = list(form.lead_names if rec.sig_name[0] == "MLII" else form.lead_names[::-1])
    else:
        names = list(rec.sig_name)
    wfdb.wrsamp(src.name, fs=form.fs, units=rec.units, sig_name=names, p_signal=sig,
                fmt=["16"] * sig.shape[1], write_dir=str(out_dir))
    wfdb.wrann(src.name, "atr", moved.sample, moved.symbol, aux_note=moved.aux_note,
               fs=form.fs, write_dir=str(out_dir))
    return out_dir / src.name


def check(mirror: Path, records: list[str], model: str = "arrhythmia",
          beats: str = "reference") -> dict[str, Any]:
    """Score ``model`` on ``records`` in every :data:`FORMS`; see the module docstring.

    ``beats="detect"`` finds the R peaks with the kept detector instead of
    taking the reference ones (a database scored without annotations); the
    EC57 match then also reports QRS detection, and label agreement with
    360 Hz is left out (the beats differ).
    """
    from cardioliquid.evaluation import ec57
    from cardioliquid.io import load_ecg
    from cardioliquid.models.checkpoint import load_model
    from cardioliquid.scoring.beats import predict_beats

    loaded = load_model(model)
    reference: dict[str, np.ndarray] = {}
    out: dict[str, Any] = {"model": model, "records": records, "beats": beats, "forms": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for form in FORMS:
            comparisons, same, n = [], 0, 0
            for record in tqdm(records, desc=form.name, leave=False):
                if form.fs == 360.0:
                    path = mirror / "mitdb" / record
                else:
                    folder = Path(tmp) / f"{form.fs:g}"
                    folder.mkdir(exist_ok=True)
                    path = rewrite_record(mirror / "mitdb" / record, folder, form)
                rec = load_ecg(path)
                pred = predict_beats(rec, loaded, beats=beats)
                labels = np.asarray(pred.labels)
                if beats == "reference":
                    ref = reference.setdefault(record, labels)
                    same += int(np.sum(labels == ref)) if len(ref) == len(labels) else 0
                    n += len(labels)
                comparisons.append(ec57.compare_recording(rec, pred.sample, labels))
            summary = ec57.summarize(comparisons, mode=form.name)
            out["forms"][form.name] = {
                "fs": form.fs, "leads": list(form.lead_names),
                "sveb": {k: summary["sveb"][k] for k in ("se", "ppv")},
                "veb": {k: summary["veb"][k] for k in ("se", "ppv")},
                "accuracy": summary["accuracy"], "n_beats": summary["n_beats"],
                "qrs": {k: summary["qrs"][k] for k in ("se", "ppv")},
                "label_agreement_with_360hz": 100.0 * same / n if n else None,
            }  # fmt: skip
    return out


def _cell(v: float | None, width: int) -> str:
    return f"{'-':>{width}s}" if v is None else f"{v:{width}.1f}"


def print_table(result: dict[str, Any]) -> None:
    """One row per storage form (``-``: undefined, e.g. no beat of the class)."""
    print(f"{'form':28s} {'SVEB Se':>8s} {'+P':>6s} {'VEB Se':>7s} {'+P':>6s} "
          f"{'acc':>6s} {'same label':>10s} {'QRS Se':>7s} {'+P':>6s}")
    for name, r in result["forms"].items():
        cells = [_cell(r["sveb"]["se"], 8), _cell(r["sveb"]["ppv"], 6), _cell(r["veb"]["se"], 7),
                 _cell(r["veb"]["ppv"], 6), _cell(r["accuracy"], 6),
                 _cell(r["label_agreement_with_360hz"], 9)
                 + ("%" if r["label_agreement_with_360hz"] is not None else " "),
                 _cell(r["qrs"]["se"], 7), _cell(r["qrs"]["ppv"], 6)]
        print(f"{name:28s} {' '.join(cells)}")


def plot(result: dict[str, Any], path: Path) -> None:
    """Grouped bars of SVEB/VEB Se and +P per storage form."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    forms = list(result["forms"])
    stats = [("sveb", "se"), ("sveb", "ppv"), ("veb", "se"), ("veb", "ppv")]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    width = 0.8 / len(forms)
    for i, name in enumerate(forms):
        r = result["forms"][name]
        heights = [r[c][s] or 0.0 for c, s in stats]  # undefined (None) drawn as 0
        ax.bar(np.arange(len(stats)) + i * width, heights, width, label=name)
    ax.set_xticks(np.arange(len(stats)) + width * (len(forms) - 1) / 2,
                  ["SVEB Se", "SVEB +P", "VEB Se", "VEB +P"])
    ax.set_ylabel("%")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(f"{result['model']} on {len(result['records'])} MIT-BIH records, re-stored "
                 f"({result.get('beats', 'reference')} beats)")
    fig.tight_layout()
    tmp = path.with_name(path.name + ".part.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    from cardioliquid.evaluation.records import resolve_records

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mirror", type=Path,
                   default=Path(os.environ.get("CARDIOLIQUID_DATA_MIRROR", "../shared/data")))
    p.add_argument("--records", default="DS2", help="DS1, DS2, or comma-separated record names")
    p.add_argument("--model", default="arrhythmia")
    p.add_argument("--beats", choices=["reference", "detect"], default="reference",
                   help="score the reference beats, or beats found by the R-peak detector")
    p.add_argument("--json", type=Path, default=None, help="write the result here (and a .png)")
    args = p.parse_args(argv)
    result = check(args.mirror, resolve_records(args.records), args.model, args.beats)
    print_table(result)
    if args.json:
        tmp = args.json.with_name(args.json.name + ".part")
        tmp.write_text(json.dumps(result, indent=1))
        os.replace(tmp, args.json)
        plot(result, args.json.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
