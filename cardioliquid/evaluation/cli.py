"""``cardioliquid evaluate``: score a model against expert annotations.

Arrhythmia (EC57 beat-by-beat statistics, see :mod:`cardioliquid.evaluation.ec57`)::

    cardioliquid evaluate arrhythmia --data DIR [--records DS2|all|100,101] [--model NAME|CKPT]
        [--calibrate-minutes 5] [--beats reference|detect] [--predictions DIR]
        --json OUT.json [--report OUT.md]

Seizures (SzCORE event and sample scores, see :mod:`cardioliquid.evaluation.seizure`)::

    cardioliquid evaluate seizure --data DIR_OR_FILES... [--model NAME|CKPT]
        --json OUT.json [--report OUT.md]

A record that cannot be read or scored is listed under ``errors`` in the JSON
and the run goes on. Exit status (as ``cardioliquid score``): 0 when every
record was scored; 1 when some or all failed; 2 on bad usage, refused before
any work (options that do not go together, such as ``--predictions`` with
``--calibrate-minutes``, or a ``--json``/``--report`` path that cannot be written).

This module only parses and reports; what it runs per record lives in
:mod:`cardioliquid.evaluation.run` and :mod:`cardioliquid.evaluation.records`.
The seizure event rule is the model's (``loaded.decision``); the flags
override it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from cardioliquid._check import number_arg
from cardioliquid.errors import CardioLiquidError, RecordingError
from cardioliquid.evaluation import ec57, report
from cardioliquid.evaluation import seizure as sz
from cardioliquid.evaluation.records import (
    PREDICTION_EXTENSION,
    collect_eeg_files,
    predictions_provenance,
    resolve_records,
)
from cardioliquid.evaluation.run import (
    evaluate_arrhythmia_record,
    evaluate_seizure_recording,
    model_digest,
)
from cardioliquid.io.eeg import eeg_patient_id
from cardioliquid.models.checkpoint import load_model
from cardioliquid.models.provenance import evaluation_label, provenance_summary

ARRHYTHMIA_MODEL = "arrhythmia"
"""The model ``evaluate arrhythmia`` runs when ``--model`` is not given."""
ARRHYTHMIA_BEATS = "reference"
"""Where ``evaluate arrhythmia`` takes the R peaks when ``--beats`` is not given."""


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
    a.add_argument("--model", default=None,
                   help=f"shipped model name or checkpoint (default: {ARRHYTHMIA_MODEL})")
    a.add_argument(
        "--predictions",
        type=Path,
        default=None,
        help=f"evaluate existing <record>.{PREDICTION_EXTENSION} files from "
        "`cardioliquid score` instead of running a model (fixed calls: not with --model, "
        "--calibrate-minutes, --beats or --lead)",
    )
    a.add_argument(
        "--calibrate-minutes",
        type=number_arg(float, minimum=0),
        default=0.0,
        help="patient-adaptive mode: adapt on the first M minutes of reference "
        "labels, score only the beats after them",
    )
    a.add_argument(
        "--beats",
        choices=("reference", "detect"),
        default=None,
        help=f"R peaks from the reference annotations or from the detector "
        f"(default: {ARRHYTHMIA_BEATS})",
    )
    a.add_argument(
        "--lead",
        default=None,
        help="ECG lead(s) the model reads, by name, in order of preference (comma list, e.g. "
        "V1,V2,V4,V5); default the model's own preference (MLII, ML2, II, ...)",
    )
    a.add_argument(
        "--window",
        type=number_arg(float, minimum=0, exclusive_minimum=True),
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

    s = sub.add_parser(
        "seizure",
        help="SzCORE event and sample scores on EEG recordings",
        description="SzCORE event and sample scores on EEG recordings",
    )
    s.add_argument(
        "--data",
        required=True,
        nargs="+",
        type=Path,
        help="EEG files, or folders holding them (EDF/BDF/... with seizure annotations, Bonn .txt)",
    )
    s.add_argument("--model", default="seizure", help="shipped model name or checkpoint")
    # The event rule: the model file's decision settings, unless a flag overrides them.
    s.add_argument("--threshold", type=number_arg(float, minimum=0, maximum=1), default=None,
                   help="seizure probability threshold (default: the model's, 0.5 when unset)")
    s.add_argument("--smooth-windows", type=number_arg(int, minimum=1), default=None,
                   help="moving-average length in windows (default: the model's, 3 when unset)")
    s.add_argument("--min-duration", type=number_arg(float, minimum=0), default=None,
                   help="shortest event kept, in s (default: the model's, 0 when unset)")
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
    """Run the chosen evaluation; 0 when every record was scored, 1 when some or all failed.

    Raises
    ------
    CardioLiquidError
        Bad usage, before any work (exit status 2 from the console script).
    """
    for flag, path in (("--json", args.json), ("--report", args.report)):
        check_output_path(flag, path)
    if args.task == "arrhythmia":
        return run_arrhythmia(args)
    return run_seizure(args)


# ----------------------------------------------------------------------------- shared


def _progress(items: list[Any], desc: str, disable: bool) -> Any:
    return tqdm(items, desc=desc, unit="rec", disable=disable, file=sys.stderr)


def _error_text(e: BaseException) -> str:
    if isinstance(e, CardioLiquidError):
        return str(e)
    tb = traceback.extract_tb(e.__traceback__)
    where = f" ({tb[-1].filename.split('/')[-1]}:{tb[-1].lineno})" if tb else ""
    return f"{type(e).__name__}: {e}{where}"


def _load_model(name: str) -> Any:
    return load_model(name)


def check_output_path(flag: str, path: Path | None) -> None:
    """Refuse, before any work, an output file that could not be written at the end.

    The file's folder may be missing (it is created when the file is
    written), but its nearest existing folder must take a new file.

    Parameters
    ----------
    flag : str
        The option that named ``path``, for the message.
    path : Path or None
        The output file; None: nothing to check.

    Raises
    ------
    CardioLiquidError
        ``path`` is an existing folder, lies under a file, or its folder
        cannot take a new file.
    """
    if path is None:
        return
    if path.is_dir():
        raise CardioLiquidError(f"{flag} {path}: expected a file name, got an existing folder")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise CardioLiquidError(f"{flag} {path}: expected a file in a folder, but {folder} is "
                                "not a folder")
    try:  # the test that cannot lie (permissions, read-only mounts, /proc): make a file there
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise CardioLiquidError(f"{flag} {path}: cannot write a file in {folder} "
                                f"({e.strerror or e})") from None


def _check_predictions_options(args: argparse.Namespace) -> None:
    """Refuse the options that a predictions folder would silently ignore."""
    if args.predictions is None:
        return
    if args.calibrate_minutes > 0:
        raise CardioLiquidError(
            "--predictions with --calibrate-minutes: predictions are fixed calls from "
            "`cardioliquid score`, and patient-adaptive mode adapts a model on each record's "
            "first minutes; give --model instead of --predictions")
    given = [flag for flag, value in (("--model", args.model), ("--beats", args.beats),
                                      ("--lead", args.lead)) if value is not None]
    if given:
        raise CardioLiquidError(
            f"--predictions with {', '.join(given)}: predictions are fixed calls from "
            "`cardioliquid score`, made with the model, beats and lead of that run (its "
            "summary.json says which); give these options to `cardioliquid score`, or "
            "evaluate a model without --predictions")


def _finish(result: dict[str, Any], errors: dict[str, str], n_ok: int, args: Any) -> int:
    """Print the summary and where files went; write the JSON if asked; the exit status."""
    result["errors"] = errors
    for name, msg in errors.items():
        where = "" if msg.startswith(name) else f"{name}: "
        print(f"cardioliquid evaluate: {where}{msg}", file=sys.stderr)
    if args.json is not None:  # also when every record failed: the errors are the result
        report.write_json(args.json, result)
    if n_ok == 0:  # failed records, not bad usage: exit 1, as in `cardioliquid score`
        print(f"cardioliquid evaluate: error: no record could be evaluated ({len(errors)} "
              "failed)", file=sys.stderr)
        if args.json is not None:
            print(f"wrote {args.json}")
        return 1
    print(report.summary_text(result))
    for written in (args.json, getattr(args, "report", None)):
        if written:
            print(f"wrote {written}")
    return 1 if errors else 0


# ----------------------------------------------------------------------------- arrhythmia


def run_arrhythmia(args: argparse.Namespace) -> int:
    """``cardioliquid evaluate arrhythmia``."""
    if not args.data.is_dir():
        raise RecordingError(args.data, "expected a folder of WFDB records")
    _check_predictions_options(args)
    beats = args.beats or ARRHYTHMIA_BEATS
    records = resolve_records(args.records, args.data)
    requested = args.records
    if requested.strip().upper() == "AUTO":  # say what it resolved to
        requested = "DS2" if records == resolve_records("DS2") else "all"
    model_name = args.model or ARRHYTHMIA_MODEL
    loaded = None if args.predictions is not None else _load_model(model_name)
    if args.lead and loaded is not None:
        loaded = loaded.reading_leads(args.lead.split(","))
    comparisons, scored, errors = [], [], {}
    for record in _progress(records, "evaluate arrhythmia", args.no_progress):
        try:
            comparisons.append(
                evaluate_arrhythmia_record(
                    args.data,
                    record,
                    loaded,
                    args.predictions,
                    args.calibrate_minutes,
                    beats,
                    args.window,
                )
            )
            scored.append(record)
        except Exception as e:  # one bad record never stops the run
            errors[record] = _error_text(e)
    mode = "patient-adaptive" if args.calibrate_minutes > 0 else "inter-patient"
    result = ec57.summarize(comparisons, mode=mode)
    if loaded is not None:
        meta = getattr(loaded, "metadata", None) or {}
        # A run that trained on other databases lists their records as "svdb/803".
        result["provenance"] = provenance_summary(
            {r: evaluation_label(r, f"{args.data.name}/{r}", "arrhythmia", meta)
             for r in scored})
    made = None  # the `cardioliquid score` run that made the calls of a predictions folder
    if args.predictions is not None:
        made = predictions_provenance(args.predictions, scored)
    result.update(
        {
            "model": (made["model"] or str(args.predictions)) if made
            else getattr(loaded, "label", model_name),
            "source": "predictions" if made else "model",
            "model_sha256": made["model_sha256"] if made else model_digest(loaded),
            "records_requested": requested,
            "beats": made["beats"] if made else beats,
            "window_s": args.window,
            "start_s": 60.0 * args.calibrate_minutes,
            "calibrate_minutes": args.calibrate_minutes,
            # S calls in AF-like rhythm reported as N (None: a predictions folder not saying)
            "af_gate": made["af_gate"] if made else bool(loaded.decision.af_gate),
            "lead_preference": None if loaded is None else list(
                getattr(getattr(loaded, "preprocessing", None), "lead_preference", [])),
        }
    )
    if made:
        result["predictions"] = made
    if args.report and comparisons:
        report.write_arrhythmia_report(result, args.report)
    return _finish(result, errors, len(comparisons), args)


# ----------------------------------------------------------------------------- seizure


def run_seizure(args: argparse.Namespace) -> int:
    """``cardioliquid evaluate seizure``."""
    files = collect_eeg_files(args.data)
    loaded = _load_model(args.model)
    params = sz.SzcoreParams()
    settings = loaded.decision.override(
        threshold=args.threshold, smooth_windows=args.smooth_windows,
        min_duration_s=args.min_duration,
    )  # fmt: skip
    per_record, timelines, errors, labels = {}, {}, {}, {}
    meta = getattr(loaded, "metadata", None) or {}
    for path in _progress(files, "evaluate seizure", args.no_progress):
        name = path.stem if path.stem not in per_record else str(path)
        try:
            per_record[name], timelines[name] = evaluate_seizure_recording(
                path, loaded, settings, params
            )
            labels[name] = evaluation_label(path.stem, eeg_patient_id(path), "seizure", meta)
        except Exception as e:  # one bad file never stops the run
            errors[str(path)] = _error_text(e)
    result = sz.summarize(
        per_record,
        mode=args.mode,
        params=params,
        extra={
            "model": getattr(loaded, "label", args.model),
            "model_sha256": model_digest(loaded),
            "events": settings.event_rule(),
        },
    )
    result["provenance"] = provenance_summary(labels)
    for name, tl in timelines.items():
        result["records"][name]["truth"] = tl.get("truth")
        result["records"][name]["ref_events"] = tl["ref"]
        result["records"][name]["hyp_events"] = tl["hyp"]
    if args.report and per_record:
        report.write_seizure_report(result, args.report, timelines)
    return _finish(result, errors, len(per_record), args)
