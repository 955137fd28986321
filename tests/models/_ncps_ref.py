"""Copy weights between ncps (the test-only reference) and our cells."""

from __future__ import annotations

import torch

from cardioliquid.models.cfc import CfC
from cardioliquid.models.ltc import LTC

_HEADS = ("ff1", "ff2", "time_a", "time_b")


def ncps_cfc(ours: CfC):
    """An ncps CfC with the same structure and the same weights as ``ours``."""
    from ncps.torch import CfC as RefCfC

    torch.manual_seed(123)
    if ours.use_backbone:
        ref = RefCfC(ours.input_size, ours.state_size, mode=ours.mode,
                     backbone_units=ours.weight.shape[1], backbone_layers=len(ours.backbone))
    elif not ours.wired:
        ref = RefCfC(ours.input_size, ours.state_size, mode=ours.mode, backbone_layers=0,
                     mixed_memory=ours.mixed_memory)
    else:
        ref = RefCfC(ours.input_size, ours.wiring.to_ncps(), mode=ours.mode,
                     mixed_memory=ours.mixed_memory)
    ref = ref.to(next(ours.parameters()).dtype)
    _randomise(ref)
    copy_cfc(ref, ours)
    return ref


def _randomise(ref: torch.nn.Module) -> None:
    """Move parameters off their init (pure mode's A and w_tau included)."""
    with torch.no_grad():
        for name, p in ref.named_parameters():
            if p.requires_grad and ("A" in name or "w_tau" in name):
                p.uniform_(0.2, 1.5)


def copy_cfc(ref, ours: CfC) -> None:
    """Copy ncps CfC weights into ``ours`` (in place)."""
    heads = _HEADS[: ours.n_heads]
    with torch.no_grad():
        for p in ours.parameters():
            p.zero_()
        if ours.use_backbone:
            cell = ref.rnn_cell
            lins = [m for m in cell.backbone if isinstance(m, torch.nn.Linear)]
            for mine, theirs in zip(ours.backbone, lins, strict=True):
                mine.weight.copy_(theirs.weight)
                mine.bias.copy_(theirs.bias)
            for hi, name in enumerate(heads):
                ours.weight[hi].copy_(getattr(cell, name).weight.t())
                ours.bias[hi].copy_(getattr(cell, name).bias)
            if ours.mode == "pure":
                ours.A.copy_(cell.A[0])
                ours.w_tau.copy_(cell.w_tau[0])
            return
        if ours.mixed_memory:
            ours.memory_input.weight.copy_(ref.lstm.input_map.weight)
            ours.memory_input.bias.copy_(ref.lstm.input_map.bias)
            ours.memory_recurrent.weight.copy_(ref.lstm.recurrent_map.weight)
        cells = ref.rnn_cell._layers if hasattr(ref.rnn_cell, "_layers") else [ref.rnn_cell]
        layers = ours.wiring.layers
        pos = torch.argsort(ours.state_neurons)  # neuron id -> position
        for li, cell in enumerate(cells):
            dest = pos[torch.tensor(layers[li])]
            for hi, name in enumerate(heads):
                lin = getattr(cell, name)
                w, in_l = lin.weight, lin.weight.shape[1] - len(dest)
                if li == 0:
                    ours.input_weight[hi][:, dest] = w[:, :in_l].t()
                else:
                    src = pos[torch.tensor(layers[li - 1])]
                    ours.recurrent_weight[hi][src.unsqueeze(1), dest] = w[:, :in_l].t()
                ours.recurrent_weight[hi][dest.unsqueeze(1), dest] = w[:, in_l:].t()
                ours.bias[hi, dest] = lin.bias
            if ours.mode == "pure":
                ours.A[dest] = cell.A[0]
                ours.w_tau[dest] = cell.w_tau[0]


def ncps_ltc(ours: LTC):
    """An ncps LTC with the same wiring and weights as ``ours``."""
    from ncps.torch import LTC as RefLTC

    ref = RefLTC(ours.input_size, ours.wiring.to_ncps(), ode_unfolds=ours.ode_unfolds,
                 epsilon=ours.epsilon, implicit_param_constraints=ours.implicit_constraints)
    ref = ref.to(next(ours.parameters()).dtype)
    with torch.no_grad():
        for name, p in ref.rnn_cell.named_parameters():
            if p.requires_grad:
                p.copy_(getattr(ours, name))
    return ref
