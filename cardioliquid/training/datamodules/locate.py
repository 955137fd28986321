"""Where a DataModule's database lives, and fetching it when it is not there."""

from __future__ import annotations

import os
from pathlib import Path

from cardioliquid.errors import CardioLiquidError
from cardioliquid.io.pull import MIRROR_ENV, pull


def resolve_data_dir(
    data_dir: str | os.PathLike | None, subdir: str, database: str | None = None
) -> Path:
    """Where a database lives: ``data_dir``, else ``$CARDIOLIQUID_DATA_MIRROR/subdir``,
    else ``data/<database>`` (where :mod:`cardioliquid.io.pull` puts it).

    A relative ``data_dir`` that does not exist is looked up under the mirror too.
    """
    mirror = os.environ.get(MIRROR_ENV)
    if data_dir is not None:
        p = Path(data_dir)
        if p.exists() or not mirror or "://" in mirror:
            return p
        return Path(mirror) / p
    if mirror and "://" not in mirror:
        return Path(mirror) / subdir
    return Path("data") / (database or Path(subdir).name)


def pull_database(database: str, root: Path, records: list[str] | None = None) -> None:
    """Fetch ``database`` into ``root`` (``<data>/<database>``) through :mod:`cardioliquid.io.pull`.

    The puller copies from ``$CARDIOLIQUID_DATA_MIRROR`` when it is a folder or
    URL, else downloads from PhysioNet, verifying checksums.
    """
    if root.name != database:
        raise CardioLiquidError(
            f"{root}: no {database} data here; pull it with `cardioliquid data pull {database}` "
            f"or point data_dir at a folder that holds it"
        )
    try:
        pull(database, root.parent, records=records)
    except CardioLiquidError as e:
        # The puller's hint names `cardioliquid data pull`'s --mirror flag, which
        # cardioliquid-train does not have; the environment variable is the way here.
        text = str(e).replace("pass --mirror '' or unset", "unset")
        if text == str(e):
            raise
        raise CardioLiquidError(text) from e
