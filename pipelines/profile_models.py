"""Profile the shipped models on this machine: ``pipelines/results/profile_<name>.json``.

Usage::

    python pipelines/profile_models.py                      # arrhythmia, seizure, seizure-1ch
    python pipelines/profile_models.py --models arrhythmia --repeats 1000

A shipped model (``cardioliquid/models/pretrained/<name>.safetensors``) is
profiled as shipped. When it is not there yet, the script profiles a freshly
built, untrained model of the same architecture, read from
``pipelines/configs/<name>.yaml``, and says so in the JSON
(``model.fresh_untrained: true``): size, MACs, latency and energy do not
depend on the trained weights, only on the architecture and wiring.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

from cardioliquid.device import profile_model
from cardioliquid.models.checkpoint import LoadedModel, list_pretrained
from cardioliquid.models.registry import create_model
from cardioliquid.signal.config import preprocessing_from_dict
from cardioliquid.signal.windows import n_beat_features

ROOT = Path(__file__).resolve().parent
NAMES = ("arrhythmia", "seizure", "seizure-1ch")


def fresh_from_config(name: str) -> LoadedModel:
    """An untrained model built as ``pipelines/configs/<name>.yaml`` describes it."""
    cfg = yaml.safe_load((ROOT / "configs" / f"{name}.yaml").read_text())
    task = "arrhythmia" if name == "arrhythmia" else "seizure"
    prep = preprocessing_from_dict({"task": task, **cfg["data"]["init_args"]["preprocessing"]})
    if task == "arrhythmia":
        n_chans, n_features = 1, n_beat_features(prep)
    else:
        n_chans, n_features = max(len(prep.channels), 1), 0
    model_name = cfg["model"]["model_name"]
    kwargs = {
        "n_chans": n_chans, "n_outputs": len(prep.classes), "n_times": prep.n_times,
        "sfreq": prep.fs, "n_features": n_features, **cfg["model"].get("model_kwargs", {}),
    }  # fmt: skip
    model = create_model(model_name, **kwargs).eval()
    return LoadedModel(model, prep, model_name, kwargs, {"fresh_untrained": True}, "")


def main(argv: list[str] | None = None) -> int:
    """Profile each model and write its JSON next to the other pipeline results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(NAMES))
    parser.add_argument("--repeats", type=int, default=500)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "results")
    args = parser.parse_args(argv)
    shipped = set(list_pretrained())
    for name in args.models:
        fresh = name not in shipped
        target = fresh_from_config(name) if fresh else name
        report = profile_model(target, repeats=args.repeats)
        report.model["fresh_untrained"] = fresh
        if report.model.get("path"):  # repository-relative in committed results
            report.model["path"] = os.path.relpath(report.model["path"], ROOT.parent)
        if fresh:
            report.model["name"] = f"{name} (fresh, untrained; architecture of configs/{name}.yaml)"
        print(report.to_table())
        path = report.write_json(args.out_dir / f"profile_{name}.json")
        print(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
