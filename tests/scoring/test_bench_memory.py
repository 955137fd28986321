"""pipelines/bench_memory.py: peak memory of scoring a long record, against reading it."""

from __future__ import annotations

import json

import pytest


@pytest.mark.realdata
@pytest.mark.slow
def test_a_tiled_record_is_scored_and_its_peak_memory_set_against_reading_it(
        pipeline_script, mitdb_dir, tmp_path, capsys):
    bench = pipeline_script("bench_memory")
    out = tmp_path / "mem.json"
    assert bench.main(["--mirror", str(mitdb_dir.parent), "--hours", "1",
                       "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["samples_per_channel"] == 2 * 650000  # two copies of 30 min 5 s
    assert result["annotations"] == 2 * 2274 and result["signal_float32_mb"] == 10.4
    runs = result["runs"]
    assert list(runs) == ["wfdb.rdrecord (peer)", "import torch + cardioliquid (no record)",
                          "cardioliquid score (whole record)"]
    assert runs["wfdb.rdrecord (peer)"]["vs_peer"] == 1.0
    for row in runs.values():
        assert row["peak_rss_mb"] > 0 and row["wall_s"] > 0
    # scoring holds torch and the record: more than either alone
    score = runs["cardioliquid score (whole record)"]["peak_rss_mb"]
    assert score > runs["import torch + cardioliquid (no record)"]["peak_rss_mb"]
    table = capsys.readouterr().out
    assert "| cardioliquid score (whole record) |" in table and f"wrote {out}" in table
