"""The event list of a replay, navigation through it, and the files the page offers (no Streamlit).

Events are the expert's non-normal beats, the model's non-normal calls, the
beats where the two differ, and alerts (ventricular runs, seizures), each
with a time; :func:`next_event` finds the next or previous one of a kind
from the cursor, and :func:`default_event_kind` the kind the page offers first.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from cardioliquid.io.labels import AAMI_CLASSES
from cardioliquid.scoring.writers import write_annotations

EVENT_COLUMNS = ["time_s", "end_s", "source", "kind", "detail"]
DISAGREEMENT = "disagreement"


def event_table(
    expert: tuple[np.ndarray, np.ndarray] | None = None,
    model: tuple[np.ndarray, np.ndarray] | None = None,
    disagree: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    alerts: Sequence = (),
    expert_seizures: Sequence[tuple[float, float]] = (),
    normal: Sequence[str] = ("N", "bckg"),
) -> pd.DataFrame:
    """All events, in time order.

    Parameters
    ----------
    expert, model : (times, labels), optional
        Beat labels; normal ones (``normal``) are left out.
    disagree : (times, expert labels, model labels), optional
        Beats where the two differ.
    alerts : sequence of Alert
        The model's alerts (``time_s``, ``end_s``, ``kind``, ``detail``).
    expert_seizures : sequence of (onset, offset)

    Returns
    -------
    DataFrame
        Columns :data:`EVENT_COLUMNS`; ``kind`` is a class letter, ``"disagreement"``,
        ``"seizure"`` or an alert's kind.
    """
    rows: list[dict] = []
    for source, beats in (("expert", expert), ("model", model)):
        if beats is None:
            continue
        t, lab = np.asarray(beats[0], float), np.asarray(beats[1], str)
        keep = ~np.isin(lab, list(normal))
        rows += [{"time_s": a, "end_s": a, "source": source, "kind": b,
                  "detail": f"{source} beat {b}"} for a, b in zip(t[keep], lab[keep], strict=True)]
    if disagree is not None:
        for a, e, m in zip(*disagree, strict=True):
            rows.append({"time_s": float(a), "end_s": float(a), "source": "both",
                         "kind": DISAGREEMENT, "detail": f"expert {e}, model {m}"})  # fmt: skip
    for on, off in expert_seizures:
        rows.append({"time_s": float(on), "end_s": float(off), "source": "expert",
                     "kind": "seizure", "detail": f"expert seizure, {off - on:.0f} s"})  # fmt: skip
    for a in alerts:
        rows.append({"time_s": float(a.time_s), "end_s": float(a.end_s), "source": "model",
                     "kind": a.kind, "detail": a.detail})  # fmt: skip
    table = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    return table.sort_values(["time_s", "source"], kind="stable").reset_index(drop=True)


def _kind_order(kind: str) -> tuple[int, str]:
    """Beat classes in the AAMI order (N S V F Q), then alerts and seizures by name."""
    rank = AAMI_CLASSES.index(kind) if kind in AAMI_CLASSES else len(AAMI_CLASSES)
    return rank, kind


def event_kinds(table: pd.DataFrame) -> list[str]:
    """Navigation choices present in ``table``: disagreements first, then ``"<source> <kind>"``.

    The expert's kinds come before the model's; within a source, beat classes
    follow the AAMI order (S, V, F, Q), as on the timeline, then alerts and
    seizures.
    """
    out = [DISAGREEMENT] if (table["kind"] == DISAGREEMENT).any() else []
    pairs = table.loc[table["kind"] != DISAGREEMENT, ["source", "kind"]].drop_duplicates()
    ordered = sorted(pairs.itertuples(index=False), key=lambda p: (p[0], *_kind_order(p[1])))
    out += [f"{s} {k}" for s, k in ordered]
    return out


def default_event_kind(table: pd.DataFrame) -> str | None:
    """The kind of event a clinician looks at first on this recording (None: no events).

    The recording's main finding as the expert marked it: the expert's most
    frequent kind of event (the ventricular beats of MIT-BIH 208 rather than its
    fusion beats, the S beats of 232, the seizures of an EEG). Without expert
    events: the model's alerts, else its most frequent kind, else the
    disagreements. Ties go to the kind listed first by :func:`event_kinds`.
    """
    kinds = event_kinds(table)
    if not kinds:
        return None
    counts = table.groupby(["source", "kind"]).size()

    def most_frequent(source: str) -> str | None:
        mine = [k for k in kinds if k.startswith(f"{source} ")]
        if not mine:
            return None
        return max(mine, key=lambda k: (counts[tuple(k.split(" ", 1))], -mine.index(k)))

    alerts = [k for k in kinds
              if k.startswith("model ") and k.partition(" ")[2] not in AAMI_CLASSES]  # fmt: skip
    return (most_frequent("expert") or (alerts[0] if alerts else None)
            or most_frequent("model") or kinds[0])  # fmt: skip


def next_event(table: pd.DataFrame, choice: str, from_s: float, forward: bool = True
               ) -> float | None:
    """Time of the next (or previous) event of ``choice`` strictly after (before) ``from_s``."""
    if choice == DISAGREEMENT:
        sel = table["kind"] == DISAGREEMENT
    else:
        source, _, kind = choice.partition(" ")
        sel = (table["source"] == source) & (table["kind"] == kind)
    times = np.sort(table.loc[sel, "time_s"].to_numpy(dtype=float))
    if forward:
        later = times[times > from_s + 1e-6]
        return float(later[0]) if later.size else None
    earlier = times[times < from_s - 1e-6]
    return float(earlier[-1]) if earlier.size else None


def events_until(table: pd.DataFrame, t_s: float) -> pd.DataFrame:
    """The events of ``table`` that begin by ``t_s`` (a download of what is known at the
    cursor: the on-screen list holds the expert's later events too, to jump to)."""
    return table[table["time_s"] <= t_s].reset_index(drop=True)


def events_tsv(table: pd.DataFrame) -> str:
    """The event list as tab-separated text (onset and end in seconds)."""
    return table.to_csv(sep="\t", index=False, float_format="%.3f")


def wfdb_annotation_bytes(pred, extension: str = "cl") -> bytes:
    """The model's beats as a WFDB annotation file (``<record>.<extension>``), as bytes."""
    with tempfile.TemporaryDirectory(prefix="cardioliquid-ann-") as d:
        path = Path(d) / f"{pred.record_id or 'record'}.{extension}"
        write_annotations(pred, path)
        return path.read_bytes()
