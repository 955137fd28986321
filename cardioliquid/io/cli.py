"""``cardioliquid data``: pull databases or the demo set, list what is local."""

from __future__ import annotations

import argparse

from cardioliquid.io.pull import DATABASES, MIRROR_ENV, list_local, pull


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``data pull`` and ``data list``."""
    sub = parser.add_subparsers(dest="data_command", required=True)
    p = sub.add_parser("pull", help="download a database (or the demo set) into --dest",
                       description="Download from PhysioNet via wfdb, or copy from a mirror; "
                                   "files are checksum-verified and a second pull fetches "
                                   "nothing.")
    p.add_argument("database", choices=[*DATABASES, "demo"])
    p.add_argument("--records", default=None,
                   help="comma-separated records, e.g. 100,101 or chb01_03 (default: all)")
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
    records = [r.strip() for r in args.records.split(",") if r.strip()] if args.records else None
    report = pull(args.database, args.dest, records, args.mirror)
    print(report.summary())
    return 0
