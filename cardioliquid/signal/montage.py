"""The canonical EEG montage: CHB-MIT's 18-channel bipolar double banana.

:func:`to_bipolar` builds any list of bipolar pairs ``A-B`` from what a
recording offers, trying in order: a channel named ``A-B`` (CHB-MIT's repeated
``T8-P8``, which MNE names ``T8-P8-0`` / ``T8-P8-1``, is used once), the
reversed pair ``B-A`` negated, or two channels sharing a reference,
``A-R`` minus ``B-R`` (referential recordings such as ``EEG FP1-REF`` or plain
``Fp1``; CHB-MIT's ``F7-CS2`` blocks). Names match case-insensitively, and the
old 10-20 names T3/T4/T5/T6 stand for T7/T8/P7/P8 (and the typo 01 for O1).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from cardioliquid.errors import RecordingError
from cardioliquid.io.recording import Recording

CHBMIT_BIPOLAR: tuple[str, ...] = (
    "FP1-F7", "F7-T7", "T7-P7", "P7-O1",
    "FP1-F3", "F3-C3", "C3-P3", "P3-O1",
    "FP2-F4", "F4-C4", "C4-P4", "P4-O2",
    "FP2-F8", "F8-T8", "T8-P8", "P8-O2",
    "FZ-CZ", "CZ-PZ",
)  # fmt: skip
"""The 18 CHB-MIT double-banana pairs, in CHB-MIT's order."""

_OLD_NAMES = {"T3": "T7", "T4": "T8", "T5": "P7", "T6": "P8", "01": "O1", "02": "O2"}
_PREFIXES = ("EEG ", "EEG-", "EEG_")
_REFERENCE = "REF"  # the implicit reference of a channel named by one electrode


def _electrode(name: str) -> str:
    e = name.strip().upper()
    return _OLD_NAMES.get(e, e)


def parse_channel(name: str) -> tuple[str, str]:
    """``(active, reference)`` electrodes of a channel name.

    ``"FP1-F7"`` -> ``("FP1", "F7")``; ``"EEG Fp1-REF"`` -> ``("FP1", "REF")``;
    ``"Fp1"`` -> ``("FP1", "REF")``; MNE's duplicate suffix (``T8-P8-1``) is dropped.
    """
    n = name.strip().upper()
    for p in _PREFIXES:
        if n.startswith(p):
            n = n[len(p):]
    n = re.sub(r"-\d+$", "", n) if n.count("-") >= 2 else n  # MNE's "-0"/"-1" on duplicates
    parts = [p for p in n.split("-") if p]
    if len(parts) == 1:
        return _electrode(parts[0]), _REFERENCE
    ref = parts[1].strip()
    if ref in ("REF", "LE", "AR", "AVG", "A1", "A2", "M1", "M2", "CS2"):
        return _electrode(parts[0]), ref
    return _electrode(parts[0]), _electrode(ref)


def montage_plan(channel_names: Sequence[str], pairs: Sequence[str]
                 ) -> tuple[dict[str, tuple[int, int | None, float]], list[str]]:
    """How to derive each pair: ``{pair: (i, j or None, sign)}`` and the pairs that cannot be.

    The derived signal is ``sign * x[i]`` or ``x[i] - x[j]``.
    """
    parsed = [parse_channel(c) for c in channel_names]
    first: dict[tuple[str, str], int] = {}
    for i, key in enumerate(parsed):
        first.setdefault(key, i)  # duplicates (T8-P8 twice) are used once
    plan: dict[str, tuple[int, int | None, float]] = {}
    missing = []
    for pair in pairs:
        a, b = parse_channel(pair)
        if (a, b) in first:
            plan[pair] = (first[(a, b)], None, 1.0)
        elif (b, a) in first:
            plan[pair] = (first[(b, a)], None, -1.0)
        else:
            common = [(first[(a, r)], first[(b, r)]) for (e, r) in first
                      if e == a and (b, r) in first]
            if common:
                plan[pair] = (common[0][0], common[0][1], 1.0)
            else:
                missing.append(pair)
    return plan, missing


def channels_read(channel_names: Sequence[str], pairs: Sequence[str]) -> list[int]:
    """Indices of the recorded channels a model listing ``pairs`` reads, in file order.

    The channels picked by name when the file holds every pair as it is named
    (as the model's input does, :func:`cardioliquid.signal.windows.model_channels`);
    otherwise those the bipolar derivation of the pairs that can be built uses.
    """
    names = list(channel_names)
    if all(p in names for p in pairs):
        return sorted({names.index(p) for p in pairs})
    plan, _ = montage_plan(names, pairs)
    return sorted({k for i, j, _ in plan.values() for k in (i, j) if k is not None})


def to_bipolar(rec: Recording, pairs: Sequence[str] = CHBMIT_BIPOLAR) -> Recording:
    """Return ``rec`` re-referenced to the bipolar ``pairs`` (default: CHB-MIT 18 channels).

    Raises
    ------
    RecordingError
        Listing every pair that cannot be built from the recording's channels.
    """
    plan, missing = montage_plan(rec.channel_names, pairs)
    if missing:
        raise RecordingError(
            rec.source or rec.record_id,
            f"missing EEG channels: expected the montage {list(pairs)}, cannot build "
            f"{missing} from the channels {rec.channel_names}",
        )
    rows = []
    for pair in pairs:
        i, j, sign = plan[pair]
        rows.append(sign * rec.signal[i] if j is None else rec.signal[i] - rec.signal[j])
    signal = np.stack(rows).astype(np.float32) if rows else np.zeros((0, rec.n_samples))
    return replace(rec, signal=signal, channel_names=list(pairs),
                   meta={**rec.meta, "montage": "bipolar"})
