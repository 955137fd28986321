"""Choosing the ECG lead a model reads, by name (never by index).

MIT-BIH records 102 and 104 have no MLII (their leads are V5 and V2), and in
record 114 the two leads are swapped (V5 first, MLII second): selecting by
name handles both.
"""

from __future__ import annotations

from collections.abc import Sequence

from cardioliquid.errors import RecordingError
from cardioliquid.io.recording import Recording


def _norm(name: str) -> str:
    return name.strip().upper().replace(" ", "")


def listed_leads(channel_names: Sequence[str], preference: Sequence[str]) -> list[str]:
    """The channels named in ``preference``, in the order of ``preference``.

    Matching ignores case and spaces; the first entry is what
    :func:`select_lead` picks when there is one.
    """
    by_norm: dict[str, str] = {}
    for name in channel_names:
        by_norm.setdefault(_norm(name), name)
    picked = [by_norm[_norm(lead)] for lead in preference if _norm(lead) in by_norm]
    return list(dict.fromkeys(picked))


def fused_leads(channel_names: Sequence[str], preference: Sequence[str], n: int) -> list[str]:
    """The leads a model averaging ``n`` leads reads: the first ``n`` listed ones.

    The first is the lead :func:`select_lead` picks; the others are read on its
    beats (``BeatPreprocessing.fuse_leads``). Empty when no channel is listed.
    """
    return listed_leads(channel_names, preference)[:max(1, int(n))]


def select_lead(rec: Recording, preference: Sequence[str]) -> str:
    """Name of the first channel of ``rec`` that appears in ``preference``.

    Matching ignores case and spaces. A single-channel recording whose channel
    is not listed is used as is (an unnamed ECG).

    Raises
    ------
    RecordingError
        If the recording has several channels and none is in ``preference``.
    """
    listed = listed_leads(rec.channel_names, preference)
    if listed:
        return listed[0]
    if rec.n_channels == 1:
        return rec.channel_names[0]
    raise RecordingError(
        rec.source or rec.record_id,
        f"no usable ECG lead: expected one of {list(preference)}, got {rec.channel_names}",
    )
