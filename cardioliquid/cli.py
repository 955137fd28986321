"""The ``cardioliquid`` command: one sub-command per capability.

Each sub-command lives with the layer that owns it and exposes
``add_arguments(parser)`` and ``run(args) -> int``; this file only wires them.
Training has its own Lightning CLI, ``cardioliquid-train``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from cardioliquid import __version__
from cardioliquid.errors import CardioLiquidError

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "data": ("cardioliquid.io.cli", "pull recordings from PhysioNet or a mirror"),
    "evaluate": ("cardioliquid.evaluation.cli", "score a model against expert annotations"),
    "score": ("cardioliquid.scoring.cli", "batch-score recordings into standard outputs"),
    "profile": ("cardioliquid.device.cli", "size, latency and energy of a model on this device"),
}


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every sub-command registered."""
    parser = argparse.ArgumentParser(prog="cardioliquid", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"cardioliquid {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        mod = importlib.import_module(module)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cardioliquid`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except CardioLiquidError as e:
        print(f"cardioliquid {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
