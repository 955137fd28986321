"""Where a DataModule's database lives, and what a failed pull tells the user."""

from __future__ import annotations

import pytest

from cardioliquid.errors import CardioLiquidError
from cardioliquid.training.datamodules import locate


def test_a_failed_pull_names_the_environment_variable_not_the_pull_commands_flag(
        tmp_path, monkeypatch):
    """The puller's hint said "pass --mirror ''", an option cardioliquid-train does not have."""

    def refuse(database, dest, records=None):
        raise CardioLiquidError(
            f"{database}: 999 not in the RECORDS of directory mirror /m/{database}; to pull "
            f"from PhysioNet instead, pass --mirror '' or unset CARDIOLIQUID_DATA_MIRROR")

    monkeypatch.setattr(locate, "pull", refuse)
    with pytest.raises(CardioLiquidError, match="instead, unset CARDIOLIQUID_DATA_MIRROR") as e:
        locate.pull_database("mitdb", tmp_path / "mitdb", ["999"])
    assert "--mirror" not in str(e.value)


def test_other_pull_errors_pass_unchanged(tmp_path, monkeypatch):
    def refuse(database, dest, records=None):
        raise CardioLiquidError("mitdb: checksum mismatch")

    monkeypatch.setattr(locate, "pull", refuse)
    with pytest.raises(CardioLiquidError, match=r"^mitdb: checksum mismatch$"):
        locate.pull_database("mitdb", tmp_path / "mitdb")
