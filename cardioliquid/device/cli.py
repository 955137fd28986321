"""``cardioliquid profile``: size, latency and energy of a model on this device.

Examples
--------
::

    cardioliquid profile                                  # the shipped arrhythmia model
    cardioliquid profile --model seizure --json out/seizure_profile.json
    cardioliquid profile --model runs/best.ckpt --device cuda --repeats 1000
"""

from __future__ import annotations

import argparse

from cardioliquid._check import number_arg
from cardioliquid.device.profile import (
    DEFAULT_HEART_RATE_BPM,
    DEFAULT_WATTS_PER_CORE,
    profile_model,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``profile`` options."""
    parser.add_argument(
        "--model", default="arrhythmia",
        help="shipped model name (arrhythmia, seizure, seizure-1ch) or a .safetensors/.ckpt "
             "file (default: arrhythmia)",
    )  # fmt: skip
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--json", metavar="OUT", help="also write the report as JSON here")
    parser.add_argument(
        "--repeats",
        type=number_arg(int, minimum=1),
        default=200,
        help="timed batch-1 calls per latency figure (default 200)",
    )
    parser.add_argument("--warmup", type=number_arg(int, minimum=0), default=20,
                        help="untimed calls first (default 20)")
    parser.add_argument(
        "--batch", type=number_arg(int, minimum=1), default=256,
        help="batch size of the throughput figure (default 256)",
    )
    parser.add_argument(
        "--threads",
        type=number_arg(int, minimum=1),
        default=1,
        help="torch CPU threads (default 1: one core, as on a device)",
    )
    parser.add_argument(
        "--watts-per-core",
        type=number_arg(float, minimum=0, exclusive_minimum=True),
        default=DEFAULT_WATTS_PER_CORE,
        help="assumed power of one busy core for the rated-power estimate "
        f"(default {DEFAULT_WATTS_PER_CORE:.3g} W = 280 W TDP / 64 cores)",
    )
    parser.add_argument(
        "--heart-rate", type=number_arg(float, minimum=0, exclusive_minimum=True),
        default=DEFAULT_HEART_RATE_BPM,
        help="assumed beats per minute for the ECG real-time factor (default 75)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Profile, print the table, write the JSON if asked."""
    report = profile_model(
        args.model,
        device=args.device,
        repeats=args.repeats,
        warmup=args.warmup,
        batch=args.batch,
        threads=args.threads,
        watts_per_core=args.watts_per_core,
        heart_rate_bpm=args.heart_rate,
    )
    print(report.to_table())
    if args.json:
        path = report.write_json(args.json)
        print(f"\nwrote {path}")
    return 0
