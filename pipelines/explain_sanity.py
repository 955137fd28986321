"""Sanity check and circuit measures of a model's neuron attributions on one MIT-BIH record.

    .venv/bin/python pipelines/explain_sanity.py --record 200 --model arrhythmia

Samples beats of each class present (expert labels), runs the Adebayo et al.
(2018) model-randomisation test (full and cascading, head to input) for both
attribution methods, and measures circuit concentration and stability per
class. Writes ``pipelines/results/explain_sanity.json`` (temporary name, then renamed).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import torch


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mirror", default=os.environ.get("CARDIOLIQUID_DATA_MIRROR", "../shared/data"))
    p.add_argument("--record", default="200")
    p.add_argument("--model", default="arrhythmia")
    p.add_argument("--per-class", type=int, default=20)
    p.add_argument("--steps", type=int, default=16)
    p.add_argument("--out", default="pipelines/results/explain_sanity.json")
    a = p.parse_args()
    torch.set_num_threads(1)
    from cardioliquid.app.neurons import DECISION_CONTEXT_BEATS
    from cardioliquid.explain import (
        attribute_neurons,
        concentration,
        model_randomization_test,
        stability_by_class,
    )
    from cardioliquid.explain.states import is_beat_sequence
    from cardioliquid.io import load_recording
    from cardioliquid.models.checkpoint import load_model
    from cardioliquid.signal.windows import beat_windows

    rec = load_recording(Path(a.mirror, "mitdb", a.record))
    loaded = load_model(a.model)
    win = beat_windows(rec, loaded.preprocessing)
    # A beat-sequence model decides a beat from the beats before it: its input is the run of
    # DECISION_CONTEXT_BEATS beats ending at the beat (what the app explains), not the beat alone.
    run = DECISION_CONTEXT_BEATS if is_beat_sequence(loaded.model) else 1
    rng = np.random.default_rng(0)
    picks = []
    for c in range(len(loaded.classes)):
        members = np.flatnonzero(win.labels == c)
        members = members[members >= run - 1]
        if members.size >= 2:
            picks.append(rng.choice(members, min(a.per_class, members.size), replace=False))
    idx = np.concatenate(picks)
    if run > 1:
        x = np.stack([win.x[i - run + 1:i + 1] for i in idx])
        f = np.stack([win.features[i - run + 1:i + 1] for i in idx])
    else:
        x, f = win.x[idx], win.features[idx]
    labels = np.asarray(loaded.classes)[win.labels[idx]]
    model = loaded.model
    if run > 1 and getattr(model, "embedding_reference", 0):
        # Each run reads its beats against the reference the record had carried to its first
        # beat, as the app's explanations do (cardioliquid.app.neurons.beat_decision).
        # One pass over the record: each run start's reference carried on from the last.
        at, done, ref = {}, 0, None
        for s in sorted({int(i) - run + 1 for i in idx}):
            ref = model.reference_after(torch.as_tensor(win.x[done:s]), start=ref)
            at[s], done = ref, s
        starts = [at[int(i) - run + 1] for i in idx]
        model = model.starting_from(torch.cat([m for m, _ in starts]),
                                    torch.cat([c for _, c in starts]))
    result: dict = {"record": a.record, "model": a.model, "run_beats": run, "beats": {
        str(c): int((labels == c).sum()) for c in np.unique(labels)}, "methods": {}}
    for method in ("integrated_gradients", "grad_x_activation"):
        sanity = model_randomization_test(model, x, f, method=method, steps=a.steps,
                                          cascade=True)  # fmt: skip
        att = attribute_neurons(model, x, f, method=method, steps=a.steps)
        conc = [concentration(s, 3) for s in att.share]
        result["methods"][method] = {
            "randomisation_rank_correlation": sanity.rank_correlation,
            "randomisation_top3_overlap": sanity.top_k_overlap,
            "passed": sanity.passed,
            "cascade_rank_correlation": dict(sanity.cascade),
            "top3_share_mean": float(np.mean([c.top_k_share for c in conc])),
            "effective_neurons_mean": float(np.mean([c.effective_neurons for c in conc])),
            "n_neurons": int(att.scores.shape[1]),
            "stability_by_class": {
                k: {"top3_jaccard": v.top_k_jaccard, "cosine": v.cosine, "n": v.n_decisions}
                for k, v in stability_by_class(att.share, labels, 3).items()
            },
        }
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, out)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
