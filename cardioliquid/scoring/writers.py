"""Output files of a scoring run, each written to a temporary name and renamed.

Per record (``<name>`` is the record's output name):

- ECG: ``<name>.cla`` (WFDB annotations, beat symbols ``N S V F Q``, read back
  with ``wfdb.rdann(path, "cla")``), ``<name>_beats.csv`` (and
  ``<name>_beats.parquet`` when pyarrow is installed);
- EEG: ``<name>_events.tsv`` (SzCORE / BIDS events) and ``<name>_windows.csv``;
- ``<name>.done.json``: the record's manifest, written last. It lists every
  output with its size and SHA-256 (and the runner adds the fingerprint of
  the record's input files, :mod:`cardioliquid.scoring.inputs`); a record is
  complete exactly when its manifest exists and matches the files
  (:func:`is_complete`). :func:`record_outputs` names a record's files.

Run files: ``failures.csv`` and ``summary.json``. A killed run leaves at most
``*.tmp`` files, which the next run into the folder removes when their writer
is dead (:func:`remove_partial`); one run owns a folder at a time
(:mod:`cardioliquid.scoring.lock`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from cardioliquid._atomic import TMP_SUFFIX
from cardioliquid._atomic import atomic_write as write_atomic
from cardioliquid._atomic import atomic_write_text as write_text_atomic
from cardioliquid.decision.events import SeizureEvent
from cardioliquid.io.eeg import bids_events_name
from cardioliquid.io.labels import AAMI_TO_SYMBOL
from cardioliquid.scoring.lock import remove_stale_temporaries
from cardioliquid.scoring.results import BeatPredictions, WindowPredictions
from cardioliquid.signal.quality import true_runs

MANIFEST_SUFFIX = ".done.json"
ANNOTATION_EXTENSION = "cla"
EVENTS_COLUMNS = (
    "onset", "duration", "eventType", "confidence", "channels", "dateTime", "recordingDuration",
)  # fmt: skip


def remove_partial(out_dir: Path) -> list[Path]:
    """Delete the temporary files dead processes left in ``out_dir``; return them.

    A temporary whose writer is alive (its pid is in the name) is kept.
    """
    return remove_stale_temporaries(out_dir)


def _csv_text(header: Sequence[str], rows: Sequence[Sequence[Any]], delimiter: str = ",") -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


# --------------------------------------------------------------------------- ECG
def _with_rhythm_changes(
    pred: BeatPredictions, symbols: list[str]
) -> tuple[np.ndarray, list[str], list[str]]:
    """Beats plus WFDB rhythm annotations where AF-like rhythm starts and ends.

    ``+`` with aux ``(AFIB`` at the first beat of each AF-like stretch and
    ``(N`` at the first beat after it (the test tells AF-like from not, no
    finer), each just before its beat at the same sample, as in MIT-BIH.
    """
    if pred.af is None or not pred.af.any():
        return pred.sample, list(symbols), [""] * len(symbols)
    changes = {}
    for start, stop in true_runs(pred.af):
        changes[start] = "(AFIB"
        if stop < len(pred):
            changes[stop] = "(N"
    rows = []
    for i, (smp, sym) in enumerate(zip(pred.sample.tolist(), symbols, strict=True)):
        if i in changes:
            rows.append((smp, "+", changes[i]))
        rows.append((smp, sym, ""))
    samples, syms, aux = zip(*rows, strict=True)
    return np.asarray(samples, dtype=np.int64), list(syms), list(aux)


def write_annotations(pred: BeatPredictions, path: Path) -> Path:
    """Write predicted beats as a WFDB annotation file (``wfdb.wrann``).

    ``path`` is ``<dir>/<record>.<extension>``; symbols are the AAMI letters.
    A model with an AF gate adds rhythm annotations where AF-like rhythm
    starts and ends, in MIT-BIH's form (``+`` with aux ``(AFIB`` / ``(N``), so
    WFDB tools that compare rhythm episodes can read them.
    """
    import wfdb

    path = Path(path)
    record, ext = path.stem, path.suffix.lstrip(".")
    sample, symbols, aux = _with_rhythm_changes(
        pred, [AAMI_TO_SYMBOL.get(c, "Q") for c in pred.labels])

    def write(tmp: Path) -> None:
        # wrann names its file after the record: write it in a private folder.
        with tempfile.TemporaryDirectory(
            dir=path.parent, prefix=f".{record}.pid{os.getpid()}.", suffix=TMP_SUFFIX
        ) as d:
            if len(pred):
                wfdb.wrann(record, ext, sample, symbols, aux_note=aux, fs=pred.fs, write_dir=d)
            else:  # wrann refuses an empty set: an annotation file with only its end marker.
                Path(d, path.name).write_bytes(b"\x00\x00")
            os.replace(Path(d, path.name), tmp)

    return write_atomic(path, write)


def _column_text(header: Sequence[str], columns: Sequence[np.ndarray]) -> str:
    """CSV of equal-length string columns (vectorised: tables have thousands of rows)."""
    head = _csv_text(header, [])
    if not len(columns[0]):
        return head
    return head + "\n".join(map(",".join, zip(*columns, strict=True))) + "\n"


def _floats(x: np.ndarray) -> np.ndarray:
    return np.char.mod("%.6f", np.asarray(x, dtype=np.float64))


def _record_column(record_id: str, n: int) -> np.ndarray:
    quoted = _csv_text([record_id], []).rstrip("\n")  # csv quoting, if the name needs it
    return np.full(n, quoted, dtype=object)


def beat_table_text(pred: BeatPredictions) -> str:
    """The per-beat table as CSV text."""
    header = ["record", "sample", "time_s", "class", *[f"p_{c}" for c in pred.classes]]
    n = len(pred)
    columns = [
        _record_column(pred.record_id, n),
        pred.sample.astype(str),
        _floats(pred.time_s),
        pred.labels,
        *[_floats(pred.proba[:, i]) for i in range(len(pred.classes))],
    ]
    if pred.af is not None:
        header.append("af_rhythm")
        columns.append(pred.af.astype(np.int64).astype(str))
    return _column_text(header, columns)


def write_beat_table(pred: BeatPredictions, path: Path) -> Path:
    """Write the per-beat CSV: record, sample, time_s, class, one probability per class.

    A model with an AF gate adds ``af_rhythm``: 1 for beats in atrial-fibrillation-like rhythm.
    """
    return write_text_atomic(path, beat_table_text(pred))


def has_parquet() -> bool:
    """Whether pyarrow is installed (Parquet tables are then written too)."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def write_beat_parquet(pred: BeatPredictions, path: Path) -> Path:
    """Write the per-beat table as Parquet (needs pyarrow)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols: dict[str, Any] = {
        "record": pa.array([pred.record_id] * len(pred), pa.string()),
        "sample": pa.array(pred.sample, pa.int64()),
        "time_s": pa.array(pred.time_s, pa.float64()),
        "class": pa.array(pred.labels.tolist(), pa.string()),
    }
    for i, c in enumerate(pred.classes):
        cols[f"p_{c}"] = pa.array(pred.proba[:, i], pa.float32())
    if pred.af is not None:
        cols["af_rhythm"] = pa.array(pred.af, pa.bool_())
    table = pa.table(cols)
    return write_atomic(Path(path), lambda tmp: pq.write_table(table, str(tmp)))


# --------------------------------------------------------------------------- EEG
def format_datetime(meas_date: Any) -> str:
    """SzCORE ``dateTime`` (``YYYY-MM-DD HH:MM:SS``) of a recording start, or ``n/a``."""
    if meas_date in (None, "", "None"):
        return "n/a"
    try:
        when = (
            meas_date if isinstance(meas_date, datetime) else datetime.fromisoformat(str(meas_date))
        )
    except ValueError:
        return "n/a"
    return when.strftime("%Y-%m-%d %H:%M:%S")


def events_table(
    events: Sequence[SeizureEvent],
    duration_s: float,
    date_time: str = "n/a",
    channels: Sequence[str] = (),
) -> list[list[str]]:
    """Rows of an SzCORE events file; a record without seizures gets one ``bckg`` row."""
    chans = ",".join(channels) if channels else "n/a"
    dur = f"{duration_s:.4f}"
    if not events:
        return [["0.0000", dur, "bckg", "n/a", "n/a", date_time, dur]]
    return [
        [f"{e.onset:.4f}", f"{e.duration:.4f}", "sz", f"{e.confidence:.4f}", chans, date_time, dur]
        for e in events
    ]


def write_events(
    events: Sequence[SeizureEvent],
    path: Path,
    duration_s: float,
    date_time: str = "n/a",
    channels: Sequence[str] = (),
) -> Path:
    """Write seizure events as an SzCORE / BIDS ``*_events.tsv``."""
    rows = events_table(events, duration_s, date_time, channels)
    return write_text_atomic(path, _csv_text(EVENTS_COLUMNS, rows, delimiter="\t"))


def write_window_table(pred: WindowPredictions, path: Path) -> Path:
    """Write per-window probabilities: record, start_s, end_s, class, one column per class."""
    header = ["record", "start_s", "end_s", "class", *[f"p_{c}" for c in pred.classes]]
    columns = [
        _record_column(pred.record_id, len(pred)),
        _floats(pred.start_s),
        _floats(pred.end_s),
        pred.labels,
        *[_floats(pred.proba[:, i]) for i in range(len(pred.classes))],
    ]
    return write_text_atomic(path, _column_text(header, columns))


# --------------------------------------------------------------------------- manifests
def sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def record_outputs(name: str, task: str, parquet: bool) -> list[str]:
    """The names of the files a record's scoring writes into the output folder, manifest last.

    Parameters
    ----------
    name : str
        The record's output name.
    task : str
        ``"arrhythmia"`` (``.cla``, beat tables) or ``"seizure"`` (events, window table).
    parquet : bool
        Whether the beat table is also written as Parquet.
    """
    if task == "arrhythmia":
        files = [f"{name}.{ANNOTATION_EXTENSION}", f"{name}_beats.csv"]
        files += [f"{name}_beats.parquet"] if parquet else []
    else:
        files = [events_file_name(name), f"{name}_windows.csv"]
    return [*files, f"{name}{MANIFEST_SUFFIX}"]


def events_file_name(name: str) -> str:
    """The events file of record ``name``, named as BIDS and SzCORE name it (and as the
    loader looks for a reference, :func:`cardioliquid.io.eeg.bids_events_name`)."""
    return bids_events_name(name) or f"{name}_events.tsv"


def manifest_path(out_dir: Path, name: str) -> Path:
    """Where the manifest of record ``name`` goes."""
    return Path(out_dir) / f"{name}{MANIFEST_SUFFIX}"


def write_manifest(out_dir: Path, name: str, files: Sequence[Path], info: dict[str, Any]) -> Path:
    """Write the record's manifest (last): its outputs with sizes and hashes, and ``info``."""
    entries = {
        Path(f).name: {"bytes": Path(f).stat().st_size, "sha256": sha256(Path(f))} for f in files
    }
    doc = {"record": name, "files": entries, **info}
    return write_text_atomic(manifest_path(out_dir, name), json.dumps(doc, indent=1) + "\n")


def read_manifest(out_dir: Path, name: str) -> dict[str, Any] | None:
    """The record's manifest, or None when absent or unreadable."""
    try:
        return json.loads(manifest_path(out_dir, name).read_text())
    except (OSError, ValueError):
        return None


def is_complete(out_dir: Path, name: str, check_hashes: bool = True) -> bool:
    """Whether record ``name`` has a manifest whose files all exist unchanged."""
    doc = read_manifest(out_dir, name)
    if not doc or "files" not in doc:
        return False
    for fname, meta in doc["files"].items():
        p = Path(out_dir) / fname
        if not p.is_file() or p.stat().st_size != meta.get("bytes"):
            return False
        if check_hashes and sha256(p) != meta.get("sha256"):
            return False
    return True


def write_failures(path: Path, failures: Sequence[dict[str, str]]) -> Path:
    """Write ``failures.csv`` (path, record, error, reason), sorted by path."""
    header = ["path", "record", "error", "reason"]
    rows = [[f.get(k, "") for k in header] for f in sorted(failures, key=lambda f: f["path"])]
    return write_text_atomic(path, _csv_text(header, rows))


def write_summary(path: Path, summary: dict[str, Any]) -> Path:
    """Write ``summary.json``."""
    return write_text_atomic(path, json.dumps(summary, indent=1, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
