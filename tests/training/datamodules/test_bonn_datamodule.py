"""Bonn segments: a seeded split by segment, stratified by set."""

from __future__ import annotations

import pytest

from cardioliquid.errors import CardioLiquidError
from cardioliquid.training.datamodules.bonn import BonnDataModule


@pytest.fixture
def bonn_root(tmp_path):
    for folder, letter in BonnDataModule.SETS.items():
        d = tmp_path / letter
        d.mkdir()
        for i in range(20):
            (d / f"{folder}{i:03d}.txt").write_text("0\n")
    return tmp_path


def test_bonn_segment_split_is_disjoint_and_stratified(bonn_root):
    dm = BonnDataModule(data_dir=str(bonn_root), val_fraction=0.15, test_fraction=0.2)
    dm.prepare_data()
    s = dm.split_segments()
    names = [set(p.name for p in v) for v in s.values()]
    assert not (names[0] & names[1]) and not (names[0] & names[2]) and not (names[1] & names[2])
    assert sum(len(v) for v in s.values()) == 100
    assert sum(p.parent.name == "E_S" for p in s["test"]) == 4  # 20 % of each set
    assert dm.split_segments() == s  # seeded


def test_a_zero_fraction_is_an_empty_split(bonn_root):
    dm = BonnDataModule(data_dir=str(bonn_root), test_fraction=0.0)
    dm.setup("test")
    with pytest.raises(CardioLiquidError, match=r"test_fraction is 0\.0: no test segments"):
        dm.test_dataloader()
