"""What a training run read, written into its checkpoints and exported model files.

A config's ``export_metadata`` describes its recipe in words; a run whose data
were overridden on the command line trained on something else. The records it
really read travel with every checkpoint (:data:`CHECKPOINT_KEY`, written by
:meth:`~cardioliquid.training.module.LiquidClassifierModule.on_save_checkpoint`)
and every exported model, where the provenance labels of the app and of
``cardioliquid evaluate`` read them.
"""

from __future__ import annotations

from collections import Counter

CHECKPOINT_KEY = "cardioliquid_metadata"
"""The key of a Lightning checkpoint that holds :func:`records_metadata`."""


def _listing(names: list[str], most: int = 12) -> str:
    shown = ", ".join(names[:most]) + (", ..." if len(names) > most else "")
    if not names:
        return "none"
    # Records of extra databases are named "<database>/<record>": say how many each gave,
    # since the first dozen names shown are usually the main database's alone.
    extra = Counter(name.split("/", 1)[0] for name in names if "/" in name)
    from_extra = "".join(f"; {n} from {db}" for db, n in extra.items())
    return f"{len(names)} ({shown}{from_extra})"


def records_metadata(datamodule: object) -> dict[str, object]:
    """The records a run read, for the exported model's provenance.

    A config's ``export_metadata`` describes its recipe in words; a run whose
    data were overridden on the command line (``--data.init_args.train_records
    101,106``) trained on something else. The file therefore also lists what
    this run read (``train_records``, ``val_records``, ``test_records``) and
    says it in its ``trained_on`` line, which the app's provenance reads; the
    line counts the records of each extra database (``39 from svdb``).
    """
    used = getattr(datamodule, "records_used", None)
    if used is None:
        return {}
    splits = used()
    meta: dict[str, object] = {f"{k}_records": [str(r) for r in v] for k, v in splits.items()}
    meta["trained_on"] = (f"train records {_listing(splits.get('train', []))}; validation "
                          f"{_listing(splits.get('val', []))}; test "
                          f"{_listing(splits.get('test', []))}")
    return meta
