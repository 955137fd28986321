"""The live stream against the whole-record report: what a clinician watching the replay sees.

Whole-record scoring (``cardioliquid score``, ``evaluate``) preprocesses each record at once:
its template features compare every beat with the record's median beat, and the amplitude is
normalised by the record's median/MAD. A stream (the app's live replay, ``BeatStream``,
``score --segment-s 10``) cannot see the future: each 10-s segment is preprocessed with
``context_s`` seconds of signal before it (and 5 s after), and these statistics come from that
stretch. This benchmark scores every record three ways on its reference beats and reports, per
way, the EC57 gross VEB and SVEB statistics (all beats, the inter-patient convention) and the
share of beats whose label equals the whole-record label (per record: the lowest, the median
and the mean), with the cost of each way relative to whole-record scoring:

- ``whole``: the report;
- ``stream@<s>``: the stream with ``context_s = <s>`` (default: the previous default, 60 s,
  as the peer, and the present default).

Usage::

    python pipelines/bench_stream.py --mirror ../shared/data
    python pipelines/bench_stream.py --records DS2 --contexts 60,600,1800

It prints a table and writes ``pipelines/results/bench_stream.json`` and a plot of each
record's agreement under each context (``.png``). It chooses nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "bench_stream.json"
PEER_CONTEXT_S = 60.0
"""The stream's context before this benchmark's change (the peer row)."""


def _f1(se: float | None, ppv: float | None) -> float | None:
    if se is None or ppv is None or se + ppv == 0:
        return None
    return 2 * se * ppv / (se + ppv)


def _records(spec: str) -> list[str]:
    from cardioliquid.data.splits import ALL_MITDB, DS1, DS2

    named = {"all": ALL_MITDB, "DS1": DS1, "DS2": DS2}
    return list(named[spec]) if spec in named else spec.split(",")


def main(argv: list[str] | None = None) -> int:
    from cardioliquid.scoring.segments import DEFAULT_ECG_CONTEXT_S

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mirror", default=os.environ.get("CARDIOLIQUID_DATA_MIRROR", "../shared/data"))
    p.add_argument("--model", default="arrhythmia")
    p.add_argument("--records", default="all", help="all (MIT-BIH's 48), DS1, DS2 or a list")
    p.add_argument("--contexts", default=f"{PEER_CONTEXT_S:g},{DEFAULT_ECG_CONTEXT_S:g}",
                   help="stream contexts in seconds, comma-separated")
    p.add_argument("--segment-s", type=float, default=10.0)
    p.add_argument("--json", default=str(DEFAULT_OUT))
    a = p.parse_args(argv)

    from tqdm import tqdm

    from cardioliquid.evaluation import ec57
    from cardioliquid.evaluation.report import write_json
    from cardioliquid.io import load_ecg
    from cardioliquid.models.checkpoint import load_model
    from cardioliquid.scoring.beats import predict_beats

    loaded = load_model(a.model)
    records = _records(a.records)
    contexts = [float(c) for c in a.contexts.split(",")]
    ways = {"whole": {}} | {f"stream@{c:g}": {"segment_s": a.segment_s, "context_s": c}
                            for c in contexts}
    comps: dict[str, list] = {w: [] for w in ways}
    agree: dict[str, dict[str, float]] = {w: {} for w in ways if w != "whole"}
    cost = dict.fromkeys(ways, 0.0)
    for name in tqdm(records, desc="stream against whole record", unit="rec"):
        rec = load_ecg(Path(a.mirror) / "mitdb" / name)
        labels = {}
        for way, kw in ways.items():
            t0 = time.perf_counter()
            pred = predict_beats(rec, loaded, beats="reference", **kw)
            cost[way] += time.perf_counter() - t0
            labels[way] = pred.labels
            comps[way].append(ec57.compare_recording(rec, pred.sample, pred.labels))
        for way in agree:
            agree[way][name] = float(np.mean(labels[way] == labels["whole"]))
    result: dict = {
        "model": loaded.name, "model_name": loaded.model_name, "records": records,
        "segment_s": a.segment_s, "beats": "reference", "scored_from_s": 0.0, "ways": {},
    }
    for way in ways:
        s = ec57.summarize(comps[way], mode=way)
        row = {
            "veb_se": s["veb"]["se"], "veb_ppv": s["veb"]["ppv"],
            "veb_f1": _f1(s["veb"]["se"], s["veb"]["ppv"]),
            "sveb_se": s["sveb"]["se"], "sveb_ppv": s["sveb"]["ppv"],
            "sveb_f1": _f1(s["sveb"]["se"], s["sveb"]["ppv"]), "accuracy": s["accuracy"],
            "cost_s": round(cost[way], 2), "cost_vs_whole": round(cost[way] / cost["whole"], 2),
        }
        if way in agree:
            share = np.array(list(agree[way].values()))
            row |= {"agreement_min": float(share.min()),
                    "agreement_median": float(np.median(share)),
                    "agreement_mean": float(share.mean()),
                    "agreement_min_record": min(agree[way], key=agree[way].get),
                    "agreement": agree[way]}
        result["ways"][way] = row

    def fmt(x: float | None, scale: float = 1.0) -> str:
        return "   —" if x is None else f"{x * scale:5.1f}"

    print(f"\nStream against whole-record scoring, {len(records)} MIT-BIH records, "
          f"model {loaded.name} (EC57 gross %, all beats)")
    print("| way | VEB Se | VEB +P | VEB F1 | SVEB Se | SVEB +P | SVEB F1 | agree min (rec) "
          "| agree median | agree mean | cost × whole |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for way, r in result["ways"].items():
        lo = (f"{fmt(r['agreement_min'], 100)} ({r['agreement_min_record']})"
              if "agreement" in r else "—")
        print(f"| {way} | {fmt(r['veb_se'])} | {fmt(r['veb_ppv'])} | {fmt(r['veb_f1'])} | "
              f"{fmt(r['sveb_se'])} | {fmt(r['sveb_ppv'])} | {fmt(r['sveb_f1'])} | {lo} | "
              f"{fmt(r.get('agreement_median'), 100)} | {fmt(r.get('agreement_mean'), 100)} | "
              f"{r['cost_vs_whole']:.1f} |")
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    out = write_json(a.json, result)  # atomic
    _plot(result, out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')}")
    return 0


def _plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cardioliquid._atomic import atomic_write

    streams = {w: r for w, r in result["ways"].items() if "agreement" in r}
    records = result["records"]
    fig, ax = plt.subplots(figsize=(min(16, max(8, 0.2 * len(records) * len(streams))), 3.6))
    width = 0.8 / max(1, len(streams))
    for i, (way, r) in enumerate(streams.items()):
        share = [100 * r["agreement"][name] for name in records]
        ax.bar(np.arange(len(records)) + i * width, share, width, label=way)
    ax.set_xticks(np.arange(len(records)) + 0.4 - width / 2, records, rotation=90, fontsize=7)
    ax.set_ylabel("labels equal to whole record (%)")
    ax.set_ylim(min(80, 5 * np.floor(min(100 * r["agreement_min"] for r in streams.values()) / 5)),
                100.5)
    ax.set_title(f"Live stream against whole-record scoring, model {result['model']}")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
