"""Run a network over windows: batched, or one after the other carrying its state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from cardioliquid.errors import ContractError

if TYPE_CHECKING:
    from cardioliquid.models.checkpoint import LoadedModel

DEFAULT_BATCH_SIZE = 2048


def carries_state(loaded: LoadedModel) -> bool:
    """Whether the model carries its liquid state from one window to the next.

    Declared by ``metadata["carry_state"]`` in the checkpoint, or a
    ``carry_state`` attribute on the network; off by default (windows are then
    independent, as in training on shuffled windows).
    """
    flag = loaded.metadata.get("carry_state", getattr(loaded.model, "carry_state", False))
    return bool(flag)




def _softmax(logits: torch.Tensor) -> np.ndarray:
    return torch.softmax(logits.float(), dim=-1).cpu().numpy().astype(np.float32)


def run_model(
    loaded: LoadedModel,
    x: np.ndarray,
    features: np.ndarray | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    hx: Any = None,
    where: str = "",
) -> tuple[np.ndarray, Any]:
    """Class probabilities of windows ``x`` (n, C, T) with optional ``features``.

    A model of the beat sequence (``beat_sequence`` attribute) runs all the
    windows, consecutive beats, in one call from ``hx`` and returns the state
    after the last. When the model carries state (:func:`carries_state`) the windows are run
    one after the other through ``forward_stateful``, passing ``hx`` along, and
    the final state is returned so a caller can continue; otherwise they run in
    batches of ``batch_size`` and ``hx`` is returned unchanged.
    """
    model = loaded.model
    n_out = len(loaded.classes)
    if len(x) == 0:
        return np.zeros((0, n_out), dtype=np.float32), hx
    device = next(model.parameters(), torch.zeros(0)).device  # inputs follow the weights
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device)
    ft = None
    if features is not None and np.size(features):
        ft = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)).to(device)
    contract = getattr(model, "contract", None)
    if contract is not None:
        try:
            contract.check(xt[:1], None if ft is None else ft[:1])
        except ContractError as e:
            raise ContractError(f"{where}: model {loaded.name!r}: {e}") from e
    out = []
    with torch.inference_mode():
        if getattr(model, "beat_sequence", False):
            # The windows are consecutive beats: one scan, the state carried through.
            logits, hx, _ = model.forward_stateful(xt, ft, hx=hx)
            out.append(_softmax(logits))
        elif carries_state(loaded):
            for i in range(len(xt)):
                f = None if ft is None else ft[i : i + 1]
                logits, hx, _ = model.forward_stateful(xt[i : i + 1], f, hx=hx)
                out.append(_softmax(logits))
        else:
            for i in range(0, len(xt), batch_size):
                f = None if ft is None else ft[i : i + batch_size]
                out.append(_softmax(model(xt[i : i + batch_size], f)))
    return np.concatenate(out).reshape(len(xt), -1), hx
