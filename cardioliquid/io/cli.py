"""``cardioliquid data``: pull databases or the demo set, list what is local."""

from __future__ import annotations

import argparse
import sys

from cardioliquid.errors import CardioLiquidError
from cardioliquid.io.pull import DATABASES, MIRROR_ENV, list_local, pull


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``data pull`` and ``data list``."""
    sub = parser.add_subparsers(dest="data_command", required=True)
    p = sub.add_parser("pull", help="download databases (or the demo set) into --dest",
                       description="Download from PhysioNet via wfdb, or copy from a mirror; "
                                   "files are checksum-verified and a second pull fetches "
                                   "nothing. Several databases are pulled one after another; "
                                   "one that fails is reported and the others still come.")
    p.add_argument("database", nargs="+", choices=[*DATABASES, "demo"])
    p.add_argument("--records", default=None,
                   help="comma-separated records, e.g. 100,101 or chb01_03 (default: all); "
                        "with one database only")
    p.add_argument("--dest", default="data", help="data folder (default: ./data)")
    p.add_argument("--mirror", default=None,
                   help=f"directory (<mirror>/<database>/<files>) or http(s) URL used instead "
                        f"of PhysioNet (default: ${MIRROR_ENV})")
    ls = sub.add_parser("list", help="databases known, and what is under --dest")
    ls.add_argument("--dest", default="data")


def run(args: argparse.Namespace) -> int:
    """Execute ``data pull`` / ``data list``."""
    if args.data_command == "list":
        local = list_local(args.dest)
        for name, db in DATABASES.items():
            where = f"{local[name]} files in {args.dest}/{name}" if name in local else "not pulled"
            print(f"{name:9s} {db.description} [{where}]")
        print(f"{'demo':9s} the demo set (data/manifests/demo.json)")
        return 0
    databases = list(dict.fromkeys(args.database))  # each once, in the order given
    if args.records and len(databases) > 1:
        raise CardioLiquidError(f"--records names records of one database; got "
                                f"{len(databases)} ({', '.join(databases)}): pull them one "
                                f"at a time")
    records = None
    if args.records is not None:
        records = [r.strip() for r in args.records.split(",") if r.strip()]
        if not records:  # e.g. an empty shell variable: never read as "everything"
            raise CardioLiquidError(f"--records {args.records!r} names no record; leave the "
                                    f"option out to pull every record")
    failed = []
    for database in databases:
        try:
            print(pull(database, args.dest, records, args.mirror).summary())
        except (CardioLiquidError, OSError) as e:
            if len(databases) == 1:
                raise
            failed.append(database)
            print(f"cardioliquid data pull: {database} failed: {e}", file=sys.stderr)
    if failed:
        print(f"cardioliquid data pull: {len(failed)} of {len(databases)} databases failed: "
              f"{', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
