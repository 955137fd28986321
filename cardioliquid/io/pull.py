"""Pull PhysioNet databases (or the named demo set) into a local data folder.

Sources, first that applies:

* ``mirror`` argument or ``$CARDIOLIQUID_DATA_MIRROR`` set to a **directory**:
  files are copied from ``<mirror>/<database>/<files>`` (the layout of
  ``../shared/data``);
* set to an **http(s) URL**: it becomes wfdb's database index URL, files are
  fetched from ``<url>/<database>/<files>`` with wfdb's downloader;
* otherwise PhysioNet, through :func:`wfdb.dl_files`.

Each file is written under a temporary name, checked against the database's
``SHA256SUMS.txt`` when it publishes one, and only then renamed into place, so
a partial or corrupt download never looks complete. A file already present
(with the right checksum when one is known) is not fetched again.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cardioliquid._atomic import atomic_write
from cardioliquid.errors import CardioLiquidError, RecordingError
from cardioliquid.io.eeg import events_tsv_candidates
from cardioliquid.io.wfdb import MITDB_RECORDS

MIRROR_ENV = "CARDIOLIQUID_DATA_MIRROR"
CHECKSUMS = "SHA256SUMS.txt"


@dataclass(frozen=True)
class Database:
    """A database ``data pull`` knows.

    Attributes
    ----------
    name : str
        Local folder and mirror folder name.
    physionet : str or None
        PhysioNet project and version (``mitdb/1.0.0``); None when mirror-only.
    kind : str
        ``"wfdb"`` (records with ``.hea``/``.dat``/annotations), ``"chbmit"``
        or ``"files"`` (plain file list, mirror-only excerpts).
    records : tuple of str
        Default records (WFDB) when the database's RECORDS list is unavailable.
    annotators : tuple of str
    description : str
    """

    name: str
    physionet: str | None
    kind: str
    records: tuple[str, ...] = ()
    annotators: tuple[str, ...] = ("atr",)
    description: str = ""


DATABASES: dict[str, Database] = {
    "mitdb": Database("mitdb", "mitdb/1.0.0", "wfdb", MITDB_RECORDS, ("atr",),
                      "MIT-BIH Arrhythmia Database, 48 records, 360 Hz"),
    "svdb": Database("svdb", "svdb/1.0.0", "wfdb", (), ("atr",),
                     "MIT-BIH Supraventricular Arrhythmia Database, 78 records, 128 Hz"),
    "incartdb": Database("incartdb", "incartdb/1.0.0", "wfdb", (), ("atr",),
                         "St Petersburg INCART 12-lead Arrhythmia Database, 75 records, 257 Hz"),
    "chbmit": Database("chbmit", "chbmit/1.0.0", "chbmit", (), (),
                       "CHB-MIT Scalp EEG Database (pass --records chb01_03,... or chb01)"),
    "eeg": Database("eeg", None, "files", (), (),
                    "the project's CHB-MIT EDF+ excerpts (directory mirror only)"),
    "bonn": Database("bonn", None, "files", (), (),
                     "Bonn EEG segments A-E (directory mirror only)"),
}


@dataclass
class PullReport:
    """What one pull did, file by file."""

    database: str
    source: str
    downloaded: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    verified: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line with the counts."""
        return (f"{self.database}: {len(self.downloaded)} downloaded, {len(self.present)} already "
                f"present, {len(self.verified)} checksum-verified, {len(self.unverified)} without "
                f"a published checksum (from {self.source})")


def sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def parse_checksums(text: str) -> dict[str, str]:
    """``SHA256SUMS.txt`` content -> {relative path: hex digest}."""
    out = {}
    for line in text.splitlines():
        parts = line.strip().split(maxsplit=1)
        if len(parts) == 2 and re.fullmatch(r"[0-9a-fA-F]{64}", parts[0]):
            out[parts[1].lstrip("*").strip()] = parts[0].lower()
    return out


def resolve_mirror(mirror: str | None = None) -> str | None:
    """The mirror in force: ``mirror``, else ``$CARDIOLIQUID_DATA_MIRROR``, else None."""
    value = mirror if mirror is not None else os.environ.get(MIRROR_ENV)
    return value or None


def _is_url(mirror: str | None) -> bool:
    return bool(mirror) and mirror.startswith(("http://", "https://"))


class _Source:
    """Fetches one database's files to a given local path."""

    def __init__(self, db: Database, mirror: str | None) -> None:
        self.db = db
        self.mirror = mirror
        if mirror and not _is_url(mirror):
            self.root = Path(mirror) / db.name
            if not self.root.is_dir():
                hint = (f"; to pull from PhysioNet instead, pass --mirror '' or unset "
                        f"{MIRROR_ENV}" if db.physionet else "")
                if not Path(mirror).is_dir():  # the mirror itself, not a database in it
                    raise CardioLiquidError(f"{mirror}: mirror folder does not exist (from "
                                            f"--mirror or {MIRROR_ENV}){hint}")
                raise CardioLiquidError(f"{self.root}: mirror has no {db.name}/ folder "
                                        f"(expected the layout <mirror>/<database>/<files>)"
                                        f"{hint}")
            self.label = f"directory mirror {self.root}"
        elif mirror:
            self.label = f"URL mirror {mirror.rstrip('/')}/{db.name}"
        else:
            if db.physionet is None:
                raise CardioLiquidError(f"{db.name} is not on PhysioNet: set --mirror or "
                                        f"{MIRROR_ENV} to a directory holding {db.name}/")
            self.label = f"PhysioNet {db.physionet}"

    def fetch(self, rel: str, target: Path) -> None:
        """Write the file ``rel`` of the database to ``target`` (a temporary name)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        if self.mirror and not _is_url(self.mirror):
            src = self.root / rel
            if not src.is_file():
                raise FileNotFoundError(f"{src} not found in the mirror")
            shutil.copyfile(src, target)
            return
        import wfdb.io.download as dl  # wfdb's downloader (index URL set below)

        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".dl-"))
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                if _is_url(self.mirror):
                    # wfdb fetches <db_index_url>/<db>/<subdir>/<file>; dl_files would first
                    # ask physionet.org for the latest version, so call its per-file step.
                    old = dl.config.db_index_url
                    dl.config.db_index_url = self.mirror.rstrip("/") + "/"
                    try:
                        subdir = "" if str(Path(rel).parent) == "." else Path(rel).parent.as_posix()
                        (staging / subdir).mkdir(parents=True, exist_ok=True)
                        dl.dl_pn_file((Path(rel).name, subdir, self.db.name, str(staging), True,
                                       True))
                    finally:
                        dl.config.db_index_url = old
                else:
                    import wfdb

                    wfdb.dl_files(self.db.physionet.split("/")[0], str(staging), [rel],
                                  keep_subdirs=True, overwrite=True)
            got = staging / rel
            if not got.is_file():
                raise FileNotFoundError(f"{rel} was not downloaded")
            os.replace(got, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def read_text(self, rel: str, tmp_dir: Path) -> str | None:
        """Content of a small text file (RECORDS, SHA256SUMS.txt), or None if absent."""
        tmp = tmp_dir / f".{Path(rel).name}.part"
        try:
            self.fetch(rel, tmp)
            return tmp.read_text(errors="replace")
        except Exception:  # absent from this source: the caller falls back
            return None
        finally:
            tmp.unlink(missing_ok=True)


def _wfdb_files(db: Database, records: list[str], sums: dict[str, str]) -> list[str]:
    files = []
    for rec in records:
        listed = [f for f in sums if re.fullmatch(rf"{re.escape(rec)}\.(hea|dat|\w+)", f)
                  and (f.endswith((".hea", ".dat")) or f.rsplit(".", 1)[1] in db.annotators)]
        files += sorted(listed) or [f"{rec}.hea", f"{rec}.dat",
                                    *(f"{rec}.{a}" for a in db.annotators)]
    return files


def _chbmit_files(records: list[str], sums: dict[str, str]) -> list[str]:
    files = []
    for rec in records:
        case = rec[:5]
        if re.fullmatch(r"chb\d\d", rec):  # a whole case
            chosen = [f for f in sums if f.startswith(f"{case}/")]
        else:
            edf = f"{case}/{rec.removesuffix('.edf')}.edf"
            chosen = [edf] + ([f"{edf}.seizures"] if f"{edf}.seizures" in sums else [])
        summary = f"{case}/{case}-summary.txt"
        files += [*chosen, summary]
    return list(dict.fromkeys(files))


def _mirror_files(source: _Source) -> list[str]:
    return sorted(p.relative_to(source.root).as_posix() for p in source.root.rglob("*")
                  if p.is_file() and not p.name.startswith("."))


def _named_files(db: Database, source: _Source, records: list[str]) -> list[str]:
    """Paths relative to the database; in a directory mirror a bare name (``Z001``) is found."""
    if not hasattr(source, "root"):
        return records
    available = _mirror_files(source)
    out = []
    for rec in records:
        if rec in available:
            out.append(rec)
        else:
            by_stem = [f for f in available if Path(f).stem == rec or Path(f).name == rec]
            if len(by_stem) != 1:
                what = ("no file" if not by_stem
                        else f"{len(by_stem)} files ({', '.join(by_stem)})")  # fmt: skip
                raise CardioLiquidError(
                    f"{db.name}: {rec!r} matches {what} in {source.label}; name a file as a "
                    f"path relative to {db.name}/ (e.g. "
                    f"{available[0] if available else 'A_Z/Z001.txt'})")
            out.append(by_stem[0])
        # the seizure reference the loader reads beside a recording comes with it
        rel = Path(out[-1])
        companions = [c.as_posix() for c in events_tsv_candidates(rel)]
        out += [c for c in [*companions, f"{rel.as_posix()}.seizures"] if c in available]
    return list(dict.fromkeys(out))  # a file named and also pulled as a companion, once


def _unlisted(db: Database, source: _Source, records: list[str], tmp_dir: Path) -> None:
    """Refuse records a mirror's ``RECORDS`` does not list (a mirror may hold a subset)."""
    if not source.mirror:
        return
    text = source.read_text("RECORDS", tmp_dir)
    if not text:
        return
    listed = text.split()
    missing = [r for r in records if r not in listed]
    if missing:
        shown = ", ".join(listed[:12]) + (", ..." if len(listed) > 12 else "")
        raise CardioLiquidError(
            f"{db.name}: {', '.join(missing)} not in the RECORDS of {source.label}, which "
            f"lists {len(listed)} records ({shown})"
            + (f"; to pull from PhysioNet instead, pass --mirror '' or unset {MIRROR_ENV}"
               if db.physionet else ""))


def _list_files(db: Database, source: _Source, records: list[str] | None, sums: dict[str, str],
                tmp_dir: Path) -> list[str]:
    if db.kind == "files":
        if not records and hasattr(source, "root"):  # a directory mirror can be listed
            return _mirror_files(source)
        if not records:
            raise CardioLiquidError(f"{db.name}: pass --records with the files to pull "
                                    f"(paths relative to {db.name}/), or pull the demo set")
        return _named_files(db, source, records)
    if db.kind == "chbmit":
        if not records:
            raise CardioLiquidError("chbmit is 43 GB: pass --records (e.g. chb01_03,chb01_04 "
                                    "or a whole case chb01)")
        return _chbmit_files(records, sums)
    if not records:
        text = source.read_text("RECORDS", tmp_dir)
        records = text.split() if text else list(db.records)
        if not records:
            raise CardioLiquidError(f"{db.name}: no RECORDS list found; pass --records")
        return _wfdb_files(db, records, sums)
    files = _wfdb_files(db, records, sums)
    for rel in files:  # an unsafe name is refused as such, before asking the mirror about it
        inside_dest(tmp_dir, rel)
    _unlisted(db, source, records, tmp_dir)
    return files


def pull(
    database: str,
    dest: str | os.PathLike = "data",
    records: list[str] | None = None,
    mirror: str | None = None,
) -> PullReport:
    """Download (or copy) ``database`` into ``dest/<database>/``.

    Parameters
    ----------
    database : str
        A key of :data:`DATABASES`, or ``"demo"`` (see :func:`pull_demo`).
    dest : path
        Data folder (default ``data`` under the current directory).
    records : list of str, optional
        Records to pull (``["100", "101"]``; CHB-MIT ``chb01_03`` or a case
        ``chb01``); default all records of a WFDB database.
    mirror : str, optional
        Directory or http(s) URL overriding PhysioNet (default
        ``$CARDIOLIQUID_DATA_MIRROR``).

    Returns
    -------
    PullReport

    Raises
    ------
    RecordingError
        A file fails its checksum or cannot be fetched (nothing is left
        behind under its final name).
    CardioLiquidError
        Unknown database, or a mirror without it.
    """
    if database == "demo":
        reports = pull_demo(dest, mirror)
        merged = PullReport("demo", "; ".join(sorted({r.source for r in reports})))
        for r in reports:
            for name in ("downloaded", "present", "verified", "unverified"):
                getattr(merged, name).extend(getattr(r, name))
        return merged
    if database not in DATABASES:
        raise CardioLiquidError(f"Invalid value for the 'database' parameter. Allowed values are "
                                f"{', '.join(repr(d) for d in [*DATABASES, 'demo'])}, "
                                f"but got {database!r} instead.")
    db = DATABASES[database]
    source = _Source(db, resolve_mirror(mirror))
    out_dir = Path(dest) / db.name
    out_dir.mkdir(parents=True, exist_ok=True)
    text = source.read_text(CHECKSUMS, out_dir)
    sums = parse_checksums(text) if text else {}
    report = PullReport(db.name, source.label)
    files = _list_files(db, source, records, sums, out_dir)
    for rel in files:  # every path is checked before the first file is written
        inside_dest(out_dir, rel)
    for rel in files:
        _pull_file(source, rel, out_dir, sums.get(rel), report)
    return report


def inside_dest(out_dir: Path, rel: str) -> Path:
    """``out_dir / rel`` resolved, or :class:`RecordingError` when it leaves ``out_dir``.

    File names come from a mirror's ``RECORDS``, its checksum list or a manifest,
    all untrusted: ``../x``, an absolute path or a link out of the folder is refused.
    """
    root = Path(out_dir).resolve()
    rel_path = Path(str(rel))
    target = (root / rel_path).resolve()
    if rel_path.is_absolute() or not target.is_relative_to(root) or target == root:
        raise RecordingError(
            Path(out_dir) / rel_path,
            f"unsafe file name in the record list: expected a path inside {root}, got {rel!r}",
        )
    return target


def _pull_file(source: _Source, rel: str, out_dir: Path, digest: str | None,
               report: PullReport) -> None:
    final = inside_dest(out_dir, rel)
    if final.is_file() and (digest is None or sha256(final) == digest):
        report.present.append(rel)
        (report.verified if digest else report.unverified).append(rel)
        return

    def fetch_checked(tmp: Path) -> None:
        try:
            source.fetch(rel, tmp)
        except Exception as e:
            raise RecordingError(final, f"download failed from {source.label}: {e}") from e
        if digest is not None:
            got = sha256(tmp)
            if got != digest:
                raise RecordingError(final, f"checksum mismatch: expected SHA-256 {digest} "
                                            f"(from {CHECKSUMS}), got {got}")

    # renamed into place only when whole and verified, readable as open() would make it
    atomic_write(final, fetch_checked)
    report.downloaded.append(rel)
    (report.verified if digest else report.unverified).append(rel)


pull_database = pull


def manifest_path(name: str = "demo") -> Path:
    """``data/manifests/<name>.json`` of the source tree (the demo set's definition)."""
    here = Path(__file__).resolve().parents[2] / "data" / "manifests" / f"{name}.json"
    cwd = Path("data") / "manifests" / f"{name}.json"
    for cand in (here, cwd):
        if cand.is_file():
            return cand
    raise CardioLiquidError(f"{here}: manifest {name!r} not found")


def load_manifest(name: str = "demo") -> dict:
    """The parsed manifest ``name``."""
    path = manifest_path(name)
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise RecordingError(path, f"manifest: expected JSON, got {e}") from e


def pull_demo(dest: str | os.PathLike = "data", mirror: str | None = None) -> list[PullReport]:
    """Pull the demo set of ``data/manifests/demo.json``.

    Items carry ``when``: ``"always"``, ``"mirror"`` (the project's short
    CHB-MIT EDF+ excerpts under ``eeg/``, which exist only in the mirror) or
    ``"no-mirror"`` (the full CHB-MIT record from PhysioNet, about 40 MB).
    """
    manifest = load_manifest("demo")
    m = resolve_mirror(mirror)
    reports = []
    for item in manifest["items"]:
        wanted = item.get("when", "always")
        if (wanted == "mirror" and not m) or (wanted == "no-mirror" and m):
            continue
        reports.append(pull(item["database"], dest, item.get("records"), mirror=m))
    return reports


def list_local(dest: str | os.PathLike = "data") -> dict[str, int]:
    """Number of files per database folder under ``dest`` (caches excluded)."""
    root = Path(dest)
    if not root.is_dir():
        return {}
    return {d.name: sum(1 for f in d.rglob("*") if f.is_file() and not f.name.startswith("."))
            for d in sorted(root.iterdir()) if d.is_dir() and d.name not in ("cache", "manifests")}
