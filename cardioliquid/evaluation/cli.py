"""``cardioliquid evaluate``: score a model against expert annotations.

Arrhythmia (EC57 beat-by-beat statistics, see :mod:`cardioliquid.evaluation.ec57`)::

    cardioliquid evaluate arrhythmia --data DIR [--records DS2|all|100,101] [--model NAME|CKPT]
        [--calibrate-minutes 5] [--beats reference|detect] [--predictions DIR]
        --json OUT.json [--report OUT.md]

Seizures (SzCORE event and sample scores, see :mod:`cardioliquid.evaluation.seizure`)::

    cardioliquid evaluate seizure --data DIR_OR_FILES... [--model NAME|CKPT]
        --json OUT.json [--report OUT.md]

A record that cannot be read or scored is listed under ``errors`` in the JSON
and the run goes on; the exit status is 1 when some records failed.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from cardioliquid.errors import CardioLiquidError, RecordingError
from cardioliquid.evaluation import ec57, report
from cardioliquid.evaluation import seizure as sz
from cardioliquid.io.labels import AAMI_CLASSES

PREDICTION_EXTENSION = "cla"
"""Annotator of the beat-class files ``cardioliquid score`` writes (``<record>.cla``)."""

EEG_SUFFIXES = (".edf", ".bdf", ".gdf", ".fif", ".set", ".vhdr", ".txt")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``arrhythmia`` and ``seizure`` sub-commands."""
    sub = parser.add_subparsers(dest="task", required=True)

    a = sub.add_parser(
        "arrhythmia",
        help="EC57 beat-by-beat evaluation on WFDB records",
        description="EC57 beat-by-beat evaluation on WFDB records",
    )
    a.add_argument("--data", required=True, type=Path, help="folder of WFDB records (mitdb)")
    a.add_argument(
        "--records",
        default="auto",
        help="DS1, DS2 (de Chazal 2004), 'all' (every record in --data: its RECORDS file, "
        "else its .hea files) or a comma list such as 100,101; the default 'auto' is DS2 in "
        "a folder that holds MIT-BIH's DS2 records (the shipped model's test set), else all",
    )
    a.add_argument("--model", default="arrhythmia", help="shipped model name or checkpoint")
    a.add_argument(
        "--predictions",
        type=Path,
        default=None,
        help=f"evaluate existing <record>.{PREDICTION_EXTENSION} files from "
        "`cardioliquid score` instead of running a model",
    )
    a.add_argument(
        "--calibrate-minutes",
        type=float,
        default=0.0,
        help="patient-adaptive mode: adapt on the first M minutes of reference "
        "labels, score only the beats after them",
    )
    a.add_argument(
        "--beats",
        choices=("reference", "detect"),
        default="reference",
        help="R peaks from the reference annotations or from the detector",
    )
    a.add_argument(
        "--lead",
        default=None,
        help="ECG lead(s) the model reads, by name, in order of preference (comma list, e.g. "
        "V1,V2,V4,V5); default the model's own preference (MLII, ML2, II, ...)",
    )
    a.add_argument(
        "--window",
        type=float,
        default=ec57.MATCH_WINDOW_S,
        help="beat match window in seconds (EC57: 0.15)",
    )
    a.add_argument("--json", type=Path, default=None,
                   help="also write the full result as JSON here")
    a.add_argument(
        "--report",
        type=Path,
        default=None,
        help="Markdown report (+ <stem>_confusion.png beside it)",
    )
    a.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    s = sub.add_parser("seizure", help="SzCORE event and sample scores on EEG recordings")
    s.add_argument(
        "--data",
        required=True,
        nargs="+",
        type=Path,
        help="EEG files, or folders holding them (EDF/BDF/... with seizure annotations, Bonn .txt)",
    )
    s.add_argument("--model", default="seizure", help="shipped model name or checkpoint")
    s.add_argument("--threshold", type=float, default=0.5, help="seizure probability threshold")
    s.add_argument("--smooth-windows", type=int, default=3, help="moving-average length")
    s.add_argument("--min-duration", type=float, default=0.0, help="shortest event kept (s)")
    s.add_argument(
        "--mode",
        default="recordings",
        help="label of the protocol stored in the JSON (e.g. held-out patient chb03)",
    )
    s.add_argument("--json", type=Path, default=None,
                   help="also write the full result as JSON here")
    s.add_argument(
        "--report",
        type=Path,
        default=None,
        help="Markdown report (+ <stem>_timeline.png beside it)",
    )
    s.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    """Run the chosen evaluation; 0 when every record was scored, 1 when some failed."""
    if args.task == "arrhythmia":
        return run_arrhythmia(args)
    return run_seizure(args)


# ----------------------------------------------------------------------------- shared


def _progress(items: list[Any], desc: str, disable: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit="rec", disable=disable, file=sys.stderr)


def _error_text(e: BaseException) -> str:
    if isinstance(e, CardioLiquidError):
        return str(e)
    tb = traceback.extract_tb(e.__traceback__)
    where = f" ({tb[-1].filename.split('/')[-1]}:{tb[-1].lineno})" if tb else ""
    return f"{type(e).__name__}: {e}{where}"


def _load_model(name: str) -> Any:
    from cardioliquid.models.checkpoint import load_model

    return load_model(name)


def model_digest(loaded: Any) -> str | None:
    """SHA-256 of the model file, so a result can be matched to the weights that made it."""
    path = Path(getattr(loaded, "path", "") or "")
    if not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _finish(result: dict[str, Any], errors: dict[str, str], n_ok: int, args: Any) -> int:
    """Print the summary and where files went; write the JSON if asked; the exit status."""
    result["errors"] = errors
    for name, msg in errors.items():
        where = "" if msg.startswith(name) else f"{name}: "
        print(f"cardioliquid evaluate: {where}{msg}", file=sys.stderr)
    if args.json is not None:  # also when every record failed: the errors are the result
        report.write_json(args.json, result)
    if n_ok == 0:
        raise CardioLiquidError(f"no record could be evaluated ({len(errors)} failed)")
    print(report.summary_text(result))
    for written in (args.json, getattr(args, "report", None)):
        if written:
            print(f"wrote {written}")
    return 1 if errors else 0


# ----------------------------------------------------------------------------- arrhythmia


def folder_records(data: Path) -> list[str]:
    """The records of a WFDB database folder, as PhysioNet lists them.

    The folder's ``RECORDS`` file names them (paths relative to the folder, as
    in databases with one sub-folder per patient); without one, every ``.hea``
    header directly in the folder is a record.

    Raises
    ------
    RecordingError
        The folder lists or holds no record, or ``RECORDS`` names a path
        outside the folder.
    """
    listing = data / "RECORDS"
    if listing.is_file():
        names = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
        where = f"{listing}"
    else:
        names = sorted(p.name[: -len(".hea")] for p in data.glob("*.hea"))
        where = f"{data} (no RECORDS file, no .hea header)"
    if not names:
        raise RecordingError(data, f"no WFDB record found in {where}")
    from cardioliquid.io.pull import inside_dest

    for name in names:  # a RECORDS line is untrusted: ../x or /x would read outside --data
        inside_dest(data, name)
    return names


def resolve_records(spec: str, data: Path | None = None) -> list[str]:
    """The record names ``--records`` asks for.

    Parameters
    ----------
    spec : str
        ``DS1``/``DS2`` (de Chazal 2004 split), ``all`` (every record of
        ``data``, see :func:`folder_records`), ``auto`` (DS2 where ``data``
        holds all of DS2's records, which is MIT-BIH; otherwise ``all``) or a
        comma-separated list of record names.
    data : Path, optional
        The database folder; required by ``all`` and ``auto``.
    """
    key = spec.strip().upper()
    if key in ("DS1", "DS2"):
        from cardioliquid.data import splits

        return [str(r) for r in getattr(splits, key)]
    if key in ("ALL", "AUTO"):
        if data is None:
            raise CardioLiquidError(f"--records {spec}: needs the database folder (--data)")
        if key == "AUTO":
            ds2 = resolve_records("DS2")
            if all((data / f"{r}.hea").is_file() for r in ds2):
                return ds2
        return folder_records(data)
    names = [r.strip() for r in spec.split(",") if r.strip()]
    if not names:
        raise CardioLiquidError(f"--records: expected DS1, DS2, all or a comma list, got {spec!r}")
    return names


def read_predictions(folder: Path, record: str) -> tuple[np.ndarray, np.ndarray]:
    """Beat times and AAMI letters of ``<folder>/<record>.cla`` (other symbols skipped)."""
    import wfdb

    path = folder / f"{record}.{PREDICTION_EXTENSION}"
    if not path.is_file():
        raise RecordingError(
            path,
            "prediction file not found: expected the output of "
            "`cardioliquid score` for this record",
        )
    try:
        ann = wfdb.rdann(str(folder / record), PREDICTION_EXTENSION)
    except Exception as e:
        raise RecordingError(path, f"unreadable WFDB annotation file: {e}") from e
    symbols = np.asarray(ann.symbol, dtype=str)
    keep = np.isin(symbols, AAMI_CLASSES)
    return np.asarray(ann.sample, dtype=np.int64)[keep], symbols[keep]


def _model_beats(rec: Any, loaded: Any, beats: str) -> tuple[np.ndarray, np.ndarray]:
    from cardioliquid.scoring.inference import predict_beats

    pred = predict_beats(rec, loaded, beats=beats)
    return np.asarray(pred.sample, dtype=np.int64), np.asarray(pred.labels, dtype=str)


def _adapt(loaded: Any, rec: Any, minutes: float) -> Any:
    from cardioliquid.training.adapt import adapt_to_patient, adaptation_settings

    return adapt_to_patient(loaded, rec, minutes, **adaptation_settings(loaded))


def evaluate_arrhythmia_record(
    data: Path,
    record: str,
    loaded: Any = None,
    predictions: Path | None = None,
    calibrate_minutes: float = 0.0,
    beats: str = "reference",
    window_s: float = ec57.MATCH_WINDOW_S,
) -> ec57.RecordComparison:
    """EC57 comparison of one record, from a model or from a prediction file."""
    from cardioliquid.io import load_ecg
    from cardioliquid.scoring.checks import check_reference_beats

    rec = load_ecg(data / record)
    if rec.beats is None or len(rec.beats) == 0:
        state = (rec.meta.get("reference_annotations") or {}).get("state", "missing")
        raise RecordingError(
            data / f"{record}.atr",
            f"expected reference beat annotations to evaluate against, got a file that is "
            f"{state}",
        )
    check_reference_beats(rec, loaded)  # far fewer than the QRS complexes: corrupt, refused
    if predictions is not None:
        sample, cls = read_predictions(predictions, record)
    else:
        model = _adapt(loaded, rec, calibrate_minutes) if calibrate_minutes > 0 else loaded
        sample, cls = _model_beats(rec, model, beats)
    return ec57.compare_recording(
        rec, sample, cls, start_s=60.0 * calibrate_minutes, window_s=window_s
    )


def run_arrhythmia(args: argparse.Namespace) -> int:
    """``cardioliquid evaluate arrhythmia``."""
    if not args.data.is_dir():
        raise RecordingError(args.data, "expected a folder of WFDB records")
    if args.calibrate_minutes < 0:
        raise CardioLiquidError(f"--calibrate-minutes: expected >= 0, got {args.calibrate_minutes}")
    records = resolve_records(args.records, args.data)
    requested = args.records
    if requested.strip().upper() == "AUTO":  # say what it resolved to
        requested = "DS2" if records == resolve_records("DS2") else "all"
    loaded = None if args.predictions is not None else _load_model(args.model)
    if args.lead and loaded is not None:
        loaded = loaded.reading_leads(args.lead.split(","))
    comparisons, errors = [], {}
    for record in _progress(records, "evaluate arrhythmia", args.no_progress):
        try:
            comparisons.append(
                evaluate_arrhythmia_record(
                    args.data,
                    record,
                    loaded,
                    args.predictions,
                    args.calibrate_minutes,
                    args.beats,
                    args.window,
                )
            )
        except Exception as e:  # one bad record never stops the run
            errors[record] = _error_text(e)
    mode = "patient-adaptive" if args.calibrate_minutes > 0 else "inter-patient"
    result = ec57.summarize(comparisons, mode=mode)
    result.update(
        {
            "model": str(args.predictions)
            if args.predictions
            else getattr(loaded, "name", args.model),
            "source": "predictions" if args.predictions else "model",
            "model_sha256": model_digest(loaded),
            "records_requested": requested,
            "beats": args.beats,
            "window_s": args.window,
            "start_s": 60.0 * args.calibrate_minutes,
            "calibrate_minutes": args.calibrate_minutes,
            # S calls in AF-like rhythm reported as N (None: scored from a predictions folder)
            "af_gate": None if loaded is None else bool(
                getattr(getattr(loaded, "preprocessing", None), "af_gate", False)),
            "lead_preference": None if loaded is None else list(
                getattr(getattr(loaded, "preprocessing", None), "lead_preference", [])),
        }
    )
    if args.report and comparisons:
        report.write_arrhythmia_report(result, args.report)
    return _finish(result, errors, len(comparisons), args)


# ----------------------------------------------------------------------------- seizure


def collect_eeg_files(paths: list[Path]) -> list[Path]:
    """Expand folders into the EEG files they hold (sorted); keep files as given."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix.lower() in EEG_SUFFIXES)
        else:
            out.append(p)
    if not out:
        raise RecordingError(
            paths[0] if paths else None,
            f"expected EEG files ({', '.join(EEG_SUFFIXES)}), found none",
        )
    return out


def evaluate_seizure_recording(
    path: Path,
    loaded: Any,
    event_kwargs: dict[str, Any] | None = None,
    params: sz.SzcoreParams | None = None,
) -> tuple[sz.SeizureCounts, dict[str, Any]]:
    """Counts and a timeline (reference, detections, probabilities) of one EEG file."""
    from cardioliquid.io import load_recording
    from cardioliquid.scoring.inference import predict_windows

    rec = load_recording(path)
    pred = predict_windows(rec, loaded)
    hyp = sz.prediction_events(pred, **(event_kwargs or {}))
    prep = loaded.preprocessing
    truth = sz.window_labels(
        pred.start_s, prep.window_s, rec.seizures, getattr(prep, "min_overlap", 0.5)
    )
    decided = (pred.seizure_proba >= (event_kwargs or {}).get("threshold", 0.5)).astype(int)
    counts = sz.count_recording(rec.seizures, hyp, rec.duration_s, params, truth, decided)
    timeline = {
        "duration_s": rec.duration_s,
        "ref": list(rec.seizures),
        "hyp": hyp,
        "t": (pred.start_s + prep.window_s / 2).tolist(),
        "p": pred.seizure_proba.astype(float).tolist(),
    }
    return counts, timeline


def run_seizure(args: argparse.Namespace) -> int:
    """``cardioliquid evaluate seizure``."""
    files = collect_eeg_files(args.data)
    loaded = _load_model(args.model)
    params = sz.SzcoreParams()
    kw = {
        "threshold": args.threshold,
        "smooth_windows": args.smooth_windows,
        "min_duration_s": args.min_duration,
    }
    per_record, timelines, errors = {}, {}, {}
    for path in _progress(files, "evaluate seizure", args.no_progress):
        name = path.stem if path.stem not in per_record else str(path)
        try:
            per_record[name], timelines[name] = evaluate_seizure_recording(path, loaded, kw, params)
        except Exception as e:  # one bad file never stops the run
            errors[str(path)] = _error_text(e)
    result = sz.summarize(
        per_record,
        mode=args.mode,
        params=params,
        extra={
            "model": getattr(loaded, "name", args.model),
            "model_sha256": model_digest(loaded),
            "events": kw,
        },
    )
    for name, tl in timelines.items():
        result["records"][name]["ref_events"] = tl["ref"]
        result["records"][name]["hyp_events"] = tl["hyp"]
    if args.report and per_record:
        report.write_seizure_report(result, args.report, timelines)
    return _finish(result, errors, len(per_record), args)
