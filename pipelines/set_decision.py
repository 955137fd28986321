"""Write the decision settings into model files' own ``"decision"`` section.

A model file written before the section existed loads with the settings
``DecisionSettings.from_legacy`` gives it (the defaults that ``score`` and
``evaluate`` always applied, and the AF gate its preprocessing names). This
script writes exactly those settings, or the ones given, into the file, leaving
every tensor and the rest of the header as they are::

    python pipelines/set_decision.py cardioliquid/models/pretrained/*.safetensors
    python pipelines/set_decision.py my_model.safetensors --decision '{"threshold": 0.6}'

It prints each file's settings and checks that the tensors are unchanged.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import torch
from safetensors.torch import load_file

from cardioliquid.models.checkpoint import load_model, set_decision


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="+", type=Path, help="model files (.safetensors)")
    p.add_argument("--decision", default="{}",
                   help="JSON of settings to change from the file's current ones")
    a = p.parse_args(argv)
    changes = json.loads(a.decision)
    for path in a.files:
        before = load_file(str(path))
        settings = replace(load_model(path).decision, **changes)
        set_decision(path, settings)
        after = load_file(str(path))
        same = before.keys() == after.keys() and all(
            torch.equal(before[k], after[k]) for k in before)
        if not same:
            print(f"{path}: tensors changed", file=sys.stderr)
            return 1
        print(f"{path}: decision {json.dumps(load_model(path).decision.to_dict())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
