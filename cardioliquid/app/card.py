"""What the model card says the model cannot do, for the page beside its decisions (no Streamlit).

Figures come from the evaluation results stored under ``pipelines/results``
whose ``model_sha256`` is this model file's, so a replaced model never shows
another model's figures; the text comes from the ``## Limits`` section of the
card beside a shipped model (``<name>.md``).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parents[2] / "pipelines" / "results"
AF_CHECK = "af_rhythm_mitdb.json"


@dataclass
class CardLimits:
    """Known limits of one model file.

    Attributes
    ----------
    held_out : list of str
        Measured figures on patients the model never saw, each naming its source file.
    rhythm : str
        What the AF test also flags (heartbeat models with an AF gate), or empty.
    limits_text : str
        The card's ``## Limits`` section (markdown), or empty.
    sha256 : str
        The model file's hash the figures were matched on.
    """

    held_out: list[str] = field(default_factory=list)
    rhythm: str = ""
    limits_text: str = ""
    sha256: str = ""


@lru_cache(maxsize=16)
def _sha256(path: str, stamp: float) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _pct(x: Any) -> str:
    return "—" if not isinstance(x, int | float) else f"{x:.1f}"


def _beat_line(name: str, d: dict[str, Any]) -> str | None:
    veb, sveb = d.get("veb") or {}, d.get("sveb") or {}
    if not veb and not sveb:
        return None
    mode = d.get("mode", "")
    calib = float(d.get("calibrate_minutes") or 0.0)
    where = f"{d.get('records_requested', '?')} ({d.get('n_records', '?')} records"
    where += f", {d['n_beats']:,} beats)" if isinstance(d.get("n_beats"), int) else ")"
    how = "patient-adaptive after " + f"{calib:g} min" if calib else mode or "inter-patient"
    lead = d.get("lead_preference") or []
    lead_note = ""
    if lead and lead[0] not in ("MLII", "ML2"):  # V1,V2,V4,V5: whichever each record has
        lead_note = (f", read from {lead[0]}" if len(lead) == 1 else
                     f", read from the first of {'/'.join(lead)} each record has")
    return (f"{where}, {how}{lead_note}: VEB Se {_pct(veb.get('se'))} / +P {_pct(veb.get('ppv'))}"
            f" %, SVEB Se {_pct(sveb.get('se'))} / +P {_pct(sveb.get('ppv'))} % (`{name}`)")


def _seizure_line(name: str, d: dict[str, Any]) -> str | None:
    ev = d.get("event")
    if not isinstance(ev, dict) or not isinstance(ev.get("se"), int | float):
        return None
    fa, hours = ev.get("fa_per_24h"), d.get("duration_h")
    fa_text = f", {fa:.1f} false alarms per 24 h" if isinstance(fa, int | float) else ""
    if isinstance(hours, int | float) and hours < 1.0:  # a daily rate from minutes means little
        fa_text = (f", {ev.get('fp', '?')} false alarms in {60 * hours:.0f} min of EEG (too "
                   f"little to estimate false alarms per 24 h)")
    return (f"{d.get('mode', 'held-out')}, {d.get('n_records', '?')} records: seizure events "
            f"found {ev['se']:.0f} % ({ev.get('tp', '?')} of {ev.get('n_ref', '?')}), precision "
            f"{_pct(ev.get('precision'))} %{fa_text} (`{name}`)")


@lru_cache(maxsize=16)
def _results_index(results_dir: str, stamp: float) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for p in sorted(Path(results_dir).glob("*.json")):
        try:
            d = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(d, dict) and isinstance(d.get("model_sha256"), str):
            out.append((p.name, d))
    return out


def _limits_section(card: Path) -> str:
    try:
        text = card.read_text()
    except OSError:
        return ""
    m = re.search(r"^## Limits\s*\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
    return m.group(1).strip() if m else ""


def _af_check(results_dir: Path, p_waves: bool = False, every_lead: bool = False) -> str:
    try:
        d = json.loads((results_dir / AF_CHECK).read_text())
    except (OSError, ValueError):
        return ""
    key = "other_flagged"
    if p_waves:  # the condition on the first lead, or on every lead the model averages
        key += "_atrial_max" if every_lead else "_atrial"
    parts = []
    for split in ("DS1", "DS2"):
        pooled = (d.get(split) or {}).get("pooled") or {}
        if pooled.get("other") and key in pooled:
            share = 100.0 * pooled[key] / pooled["other"]
            parts.append(f"{share:.1f} % of {split}'s beats outside AF and flutter")
    if not parts:
        return ""
    test = ("The AF test with its P-wave condition" + (" on every lead" if every_lead else "")
            if p_waves else "The AF test")
    return (f"{test} flags irregular rhythm, not AF alone: it also flags "
            + " and ".join(parts) + ", mostly in records with frequent ectopy or other "
            f"supraventricular arrhythmias; S beats there are reported as N "
            f"(`{AF_CHECK}`).")  # fmt: skip


def card_limits(model_path: str, task: str, af_gate: bool = False,
                results_dir: str | Path = RESULTS_DIR, p_waves: bool = False,
                every_lead: bool = False) -> CardLimits:
    """The known limits of the model file at ``model_path``.

    Parameters
    ----------
    model_path : str
        The loaded model's file (empty for an in-memory model: nothing is known).
    task : str
        ``"arrhythmia"`` or ``"seizure"``.
    af_gate : bool
        Whether the model's calls pass the AF gate (the rhythm caveat applies).
    p_waves : bool
        Whether that gate also needs inconsistent P waves (an ``"atrial"`` rule).
    results_dir : path
        Where evaluation JSON files with ``model_sha256`` are.
    every_lead : bool
        Whether the P-wave condition is read on every lead the model averages
        (``atrial_leads="max"`` on a record with two leads).

    Returns
    -------
    CardLimits
    """
    path = Path(model_path) if model_path else None
    if path is None or not path.is_file():
        return CardLimits()
    digest = _sha256(str(path), path.stat().st_mtime)
    results_dir = Path(results_dir)
    stamp = results_dir.stat().st_mtime if results_dir.is_dir() else 0.0
    lines = []
    for name, d in _results_index(str(results_dir), stamp):
        mode = str(d.get("mode", ""))  # unseen patients only: inter-patient or held-out
        if d.get("model_sha256") != digest or not ("inter" in mode or "held" in mode):
            continue
        line = _beat_line(name, d) if task == "arrhythmia" else _seizure_line(name, d)
        figures = line.rsplit(" (`", 1)[0] if line else ""
        if line and not any(f.startswith(figures + " (`") for f in lines):
            lines.append(line)  # the same figures in two result files: named once
    rhythm = (_af_check(results_dir, p_waves, every_lead) if task == "arrhythmia" and af_gate
              else "")
    return CardLimits(lines, rhythm, _limits_section(path.with_suffix(".md")), digest)
