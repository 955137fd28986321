"""``cardioliquid score``: batch-score recordings into standard output files.

::

    cardioliquid score PATH... --task arrhythmia|seizure [--model NAME|CKPT] --out DIR
        [--workers N] [--resume] [--strict] [--beats auto|reference|detect]
        [--segment-s S] [--distributed ...]

Exit status: 0 when every record was scored (or skipped by ``--resume``, or
set aside as the other modality's file); 1 when any record failed (listed in
``failures.csv``) or, with ``--strict``, as soon as one fails (the run stops
there) or when no recording was found (without ``--strict``: a warning); 2 on
bad usage (unknown model, no such task, an output that would overwrite a
recording's file or reference annotations) or when another live run owns
``--out`` (:mod:`cardioliquid.scoring.lock`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cardioliquid._check import number_arg
from cardioliquid.errors import CardioLiquidError

TASKS = ("arrhythmia", "seizure")


def _folder_arg(text: str) -> Path:
    """An output folder name; an empty one (an unset shell variable) is refused, as it would
    silently mean the current folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a folder name, got an empty string")
    return Path(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``score`` options."""
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="recording files, folders (searched recursively) or globs",
    )
    parser.add_argument("--task", required=True, choices=TASKS,
                        help="arrhythmia: ECG beats (WFDB); seizure: EEG windows (EDF, BDF...)")
    parser.add_argument(
        "--model",
        default=None,
        help="shipped model name or checkpoint file (default: the task's shipped model)",
    )
    parser.add_argument("--out", required=True, type=_folder_arg, help="output folder")
    parser.add_argument(
        "--workers", type=number_arg(int, minimum=1), default=1,
        help="processes scoring records in parallel (default 1)",
    )
    parser.add_argument(
        "--resume", action="store_true", help="skip records whose outputs are complete"
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first failed record; no recording found is a failure",
    )
    parser.add_argument(
        "--beats",
        choices=("auto", "reference", "detect"),
        default="auto",
        help="ECG R peaks: reference annotations, detector, or reference when present (default)",
    )
    parser.add_argument(
        "--lead",
        default=None,
        help="arrhythmia: ECG lead(s) to read, by name in order of preference (comma list, "
        "e.g. V1,V2 or CM5); default the model's own preference (MLII, ML2, II, ...)",
    )
    parser.add_argument("--batch-size", type=number_arg(int, minimum=1), default=2048,
                        help="windows per forward pass")
    parser.add_argument(
        "--segment-s",
        type=number_arg(float, minimum=1),
        default=None,
        help="preprocess in segments of S seconds (at least 1), exactly as the app's live "
        "replay, which uses 10 (default: whole recordings, as in training)",
    )
    # The seizure event rule: the model file's decision settings, unless a flag overrides them.
    parser.add_argument(
        "--threshold", type=number_arg(float, minimum=0, maximum=1), default=None,
        help="seizure probability threshold for events (default: the model's, 0.5 when unset)",
    )
    parser.add_argument(
        "--smooth-windows", type=number_arg(int, minimum=1), default=None,
        help="causal moving average (windows) before the threshold (default: the model's, "
        "3 when unset; as cardioliquid evaluate)",
    )
    parser.add_argument(
        "--min-duration", type=number_arg(float, minimum=0), default=None,
        help="drop seizure events shorter than this, in s (default: the model's, 0 when unset)",
    )
    parser.add_argument(
        "--no-parquet",
        action="store_true",
        help="do not write Parquet beat tables even when pyarrow is installed",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--distributed",
        action="store_true",
        help="run through Lightning Trainer.predict with DDP (launch with "
        "torchrun or srun; see docs/scoring.md)",
    )
    parser.add_argument("--accelerator", default="cpu", help="with --distributed (cpu, gpu...)")
    parser.add_argument("--devices", default="auto", help="with --distributed: devices per node")
    parser.add_argument("--num-nodes", type=number_arg(int, minimum=1), default=1,
                        help="with --distributed")


def options_from_args(args: argparse.Namespace):
    """The :class:`~cardioliquid.scoring.batch.ScoreOptions` of parsed arguments.

    Event-rule flags not given stay None: the run takes them from the model.
    """
    # lazy: batch brings torch, writers pandas and wfdb, and `cardioliquid score --help`
    # (which imports this module) answers without them.
    from cardioliquid.scoring.batch import DEFAULT_MODELS, ScoreOptions
    from cardioliquid.scoring.writers import has_parquet

    return ScoreOptions(
        task=args.task,
        model=str(args.model or DEFAULT_MODELS[args.task]),
        out_dir=str(args.out),
        beats=args.beats,
        batch_size=args.batch_size,
        segment_s=args.segment_s,
        threshold=args.threshold,
        smooth_windows=args.smooth_windows,
        min_duration_s=args.min_duration,
        parquet=has_parquet() and not args.no_parquet,
        # Blank names are refused when the model is loaded, not silently dropped here.
        leads=() if args.lead is None else tuple(n.strip() for n in args.lead.split(",")),
    )


def run(args: argparse.Namespace) -> int:
    """Run ``cardioliquid score``; return the exit status."""
    opts = options_from_args(args)
    if args.out.exists() and not args.out.is_dir():
        raise CardioLiquidError(f"--out {args.out}: expected a folder (created if missing), "
                                f"got a file")
    if args.distributed:
        # lazy: torch and Lightning, kept out of `cardioliquid score --help`
        from cardioliquid.scoring.distributed import score_paths_distributed

        summary = score_paths_distributed(
            args.paths, opts, resume=args.resume, accelerator=args.accelerator,
            devices=args.devices, num_nodes=args.num_nodes, progress=not args.no_progress,
        )  # fmt: skip
    else:
        from cardioliquid.scoring.batch import score_paths  # lazy: torch, as above

        summary = score_paths(
            args.paths, opts, workers=args.workers, resume=args.resume, strict=args.strict,
            progress=not args.no_progress,
        )  # fmt: skip
    if summary is None:  # a non-zero rank of a distributed run: rank 0 reports
        return 0
    rec = summary["records"]
    resumed = f", {rec['resumed']} already scored (--resume)" if rec["resumed"] else ""
    other = (f"; {rec['set_aside']} other file{'s' * (rec['set_aside'] != 1)} set aside"
             if rec["set_aside"] else "")
    print(
        f"cardioliquid score: {rec['done']} scored{resumed}, {rec['failed']} failed of "
        f"{rec['total'] - rec['set_aside']} records{other}; "
        f"{summary['signal_hours_scored_this_run']:.2f} h of signal scored in "
        f"{summary['wall_time_s']:.1f} s "
        f"-> {args.out}",
        file=sys.stderr,
    )
    for f in summary["failures"][:10]:
        print(f"  failed: {f['reason']}", file=sys.stderr)
    for name, note in list(summary.get("leads_notes", {}).items())[:10]:
        print(f"  {name}: {note}", file=sys.stderr)
    set_aside = summary.get("skipped_files", [])
    for f in set_aside[:10]:
        print(f"  skipped: {f['path']} ({f['reason']})", file=sys.stderr)
    if rec["total"] == len(set_aside):
        print(f"cardioliquid score: {'error' if args.strict else 'warning'}: "
              f"{no_recording_message(args.paths, args.task, len(set_aside))}", file=sys.stderr)
        if args.strict:
            return 1
    if rec["failed"]:
        if args.distributed:  # torchrun reports any non-zero exit as a failed worker
            print(f"cardioliquid score: exit status 1 because {rec['failed']} record"
                  f"{'s' * (rec['failed'] != 1)} failed (listed in {args.out / 'failures.csv'}); "
                  f"the other records' outputs are complete. torchrun reports this exit "
                  f"status as a failed worker (ChildFailedError): no record was lost.",
                  file=sys.stderr)  # fmt: skip
        return 1
    return 0


def no_recording_message(paths: list[str], task: str, n_other: int) -> str:
    """What ``score`` says when ``paths`` hold no recording for ``task``."""
    from cardioliquid.scoring.discover import searched_for

    where = ", ".join(map(str, paths))
    other = f"; {n_other} file(s) of the other modality set aside" if n_other else ""
    return (f"no recording was found in {where}: a folder or glob is searched for "
            f"{searched_for(task)} files with --task {task}{other}")


def main(argv: list[str] | None = None) -> int:
    """``python -m cardioliquid.scoring.cli`` (what ``torchrun -m`` launches)."""
    parser = argparse.ArgumentParser(prog="cardioliquid score", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except CardioLiquidError as e:
        print(f"cardioliquid score: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
