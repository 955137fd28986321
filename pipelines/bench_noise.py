"""The noise stress test on MIT-BIH DS2: heartbeat models scored at each SNR of three noises.

- ``em``: real electrode-motion noise, recovered from the MIT-BIH Noise Stress Test Database
  as ``118e06 - 118`` (``cardioliquid.signal.noise.recover_noise``).
- ``baseline`` and ``muscle``: baseline drift (a 0.333 Hz sinusoid) and EMG (zero-mean
  Gaussian noise), the noise models of Friesen et al. 1990
  (``cardioliquid.signal.noise.friesen_noise``).

Each is added to every DS2 record as WFDB ``nst`` does: two channels to the record's two
leads, in nst's schedule (clean for 5 minutes, then 2 minutes noisy and 2 clean), and scaled
to each SNR by nst's definition, from the QRS amplitude of the record's normal beats.
Every model then scores each noisy record on its reference beats. EC57 gross statistics
count the beats from minute 5 on, as ``bxb -f 5:0`` does in a noise stress test; the clean
row counts the same beats.

Usage::

    python pipelines/bench_noise.py --mirror ../shared/data
    python pipelines/bench_noise.py --models arrhythmia,v5.3=/tmp/v53.safetensors

It prints a table and writes ``pipelines/results/bench_noise.json`` and a plot of VEB and
SVEB F1 against SNR per noise (``.png``), one line per model. It chooses nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "bench_noise.json"
SNRS = (24.0, 18.0, 12.0, 6.0, 0.0, -6.0)
NOISES = ("em", "baseline", "muscle")
NOISE_TEXT = {
    "em": "electrode motion, real: nstdb 118e06 - mitdb 118",
    "baseline": "baseline drift, 0.333 Hz sinusoid (Friesen et al. 1990)",
    "muscle": "muscle (EMG), zero-mean Gaussian (Friesen et al. 1990)",
}
LEARNING_S = 300.0


def _f1(se: float | None, ppv: float | None) -> float | None:
    if se is None or ppv is None or se + ppv == 0:
        return None
    return 2 * se * ppv / (se + ppv)


def _key(cond: object) -> str:
    """``"clean"`` or ``"<noise>@<snr>"``, the condition's key in the JSON."""
    return cond if isinstance(cond, str) else f"{cond[0]}@{cond[1]:g}"


def _models(spec: str) -> list[tuple[str, str]]:
    """``name`` or ``label=path`` items of a comma list."""
    out = []
    for item in spec.split(","):
        label, _, path = item.partition("=")
        out.append((label, path or label))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mirror", default=os.environ.get("CARDIOLIQUID_DATA_MIRROR", "../shared/data"))
    p.add_argument("--models", default="arrhythmia",
                   help="comma list of shipped names or label=file.safetensors")
    p.add_argument("--records", default="DS2")
    p.add_argument("--snrs", default=",".join(f"{s:g}" for s in SNRS))
    p.add_argument("--noises", default=",".join(NOISES), help="comma list of " + ", ".join(NOISES))
    p.add_argument("--json", default=str(DEFAULT_OUT))
    a = p.parse_args(argv)

    import torch
    import wfdb
    from tqdm import tqdm

    from cardioliquid._atomic import atomic_write
    from cardioliquid.data.splits import DS2
    from cardioliquid.evaluation import ec57
    from cardioliquid.io import load_ecg
    from cardioliquid.models.checkpoint import load_model
    from cardioliquid.scoring.beats import predict_beats
    from cardioliquid.signal.noise import add_nst_noise, friesen_noise, recover_noise

    torch.set_num_threads(1)
    mirror = Path(a.mirror)
    clean118 = wfdb.rdrecord(str(mirror / "mitdb" / "118"))
    noisy118 = wfdb.rdrecord(str(mirror / "nstdb" / "118e06"))
    em = recover_noise(noisy118.p_signal.T, clean118.p_signal.T, clean118.fs)
    snrs = [float(s) for s in a.snrs.split(",")]
    noises = [n for n in a.noises.split(",") if n]
    unknown = sorted(set(noises) - set(NOISES))
    if unknown:
        raise SystemExit(f"--noises: expected some of {', '.join(NOISES)}, got {unknown}")
    records = list(DS2) if a.records == "DS2" else a.records.split(",")
    models = [(label, load_model(path)) for label, path in _models(a.models)]
    conditions = ["clean", *((kind, snr) for kind in noises for snr in snrs)]
    comps: dict[str, dict[str, list]] = {m: {_key(c): [] for c in conditions} for m, _ in models}
    t0 = time.perf_counter()
    for name in tqdm(records, desc="noise stress test", unit="rec"):
        rec = load_ecg(mirror / "mitdb" / name)
        if abs(rec.fs - clean118.fs) > 1e-6:
            raise SystemExit(f"{name}: expected {clean118.fs} Hz like the noise, got {rec.fs}")
        normal = rec.beats.sample[rec.beats.aami == "N"]
        sources = {"em": em, **{k: friesen_noise(k, rec.n_samples, rec.fs, rec.n_channels)
                                for k in noises if k != "em"}}
        for cond in conditions:
            if cond == "clean":
                test = rec
            else:
                kind, snr = cond
                signal = add_nst_noise(rec.signal, rec.fs, normal, sources[kind], snr)
                test = replace(rec, signal=signal.astype(np.float32))
            for label, loaded in models:
                pred = predict_beats(test, loaded, beats="reference")
                comps[label][_key(cond)].append(ec57.compare_recording(
                    rec, pred.sample, pred.labels, start_s=LEARNING_S))
    result: dict = {
        "records": records, "snr_db": snrs, "scored_from_s": LEARNING_S,
        "noises": {k: NOISE_TEXT[k] for k in noises},
        "em_minutes": round(em.shape[1] / clean118.fs / 60, 1),
        "snr_definition": "WFDB nst: 20 log10(QRS peak-to-peak * sqrt(2)/4 / noise RMS), "
                          "trimmed means over the record's normal beats and 1-s noise windows",
        "wall_s": None, "models": {},
    }
    for label, loaded in models:
        rows = {}
        for cond in conditions:
            s = ec57.summarize(comps[label][_key(cond)], mode=f"noise {_key(cond)}")
            veb, sveb = s["veb"], s["sveb"]  # gross statistics
            rows[_key(cond)] = {
                "veb_se": veb["se"], "veb_ppv": veb["ppv"], "veb_f1": _f1(veb["se"], veb["ppv"]),
                "sveb_se": sveb["se"], "sveb_ppv": sveb["ppv"],
                "sveb_f1": _f1(sveb["se"], sveb["ppv"]), "accuracy": s["accuracy"],
            }
        result["models"][label] = {"model": loaded.name, "model_name": loaded.model_name,
                                   "conditions": rows}
    result["wall_s"] = round(time.perf_counter() - t0, 1)

    def fmt(x: float | None) -> str:
        return "   —" if x is None else f"{x:5.1f}"

    print(f"\nNoise stress test, DS2 ({len(records)} records), beats after minute 5 "
          f"(EC57 gross %); {result['wall_s']} s")
    print("| model | noise @ SNR dB | VEB Se | VEB +P | VEB F1 | SVEB Se | SVEB +P | SVEB F1 "
          "| acc |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, m in result["models"].items():
        for cond, r in m["conditions"].items():
            print(f"| {label} | {cond} | {fmt(r['veb_se'])} | {fmt(r['veb_ppv'])} | "
                  f"{fmt(r['veb_f1'])} | {fmt(r['sveb_se'])} | {fmt(r['sveb_ppv'])} | "
                  f"{fmt(r['sveb_f1'])} | {fmt(r['accuracy'])} |")
    out = Path(a.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, lambda tmp: Path(tmp).write_text(json.dumps(result, indent=1) + "\n"))
    _plot(result, out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')}")
    return 0


def _plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cardioliquid._atomic import atomic_write

    snrs, noises = result["snr_db"], list(result["noises"])
    xs = [max(snrs) + 6, *snrs]  # the clean point drawn 6 dB right of the cleanest noisy one
    fig, axes = plt.subplots(len(noises), 2, figsize=(9, 2.9 * len(noises)), sharey=True,
                             squeeze=False)
    for row, kind in enumerate(noises):
        for col, (key, title) in enumerate((("veb_f1", "VEB F1"), ("sveb_f1", "SVEB F1"))):
            ax = axes[row, col]
            for label, m in result["models"].items():
                c = m["conditions"]
                ys = [c["clean"][key], *(c[f"{kind}@{s:g}"][key] for s in snrs)]
                ax.plot(xs, [np.nan if y is None else y for y in ys], "o-", label=label)
            ax.set_xticks(xs, ["clean", *(f"{s:g}" for s in snrs)])
            ax.invert_xaxis()
            ax.set_title(f"{title}: {result['noises'][kind]}", fontsize=8)
            ax.grid(alpha=0.3)
            ax.set_ylim(0, 100)
        axes[row, 0].set_ylabel("%")
    for ax in axes[-1]:
        ax.set_xlabel("SNR (dB), nst's definition; DS2 beats after minute 5")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
