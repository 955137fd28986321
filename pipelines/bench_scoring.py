"""Benchmark ``cardioliquid score``: throughput as a multiple of real time.

Scores the 48 MIT-BIH records and the CHB-MIT EEG excerpts of the data mirror
end to end (loading, preprocessing, inference and writing every output file
included) exactly as ``cardioliquid score`` does, and compares with a peer
measured in the same run: one forward pass per beat (a Python loop over beats,
the liquid state handed from each beat to the next), which is how per-event
scorers and naive live displays run a recurrent model. Both sides of that
comparison run in this process on the same records, from reading the file to the
settled calls (no output written); the batched side scans a record's beats in
one call, as ``predict_beats`` does. The ratio shows what that buys.

    python pipelines/bench_scoring.py [--data DIR] [--workers 2]

Writes a table to stdout and ``pipelines/results/bench_scoring.json``.
Models: the shipped ``arrhythmia``/``seizure`` when present, else untrained
networks of the same architecture and preprocessing (speed does not depend on
the weights; the JSON says which was used).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "pipelines" / "results" / "bench_scoring.json"
TARGETS = {"ecg": 2000.0, "eeg": 500.0}


def _data_dir(arg: str | None) -> Path:
    for cand in (
        arg,
        os.environ.get("CARDIOLIQUID_DATA_MIRROR"),
        "/work/shared/data",
        str(REPO.parent / "shared" / "data"),
    ):
        if cand and (Path(cand) / "mitdb" / "RECORDS").is_file():
            return Path(cand)
    sys.exit("bench_scoring: no data mirror (pass --data or set CARDIOLIQUID_DATA_MIRROR)")


def _model(task: str, tmp: Path) -> tuple[str, str]:
    """A model path for ``task`` and how it was obtained."""
    from cardioliquid.models.checkpoint import list_pretrained, save_model
    from cardioliquid.models.registry import create_model
    from cardioliquid.signal.config import BeatPreprocessing, WindowPreprocessing

    if task in list_pretrained():
        return task, "shipped"
    torch.manual_seed(0)
    if task == "arrhythmia":
        from cardioliquid.signal.windows import n_beat_features

        prep: Any = BeatPreprocessing()
        kw = dict(
            n_chans=1,
            n_outputs=5,
            n_times=prep.n_times,
            sfreq=prep.fs,
            n_features=n_beat_features(prep),
            units=24,
        )
    else:
        channels = [
            "FP1-F7",
            "F7-T7",
            "T7-P7",
            "P7-O1",
            "FP1-F3",
            "F3-C3",
            "C3-P3",
            "P3-O1",
            "FP2-F4",
            "F4-C4",
            "C4-P4",
            "P4-O2",
            "FP2-F8",
            "F8-T8",
            "T8-P8",
            "P8-O2",
            "FZ-CZ",
            "CZ-PZ",
        ]  # pipelines/configs/seizure.yaml
        prep = WindowPreprocessing(channels=channels)
        kw = dict(n_chans=len(channels), n_outputs=2, n_times=prep.n_times, sfreq=prep.fs, units=16)
    model = create_model("liquid-cfc", **kw)
    path = save_model(
        tmp / f"{task}-untrained.safetensors",
        model,
        "liquid-cfc",
        kw,
        prep,
        {"version": "untrained-bench"},
    )
    return str(path), "untrained liquid-cfc (same architecture as the configs)"


def _score(
    paths: list[Path], task: str, model: str, out: Path, workers: int, **opts: Any
) -> dict[str, Any]:
    from cardioliquid.scoring.batch import ScoreOptions, score_paths

    t0 = time.perf_counter()
    summary = score_paths(
        paths, ScoreOptions(task, model, str(out), **opts), workers=workers, progress=False
    )
    wall = time.perf_counter() - t0  # model loading and pool start-up included
    signal_s = summary["signal_hours"] * 3600
    return {
        "records": summary["records"]["total"],
        "failed": summary["records"]["failed"],
        "signal_hours": round(summary["signal_hours"], 4),
        "wall_s": round(wall, 2),
        "x_realtime": round(signal_s / wall, 1),
        "failures": [f["reason"] for f in summary["failures"]][:5],
    }


def _per_beat_pair(paths: list[Path], model: str) -> dict[str, dict[str, Any]]:
    """The batched path and its per-beat peer, in this process, on reference beats.

    Each side reads the record, windows its beats (the atrial consistency too when
    the model's gate reads it), runs the network and settles the calls. The peer
    runs the network one beat per call, carrying the state (a beat-sequence or
    stateful model) or with nothing to carry (a stateless one). A model that
    averages leads does so on both sides (each lead its own windows and run).
    """
    from cardioliquid.decision.beats import settle_calls
    from cardioliquid.io import load_recording
    from cardioliquid.models.checkpoint import load_model
    from cardioliquid.scoring.beats import fusion_partners, segment_beat_inputs
    from cardioliquid.scoring.runner import run_model

    loaded = load_model(model)
    net = loaded.model.eval()

    def per_beat(x: np.ndarray, f: np.ndarray | None) -> np.ndarray:
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        ft = None if f is None else torch.from_numpy(np.ascontiguousarray(f, dtype=np.float32))
        out, hx = [], None
        with torch.inference_mode():
            for i in range(len(xt)):
                fi = None if ft is None else ft[i:i + 1]
                if hasattr(net, "forward_stateful"):
                    logits, hx, _ = net.forward_stateful(xt[i:i + 1], fi, hx=hx)
                else:
                    logits = net(xt[i:i + 1]) if fi is None else net(xt[i:i + 1], fi)
                out.append(torch.softmax(logits.reshape(1, -1), -1).numpy())
        return np.concatenate(out)

    result = {}
    for name, run in (("ecg_subset_batched_1_worker", lambda x, f: run_model(loaded, x, f)[0]),
                      ("peer_ecg_subset_per_beat_loop", per_beat)):
        signal_s, t0 = 0.0, time.perf_counter()
        for p in paths:
            rec = load_recording(p)
            sample, x, feats, _, atrial = segment_beat_inputs(rec, loaded, None,
                                                              rec.beats.sample)
            leads = [run(x, feats)]
            for other in fusion_partners(rec, loaded):
                _, x, feats, _, _ = segment_beat_inputs(rec, other, None, rec.beats.sample)
                leads.append(run(x, feats))
            proba = np.mean(leads, axis=0)  # the leads' average (v9 reads two)
            settle_calls(rec.fs, sample, proba, loaded.classes, loaded.decision, atrial=atrial)
            signal_s += rec.duration_s
        wall = time.perf_counter() - t0
        result[name] = {"records": len(paths), "failed": 0,
                        "signal_hours": round(signal_s / 3600, 4), "wall_s": round(wall, 2),
                        "x_realtime": round(signal_s / wall, 1), "failures": [],
                        "includes": "reading, preprocessing, inference, settling; no output"}
    return result


def _stages(paths: list[Path], model: str, beats: str) -> dict[str, Any]:
    """Per-record time of each stage, in this process (one thread)."""
    from dataclasses import replace

    from cardioliquid.io import load_recording
    from cardioliquid.models.checkpoint import load_model
    from cardioliquid.scoring.beats import fusion_partners, model_beat_windows
    from cardioliquid.scoring.runner import run_model

    loaded = load_model(model)
    times: dict[str, list[float]] = {"load": [], "windows": [], "inference": [], "total": []}
    per_record_x = []
    for p in paths:
        t0 = time.perf_counter()
        rec = load_recording(p)
        t1 = time.perf_counter()
        src = rec if beats == "reference" else replace(rec, beats=None)
        bw, _ = model_beat_windows(src, loaded)  # with the atrial consistency its gate reads
        # Each further lead a model averages: its windows on the first lead's beats.
        others = [model_beat_windows(src, o, bw.sample, atrial=False)[0]
                  for o in fusion_partners(rec, loaded)]
        t2 = time.perf_counter()
        for w in (bw, *others):
            run_model(loaded, w.x, w.features)
        t3 = time.perf_counter()
        for k, v in (
            ("load", t1 - t0),
            ("windows", t2 - t1),
            ("inference", t3 - t2),
            ("total", t3 - t0),
        ):
            times[k].append(v)
        per_record_x.append(rec.duration_s / (t3 - t0))
    out = {
        k: {
            "median_s": round(float(np.median(v)), 4),
            "p90_s": round(float(np.percentile(v, 90)), 4),
            "sum_s": round(float(np.sum(v)), 2),
        }
        for k, v in times.items()
    }
    out["x_realtime_per_record"] = {
        "p10": round(float(np.percentile(per_record_x, 10)), 1),
        "median": round(float(np.median(per_record_x)), 1),
    }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="data mirror (has mitdb/ and eeg/)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--records", type=int, default=48, help="MIT-BIH records to score")
    parser.add_argument(
        "--peer-records",
        type=int,
        default=2,
        help="records scored by the per-beat peer (it is slow)",
    )
    parser.add_argument(
        "--detect-records", type=int, default=48, help="records scored with detected (XQRS) beats"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    torch.set_num_threads(1)
    data = _data_dir(args.data)
    mitdb = sorted((data / "mitdb").glob("*.hea"))[: args.records]
    eeg = sorted((data / "eeg" / "chbmit_edf").glob("*.edf"))
    load_before = os.getloadavg()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench_scoring_") as d:
        tmp = Path(d)
        ecg_model, ecg_how = _model("arrhythmia", tmp)
        eeg_model, eeg_how = _model("seizure", tmp)
        # warm-up (imports, caches), not reported
        _score(mitdb[:1], "arrhythmia", ecg_model, tmp / "warm", 1)
        _score(eeg[:2], "seizure", eeg_model, tmp / "warm-eeg", 1)
        w = args.workers
        results["ecg_reference_beats"] = _score(
            mitdb, "arrhythmia", ecg_model, tmp / "a", w, beats="reference"
        )
        results["ecg_reference_beats_1_worker"] = _score(
            mitdb, "arrhythmia", ecg_model, tmp / "a1", 1, beats="reference"
        )
        results["ecg_detected_beats"] = _score(
            mitdb[: args.detect_records], "arrhythmia", ecg_model, tmp / "b", w, beats="detect"
        )
        results.update(_per_beat_pair(mitdb[: args.peer_records], ecg_model))
        results["eeg_chbmit_23ch"] = _score(eeg, "seizure", eeg_model, tmp / "e", w)
        results["eeg_chbmit_23ch_1_worker"] = _score(eeg, "seizure", eeg_model, tmp / "e1", 1)
        stages = {
            "reference": _stages(mitdb, ecg_model, "reference"),
            "detect": _stages(mitdb[:4], ecg_model, "detect"),
        }
    speedup = (
        results["ecg_subset_batched_1_worker"]["x_realtime"]
        / results["peer_ecg_subset_per_beat_loop"]["x_realtime"]
    )
    report = {
        "command": "python pipelines/bench_scoring.py " + " ".join(argv or sys.argv[1:]),
        "conditions": {
            "cpus": os.cpu_count(),
            "workers": args.workers,
            "torch_threads_per_worker": 1,
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
            "torch": torch.__version__,
            "machine": platform.machine(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "models": {"arrhythmia": ecg_how, "seizure": eeg_how},
            "includes": "process pool start-up, model loading, reading files, preprocessing, "
            "inference, writing every output and manifest",
        },
        "targets_x_realtime": TARGETS,
        "results": results,
        "stages_per_record_1_thread": stages,
        "batched_over_per_beat_speedup": round(speedup, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    _print_table(results, report)
    return 0


def _print_table(results: dict[str, Any], report: dict[str, Any]) -> None:
    print("| run | records | signal h | wall s | x real time |")
    print("|---|---:|---:|---:|---:|")
    for name, r in results.items():
        print(
            f"| {name} | {r['records']} | {r['signal_hours']:.2f} | {r['wall_s']:.1f} | "
            f"{r['x_realtime']:.0f} |"
        )
    print(
        f"\nbatched / per-beat loop: {report['batched_over_per_beat_speedup']}x; "
        f"conditions: {json.dumps(report['conditions'])}"
    )


if __name__ == "__main__":
    sys.exit(main())
