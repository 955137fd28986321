"""Seeded fuzzing: mutated WFDB headers, ``.atr`` files, EDF headers and model metadata.

Every case must end in a project error (a :class:`CardioLiquidError`) or in a
correct result: a recording that matches what its files say, or a model that
runs on the input its contract describes. Never another exception (a
traceback), never a hang (each case has a time limit), never a silent partial
result. A few hundred cases in a few seconds.
"""

from __future__ import annotations

import json
import math
import signal
from contextlib import contextmanager

import numpy as np
import pytest
import torch

from cardioliquid.errors import CardioLiquidError
from cardioliquid.io import load_recording

CASE_LIMIT_S = 5


class Hung(Exception):
    """A case ran past :data:`CASE_LIMIT_S`."""


@contextmanager
def time_limit(seconds: int = CASE_LIMIT_S):
    def alarm(signum, frame):
        raise Hung(f"no result after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def outcome(fn):
    """``("ok", value)`` or ``("error", exc)`` for project errors; anything else propagates."""
    with time_limit():
        try:
            return "ok", fn()
        except CardioLiquidError as e:
            assert str(e).strip(), f"{type(e).__name__} without a message"
            return "error", e


def mutate_text(rng: np.random.Generator, text: str) -> str:
    tokens = text.replace("\n", " \n ").split(" ")
    kind = rng.integers(5)
    i = int(rng.integers(len(tokens)))
    if kind == 0:  # replace a token with a number, possibly absurd
        tokens[i] = str(rng.choice(["0", "-1", "1e9", "nan", "99999999999", "3", "x"]))
    elif kind == 1:  # drop a token
        tokens.pop(i)
    elif kind == 2:  # duplicate a token
        tokens.insert(i, tokens[i])
    elif kind == 3:  # random bytes
        return text[: i] + "".join(chr(int(c)) for c in rng.integers(1, 256, 8)) + text[i:]
    else:  # drop a line
        lines = text.splitlines(keepends=True)
        lines.pop(int(rng.integers(len(lines))))
        return "".join(lines)
    return " ".join(tokens).replace(" \n ", "\n")


def mutate_bytes(rng: np.random.Generator, data: bytes, lo: int = 0, hi: int | None = None
                 ) -> bytes:
    b = bytearray(data)
    hi = len(b) if hi is None else min(hi, len(b))
    kind = rng.integers(4)
    if kind == 0:  # flip a few bytes
        for j in rng.integers(lo, hi, int(rng.integers(1, 8))):
            b[j] = int(rng.integers(256))
    elif kind == 1:  # randomise a stretch
        start = int(rng.integers(lo, hi))
        stop = min(hi, start + int(rng.integers(1, 64)))
        b[start:stop] = rng.integers(0, 256, stop - start, dtype=np.uint8).tobytes()
    elif kind == 2:  # truncate
        return bytes(b[: int(rng.integers(0, len(b)))])
    else:  # ASCII digits in a header field
        start = int(rng.integers(lo, hi))
        b[start:start + 8] = str(int(rng.integers(-9999, 99999999))).ljust(8).encode()[:8]
    return bytes(b)


def check_ecg(rec, header_text: str) -> None:
    """A loaded WFDB record is what its header says, with beats inside the signal."""
    fields = header_text.splitlines()[0].split()
    assert rec.n_channels >= 1 and rec.n_samples >= 1
    if len(fields) >= 4 and fields[3].isdigit():
        assert rec.n_samples == int(fields[3])
    assert np.isfinite(rec.signal).any()
    if rec.beats is not None and len(rec.beats):
        s = rec.beats.sample
        assert s.min() >= 0 and s.max() <= rec.n_samples and np.all(np.diff(s) > 0)


@pytest.fixture
def files(tmp_path, wfdb_writer, edf_writer):
    root = tmp_path / "originals"
    root.mkdir()
    base, _ = wfdb_writer(root, name="rec", duration_s=6.0)
    rng = np.random.default_rng(0)
    edf = edf_writer(root / "eeg.edf", 30 * rng.standard_normal((2, 256 * 4)), 256,
                    ["FP1-F7", "F7-T7"])  # fmt: skip
    return {
        "hea": base.with_suffix(".hea").read_text(),
        "dat": base.with_suffix(".dat").read_bytes(),
        "atr": base.with_suffix(".atr").read_bytes(),
        "edf": edf.read_bytes(),
    }


def test_fuzz_wfdb_headers_and_annotations(tmp_path, files):
    rng = np.random.default_rng(18)
    results = {"ok": 0, "error": 0}
    for case in range(150):
        folder = tmp_path / f"w{case}"
        folder.mkdir()
        hea, atr = files["hea"], files["atr"]
        if case % 2 == 0:
            hea = mutate_text(rng, hea)
        else:
            atr = mutate_bytes(rng, atr)
        (folder / "rec.hea").write_bytes(hea.encode("latin-1", errors="replace"))
        (folder / "rec.dat").write_bytes(files["dat"])
        (folder / "rec.atr").write_bytes(atr)
        kind, value = outcome(lambda folder=folder: load_recording(folder / "rec.hea"))
        if kind == "ok":
            check_ecg(value, hea)
        results[kind] += 1
    assert results["error"] > 20 and results["ok"] > 5, results  # both sides exercised


def test_fuzz_edf_headers(tmp_path, files):
    rng = np.random.default_rng(1818)
    data = files["edf"]
    n_sig = int(data[252:256])
    results = {"ok": 0, "error": 0}
    for case in range(100):
        path = tmp_path / f"e{case}.edf"
        path.write_bytes(mutate_bytes(rng, data, 0, 256 * (n_sig + 1)))
        kind, value = outcome(lambda path=path: load_recording(path))
        if kind == "ok":
            head = path.read_bytes()
            n_records, record_s = int(head[236:244]), float(head[244:252])
            # no silent partial result: the seconds the header promises, all of them
            assert value.duration_s == pytest.approx(n_records * record_s, rel=1e-3, abs=0.01)
            assert value.n_channels >= 1
        results[kind] += 1
    assert results["error"] > 10 and results["ok"] > 5, results


def _values(rng: np.random.Generator):
    return [0, -1, 1, 2, 3, 10**6, 2**31, 1.5, float("nan"), float("inf"), "x", None, [], [0],
            [8, 8], {}, True, 128.0, 256][int(rng.integers(19))]


def test_fuzz_model_metadata(tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file

    from cardioliquid.models.checkpoint import PRETRAINED_DIR, load_model

    with safe_open(str(PRETRAINED_DIR / "seizure-1ch.safetensors"), framework="pt") as f:
        header = json.loads(f.metadata()["cardioliquid"])
        state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    rng = np.random.default_rng(180)
    results = {"ok": 0, "error": 0}
    torch.set_num_threads(1)
    for case in range(80):
        h = json.loads(json.dumps(header))
        for _ in range(int(rng.integers(1, 3))):
            section = ["model_kwargs", "preprocessing", "metadata", None][int(rng.integers(4))]
            if section is None:
                key = ["model_name", "model_kwargs", "preprocessing", "metadata"][
                    int(rng.integers(4))]
                h[key] = _values(rng)
            elif isinstance(h.get(section), dict) and h[section]:
                keys = [*sorted(h[section]), "modality", "unknown_key"]
                h[section][keys[int(rng.integers(len(keys)))]] = _values(rng)
        path = tmp_path / f"m{case}.safetensors"
        text = json.dumps(h, allow_nan=True)
        save_file(state, str(path), metadata={"cardioliquid": text})
        kind, loaded = outcome(lambda path=path: load_model(path))
        if kind == "ok":  # a model that loads runs on what its contract describes
            c = loaded.model.contract
            x = torch.zeros(2, c.n_chans, c.n_times)
            feats = torch.zeros(2, c.n_features) if c.n_features else None
            with time_limit(), torch.no_grad():
                out = loaded.model(x, feats)
            assert out.shape == (2, len(loaded.classes)) and len(loaded.classes) >= 2
            assert all(math.isfinite(v) for v in out.flatten().tolist())
        results[kind] += 1
    assert results["error"] > 20 and results["ok"] > 5, results
