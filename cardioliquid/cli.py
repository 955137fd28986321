"""The cardioliquid command: one sub-command per capability.

Each sub-command lives with the layer that owns it and exposes
``add_arguments(parser)`` and ``run(args) -> int``; this file only wires them.
Only the module of the sub-command asked for is imported (they bring in torch,
MNE and wfdb), so ``cardioliquid --help`` answers at once. Training has its own
Lightning CLI, ``cardioliquid-train``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from cardioliquid._version import __version__
from cardioliquid.errors import CardioLiquidError

DESCRIPTION = """\
Compact, explainable liquid neural networks for ECG arrhythmia and EEG seizures.

Pull PhysioNet data, evaluate a model against expert annotations, score recordings
in batch, and profile a model on this device. Train with cardioliquid-train
(configs in pipelines/configs/); replay recordings in the clinic demo with make demo."""

SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "data": ("cardioliquid.io.cli", "pull recordings from PhysioNet or a mirror",
             "cardioliquid data pull mitdb svdb   # into data/, or from $CARDIOLIQUID_DATA_MIRROR"),
    "evaluate": ("cardioliquid.evaluation.cli", "score a model against expert annotations",
                 "cardioliquid evaluate arrhythmia --data data/mitdb --records DS2 --json o.json"),
    "score": ("cardioliquid.scoring.cli", "batch-score recordings into standard outputs",
              "cardioliquid score data/mitdb --task arrhythmia --out runs/score-mitdb"),
    "profile": ("cardioliquid.device.cli", "size, latency and energy of a model on this device",
                "cardioliquid profile --model arrhythmia --json profile.json"),
}


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and examples as written; an option's default shown unless its help says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" in text or default in (None, False, argparse.SUPPRESS)
                or not action.option_strings):
            return text
        return f"{text} (default: %(default)s)"


def _requested(argv: list[str]) -> str | None:
    """The sub-command named in ``argv``, if any (the first word that is one)."""
    return next((a for a in argv if a in SUBCOMMANDS), None)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser; the arguments of ``command`` only (importing just its module).

    Parameters
    ----------
    command : str, optional
        The sub-command whose arguments to register; None registers none
        (enough for the top-level help).
    """
    examples = "\n".join(f"  {ex}" for _, _, ex in SUBCOMMANDS.values())
    parser = argparse.ArgumentParser(
        prog="cardioliquid", description=DESCRIPTION, formatter_class=_HelpFormatter,
        epilog=f"examples:\n{examples}\n\n'cardioliquid COMMAND --help' describes a command.")
    parser.add_argument("--version", action="version", version=f"cardioliquid {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                title="commands")
    for name, (module, help_text, example) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text,
                           epilog=f"example:\n  {example}", formatter_class=_HelpFormatter)
        if name == command:
            mod = importlib.import_module(module)
            mod.add_arguments(p)
            p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cardioliquid`` console script."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(_requested(argv)).parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except CardioLiquidError as e:
        print(f"cardioliquid {args.command}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # an output folder that is a file, a read-only or missing place...
        where = f"{e.filename}: " if e.filename else ""
        print(f"cardioliquid {args.command}: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
