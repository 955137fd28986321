"""How well the AF gate's rhythm test finds the annotated atrial fibrillation of MIT-BIH.

``cardioliquid.signal.rhythm.af_beats`` (the RR test of Dash et al. 2009, with
its published thresholds) flags beats in atrial-fibrillation-like rhythm; the
shipped ``arrhythmia`` model reports S calls there as N. This script compares
its flags, computed from the reference beat times of each record, with the
cardiologists' rhythm annotations (``(AFIB``; flutter ``(AFL`` is counted
separately: its RR intervals are often regular), beat by beat, and lists the
records where the test flags beats outside AF (frequent ectopy, other
arrhythmias). DS1 and DS2 are reported apart. The same counts are given for the
test with the condition the ``"atrial"`` gate rules add (``*_atrial`` keys): a
flag kept only where the last 32 beats have no consistent P wave
(:func:`cardioliquid.signal.atrial.atrial_features`, consistency below
``ATRIAL_AF_MAX``), read with the shipped model's preprocessing on its first
lead, and (``*_atrial_max`` keys, v9.1's gate) on none of the leads it averages.
It chooses nothing: the tests and their thresholds are fixed.

    python pipelines/af_rhythm_check.py --mirror ../shared/data \
        --json pipelines/results/af_rhythm_mitdb.json      # + .png beside it
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np


def beat_rhythms(rhythms: list[tuple[int, str]], sample: np.ndarray) -> np.ndarray:
    """The annotated rhythm each beat lies in (the last rhythm change before it)."""
    if not rhythms:
        return np.full(len(sample), "", dtype=object)
    starts = np.array([s for s, _ in rhythms])
    names = np.array([a for _, a in rhythms], dtype=object)
    idx = np.searchsorted(starts, sample, side="right") - 1
    return np.where(idx >= 0, names[np.clip(idx, 0, None)], names[0])


def record_counts(path: Path) -> dict[str, Any]:
    """Beat counts of one record: annotated AF / flutter / other, and how many are flagged."""
    from dataclasses import replace

    from cardioliquid.io import load_ecg
    from cardioliquid.models.checkpoint import load_model
    from cardioliquid.scoring.beats import fusion_partners, model_beat_windows
    from cardioliquid.signal.atrial import ATRIAL_AF_MAX
    from cardioliquid.signal.rhythm import af_beats

    rec = load_ecg(path)
    beats = rec.beats.sample[rec.beats.aami != ""]
    flags = af_beats(beats, rec.fs)
    loaded = load_model("arrhythmia")

    def consistency(model: Any) -> np.ndarray:
        # The consistency the gate reads at each beat, from the lead ``model`` reads.
        bw, values = model_beat_windows(replace(rec, beats=None), model, beats, atrial=True,
                                        require_signal=model is loaded)
        out = np.zeros(len(beats))
        out[np.searchsorted(beats, bw.sample)] = values
        return out

    first = consistency(loaded)
    # v9.1's gate reads the highest consistency of the leads the model averages.
    highest = first
    for partner in fusion_partners(rec, loaded):
        highest = np.fmax(highest, consistency(partner))
    rhythm = beat_rhythms(rec.rhythms, beats)
    af, afl = rhythm == "(AFIB", rhythm == "(AFL"
    other = ~(af | afl)
    out = {"beats": len(beats), "af": int(af.sum()), "afl": int(afl.sum()),
           "other": int(other.sum())}
    for suffix, f in (("", flags), ("_atrial", flags & (first < ATRIAL_AF_MAX)),
                      ("_atrial_max", flags & (highest < ATRIAL_AF_MAX))):
        out.update({f"af_flagged{suffix}": int((f & af).sum()),
                    f"afl_flagged{suffix}": int((f & afl).sum()),
                    f"other_flagged{suffix}": int((f & other).sum())})
    return out


SUFFIXES = ("", "_atrial", "_atrial_max")
"""The tests counted: the RR test alone, with the first lead's P-wave condition, and with the
condition on every lead the model averages (a flag kept only where none has consistent P waves)."""


def _pct(a: int, b: int) -> float | None:
    return round(100 * a / b, 1) if b else None


def pooled(per_record: dict[str, dict[str, int]]) -> dict[str, Any]:
    """Beat-level sensitivity, specificity and positive predictivity for AF (flutter apart)."""
    tot = {k: sum(r[k] for r in per_record.values()) for k in next(iter(per_record.values()))}
    suffixes = [x for x in SUFFIXES if f"af_flagged{x}" in tot]
    out: dict[str, Any] = dict(tot)
    for x in suffixes:
        af, afl, other = (tot[f"{k}_flagged{x}"] for k in ("af", "afl", "other"))
        out.update({f"af_se{x}": _pct(af, tot["af"]),
                    f"afl_flagged_pct{x}": _pct(afl, tot["afl"]),
                    f"non_af_specificity{x}": _pct(tot["other"] - other, tot["other"]),
                    f"ppv_af_or_flutter{x}": _pct(af + afl, af + afl + other)})
    return out


def plot(result: dict[str, Any], path: Path) -> None:
    """Per record: share of beats in annotated AF/flutter against share flagged."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = [(split, r, c) for split in ("DS1", "DS2") for r, c in result[split]["records"].items()]
    fig, ax = plt.subplots(figsize=(12, 3.6))
    x = np.arange(len(recs))
    ann = [100 * (c["af"] + c["afl"]) / c["beats"] for _, _, c in recs]

    def flagged(c: dict[str, int], x: str) -> float:
        return 100 * sum(c[f"{k}_flagged{x}"] for k in ("af", "afl", "other")) / c["beats"]

    w = 0.21
    ax.bar(x - 1.5 * w, ann, w, label="annotated AF or flutter", color="#4c72b0")
    ax.bar(x - 0.5 * w, [flagged(c, "") for _, _, c in recs], w,
           label="flagged AF-like (RR test)", color="#dd8452")
    ax.bar(x + 0.5 * w, [flagged(c, "_atrial") for _, _, c in recs], w,
           label="... and no consistent P wave on the first lead", color="#55a868")
    ax.bar(x + 1.5 * w, [flagged(c, "_atrial_max") for _, _, c in recs], w,
           label="... on neither fused lead (v9.1's gate)", color="#8172b3")
    ax.set_xticks(x, [f"{r}" for _, r, _ in recs], rotation=90, fontsize=8)
    ax.axvline(sum(s == "DS1" for s, _, _ in recs) - 0.5, color="k", lw=0.8)
    ax.set_ylabel("% of the record's beats")
    ax.set_title("AF rhythm test (Dash et al. 2009), alone and with the P-wave condition, against "
                 "MIT-BIH rhythm annotations (DS1 left, DS2 right)", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    from cardioliquid._atomic import atomic_write_text
    from cardioliquid.data.splits import DS1, DS2

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mirror", default=os.environ.get("CARDIOLIQUID_DATA_MIRROR", "../shared/data"))
    p.add_argument("--json", type=Path, default=Path("pipelines/results/af_rhythm_mitdb.json"))
    args = p.parse_args(argv)
    root = Path(args.mirror) / "mitdb"
    result: dict[str, Any] = {"test": "cardioliquid.signal.rhythm.af_beats (centred 128-interval "
                                      "window, Dash et al. 2009 thresholds)",
                              "beats": "reference"}
    for split, records in (("DS1", DS1), ("DS2", DS2)):
        per = {r: record_counts(root / r) for r in tqdm(records, desc=split)}
        result[split] = {"pooled": pooled(per), "records": per}
    print(f"{'split':5s} {'AF beats':>9s} {'AF Se':>6s} {'AFL flagged':>11s} "
          f"{'non-AF Sp':>9s} {'+P':>6s}")
    for split in ("DS1", "DS2"):
        q = result[split]["pooled"]
        for x, what in (("", ""), ("_atrial", " (+ no consistent P wave, first lead)"),
                        ("_atrial_max", " (+ no consistent P wave on either fused lead)")):
            print(f"{split:5s} {q['af']:9d} {q[f'af_se{x}']!s:>6s} "
                  f"{q[f'afl_flagged_pct{x}']!s:>11s} {q[f'non_af_specificity{x}']!s:>9s} "
                  f"{q[f'ppv_af_or_flutter{x}']!s:>6s}{what}")
        worst = sorted(result[split]["records"].items(), key=lambda kv: -kv[1]["other_flagged"])
        print("      most beats flagged outside AF/flutter: " + ", ".join(
            f"{r} ({c['other_flagged']} of {c['other']})" for r, c in worst[:5]
            if c["other_flagged"]))
    atomic_write_text(args.json, json.dumps(result, indent=1) + "\n")
    plot(result, args.json.with_suffix(".png"))
    print(f"wrote {args.json} and {args.json.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
