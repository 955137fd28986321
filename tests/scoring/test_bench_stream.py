"""pipelines/bench_stream.py: the live stream scored against the whole-record report."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def bench(pipeline_script):
    return pipeline_script("bench_stream")


@pytest.mark.realdata
@pytest.mark.slow
def test_each_stream_context_is_scored_against_the_whole_record(bench, mitdb_dir, tmp_path,
                                                                capsys):
    out = tmp_path / "bench.json"
    assert bench.main(["--mirror", str(mitdb_dir.parent), "--records", "100",
                       "--contexts", "60,120", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    ways = result["ways"]
    assert list(ways) == ["whole", "stream@60", "stream@120"]
    assert "agreement" not in ways["whole"] and ways["whole"]["cost_vs_whole"] == 1.0
    for way in ("stream@60", "stream@120"):
        row = ways[way]
        assert set(row["agreement"]) == {"100"}
        assert row["agreement_min"] == row["agreement"]["100"] > 0.99  # 99.9 % measured
        assert row["agreement_min_record"] == "100"
        assert row["veb_se"] is not None and row["sveb_se"] is not None
    # Record 100 (sinus rhythm, 33 S and 1 V beat): every way finds the V beat.
    assert {w["veb_se"] for w in ways.values()} == {100.0}
    assert out.with_suffix(".png").stat().st_size > 1000
    assert "| stream@120 |" in capsys.readouterr().out
