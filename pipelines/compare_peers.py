"""The liquid rhythm model beside its LTC variant and its LSTM, GRU and CNN peers (issue 20).

The CfC row is v9.1's recipe (``rhythm-hr-local-onset-cfc.yaml``, the shipped model until
v10); each peer row is that recipe with another sequence model over the beats
(``pipelines/configs/arrhythmia-candidates/rhythm-hr-local-onset-{ltc,lstm,gru,cnn}.yaml``,
parameters within 2 % of its), all trained on the shipped model's data (DS1 + the SVDB records
of the mirror, seed 0) by ``cardioliquid-train`` and exported to score as v9.1 does (both leads
fused, the RR-test gate settled only where neither lead's P waves are consistent, no S floor).
The shipped ``arrhythmia`` model (v10: another recipe; ``--recipe v10`` trains its peers) is
the last row, for reference. Every model then goes through the same commands:

- ``cardioliquid evaluate arrhythmia --records DS2``: inter-patient EC57 gross statistics;
- ``pipelines/bench_noise.py --noises em``: VEB and SVEB F1 under real electrode-motion noise
  at 6 and 0 dB;
- ``cardioliquid profile``: parameters, MACs, p50 latency on one core, and the 45 nm energy
  estimate (a lower bound).

The CV column is the 3-seed mean pooled key F1 with both leads fused, under v9.1's gate (the RR
test settled only where neither lead's P waves are consistent: round 24 for the CfC, peer
comparison part 7 for the peers; v10's row under its own gate, round 39) of the same recipes in
``pipelines/results/arrhythmia_cv_xdb.json`` (``python pipelines/arrhythmia_cv.py --table-only``).
With ``--recipe v10`` (peer comparison part 8) the peers are v10's recipe with a GRU and an
LSTM over the beats (``rhythm-lo-bothemb-patbal100-{gru,lstm}.yaml``, parameters within 2 % of
v10's), exported to score as v10 does (the AF-specific gate with either lead's P waves), and the
CfC row is the shipped v10 itself (its config retrains it bit for bit); CV under v10's gate.

Usage::

    python pipelines/compare_peers.py --mirror ../shared/data      # about 9 min on 2 cores
    python pipelines/compare_peers.py --mirror ../shared/data --recipe v10

It writes ``pipelines/results/compare_peers.json`` (``compare_peers_v10.json``) and prints a
Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PEERS = {"CfC liquid (v9.1)": "rhythm-hr-local-onset-cfc",
         "LTC liquid": "rhythm-hr-local-onset-ltc", "LSTM": "rhythm-hr-local-onset-lstm",
         "GRU": "rhythm-hr-local-onset-gru", "CNN": "rhythm-hr-local-onset-cnn"}
SHIPPED = "CfC liquid (shipped v10)"
CV_JSON = REPO / "pipelines" / "results" / "arrhythmia_cv_xdb.json"
CV_GATE = "gate_atrial_max"
"""The RR-test gate settled only where neither fused lead has consistent P waves (round 24): v9.1's
decision, under which every peer was cross-validated with both leads fused."""
V10_GATE = "gate_nn_atrial_max"
"""v10's decision: the AF-specific gate settled only where neither fused lead has consistent P
waves (round 39)."""
CV_ENTRIES = {"CfC liquid (v9.1)": ("xdb_fuse_atrial", CV_GATE),
              "LTC liquid": ("peer_atrial_ltc", CV_GATE), "LSTM": ("peer_atrial_lstm", CV_GATE),
              "GRU": ("peer_atrial_gru", CV_GATE), "CNN": ("peer_atrial_cnn", CV_GATE),
              SHIPPED: ("xdb_lo_bothemb_patbal100", V10_GATE)}
V10_PEERS = {"GRU (v10's recipe)": "rhythm-lo-bothemb-patbal100-gru",
             "LSTM (v10's recipe)": "rhythm-lo-bothemb-patbal100-lstm"}
V10_CV_ENTRIES = {"GRU (v10's recipe)": ("peer_v10_gru", V10_GATE),
                  "LSTM (v10's recipe)": ("peer_v10_lstm", V10_GATE),
                  SHIPPED: ("xdb_lo_bothemb_patbal100", V10_GATE)}
RECIPES = {"v9.1": (PEERS, CV_ENTRIES, "compare_peers.json"),
           "v10": (V10_PEERS, V10_CV_ENTRIES, "compare_peers_v10.json")}
"""Each comparison: its peers (label: config stem), their CV entries, and its JSON file."""


def cv_key_f1(results: dict, entry: str, gate: str = "gate_off",
              fused: bool = True) -> tuple[float | None, int]:
    """3-seed mean pooled key F1 of a CV entry (seeds stored as ``entry``, ``entry_s1``...),
    with its leads fused (``fused``) or one lead."""
    seeds = [results[k] for k in (entry, f"{entry}_s1", f"{entry}_s2") if k in results]
    f1 = [(r["fused"] if fused else r)["scores"][gate]["pooled"]["key_f1"] for r in seeds
          if not fused or "fused" in r]
    return (round(sum(f1) / len(f1), 1) if f1 else None), len(f1)


def _run(cmd: list[str]) -> None:
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=REPO)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mirror", default=os.environ.get("CARDIOLIQUID_DATA_MIRROR", "../shared/data"))
    p.add_argument("--work", default="runs/peers", help="where peer weights and results go")
    p.add_argument("--recipe", choices=list(RECIPES), default="v9.1",
                   help="the recipe the peers share: v9.1's (five models) or v10's (GRU, LSTM)")
    p.add_argument("--json", default=None, help="default pipelines/results/compare_peers"
                   "[_v10].json")
    a = p.parse_args(argv)
    peers, cv_entries, json_name = RECIPES[a.recipe]
    a.json = a.json or str(REPO / "pipelines" / "results" / json_name)
    work = REPO / a.work
    work.mkdir(parents=True, exist_ok=True)
    env_mirror = str(Path(a.mirror).resolve())
    os.environ["CARDIOLIQUID_DATA_MIRROR"] = env_mirror

    models = {}  # labels: no commas (a --models list)
    for label, name in peers.items():
        out = work / f"{name}.safetensors"
        if not out.is_file():
            _run([str(BIN / "cardioliquid-train"), "fit", "--config",
                  f"pipelines/configs/arrhythmia-candidates/{name}.yaml",
                  "--trainer.default_root_dir", str(work / name), "--trainer.logger", "false",
                  "--export_to", str(out)])
        models[label] = str(out)
    models[SHIPPED] = "arrhythmia"

    rows: dict[str, dict] = {}
    for label, model in models.items():
        stem = model if model == "arrhythmia" else Path(model).stem
        ev = work / f"eval_ds2_{stem}.json"
        prof = work / f"profile_{stem}.json"
        _run([str(BIN / "cardioliquid"), "evaluate", "arrhythmia", "--data",
              f"{env_mirror}/mitdb", "--records", "DS2", "--model", model, "--json", str(ev),
              "--no-progress"])
        _run([str(BIN / "cardioliquid"), "profile", "--model", model, "--json", str(prof),
              "--repeats", "300"])
        e, pr = json.loads(ev.read_text()), json.loads(prof.read_text())
        rows[label] = {"model": model, "ds2": {k: e[k] for k in ("veb", "sveb", "accuracy")},
                       "profile": pr}
    noise_json = work / f"bench_noise_peers_{a.recipe}.json"
    _run([sys.executable, "pipelines/bench_noise.py", "--mirror", env_mirror, "--noises", "em",
          "--snrs", "6,0", "--models", ",".join(f"{k}={v}" for k, v in models.items()),
          "--json", str(noise_json)])
    noise = json.loads(noise_json.read_text())["models"]

    def f1(d: dict) -> float | None:
        se, ppv = d.get("se"), d.get("ppv")
        return None if se is None or ppv is None or se + ppv == 0 else 2 * se * ppv / (se + ppv)

    cv_results = json.loads(CV_JSON.read_text()) if CV_JSON.is_file() else {}
    table = []
    for label, r in rows.items():
        prof = r["profile"]
        c = noise[label]["conditions"]
        cv, n_seeds = cv_key_f1(cv_results, *cv_entries[label])
        table.append({
            "model": label,
            "cv_key_f1": cv, "cv_seeds": n_seeds,
            "params": prof["params"]["dense"],
            "macs": prof["macs_per_decision"]["value"],
            "ds2_veb_f1": f1(r["ds2"]["veb"]), "ds2_sveb_f1": f1(r["ds2"]["sveb"]),
            "veb_f1_6db": c["em@6"]["veb_f1"], "veb_f1_0db": c["em@0"]["veb_f1"],
            "sveb_f1_6db": c["em@6"]["sveb_f1"], "sveb_f1_0db": c["em@0"]["sveb_f1"],
            "latency_p50_ms": prof["latency_ms"]["p50"],
            # the headline: a measurement where a counter is readable, else the 45 nm estimate
            "energy_uj": prof["energy_uj_per_decision"]["value"],
            "energy_method": prof["energy_uj_per_decision"]["method"],
        })
    result = {"recipe": a.recipe, "rows": table, "details": rows, "noise": noise}
    out = Path(a.json)
    out.write_text(json.dumps(result, indent=1) + "\n")

    def fmt(x: object, nd: int = 1) -> str:
        return "—" if x is None else (f"{x:,}" if isinstance(x, int) else f"{x:.{nd}f}")

    print("\n| model | params | MACs/beat | CV key F1 | DS2 VEB F1 | DS2 SVEB F1 "
          "| VEB F1 6 dB / 0 dB | SVEB F1 6 dB / 0 dB | p50 latency (ms) | energy per beat (µJ) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for t in table:
        print(f"| {t['model']} | {fmt(t['params'])} | {fmt(t['macs'])} | {fmt(t['cv_key_f1'])} "
              f"| {fmt(t['ds2_veb_f1'])} "
              f"| {fmt(t['ds2_sveb_f1'])} | {fmt(t['veb_f1_6db'])} / {fmt(t['veb_f1_0db'])} | "
              f"{fmt(t['sveb_f1_6db'])} / {fmt(t['sveb_f1_0db'])} | "
              f"{fmt(t['latency_p50_ms'], 2)} | {fmt(t['energy_uj'], 3)} |")
    print(f"energy: {table[0]['energy_method']}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
