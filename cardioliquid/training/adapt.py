"""Patient-adaptive fine-tuning on the first minutes of a record (as EC57 allows).

ANSI/AAMI EC57 permits a "patient-adaptive" evaluation: the algorithm may use
the reference labels of the first 5 minutes of each test record, and is then
scored on the rest only. :func:`adapt_to_patient` fine-tunes a copy of a
loaded model on those beats (or EEG windows) with a small learning rate, a few
epochs and an L2-SP penalty that keeps the weights near the inter-patient
solution, so a short, unbalanced calibration set cannot make it forget the
classes that happen to be absent from it. It is deterministic for a given seed.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cardioliquid._check import check_option, check_positive
from cardioliquid.data.sequences import chunk_beats
from cardioliquid.decision.settings import DecisionSettings
from cardioliquid.errors import ContractError
from cardioliquid.io.recording import Recording
from cardioliquid.models.checkpoint import LoadedModel
from cardioliquid.models.classifier import untie_heads
from cardioliquid.scoring.beats import fusion_partners
from cardioliquid.signal.windows import beat_windows, eeg_windows
from cardioliquid.training.losses import balanced_weights

SEQUENCE_RUN_BEATS = 64
"""Beats per run when a model of the beat sequence adapts (the runs overlap by half)."""


def calibration_data(
    loaded: LoadedModel, recording: Recording, minutes: float
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Windows and reference labels of the first ``minutes`` of ``recording``.

    Returns
    -------
    x : Tensor (n, n_chans, n_times)
    features : Tensor (n, n_features) or None
    labels : Tensor (n,)
    """
    limit = minutes * 60.0
    if loaded.task == "arrhythmia":
        if recording.beats is None:
            raise ContractError(
                f"{recording.source or recording.record_id}: patient adaptation needs reference "
                "beat annotations, got none"
            )
        w = beat_windows(recording, loaded.preprocessing)
        keep = np.asarray(w.sample) < limit * recording.fs
        if not getattr(loaded.model, "beat_sequence", False):
            keep &= np.asarray(w.labels) >= 0
        # A model of the beat sequence steps over every beat, so all stay (label -1:
        # no class), in order.
        feats = torch.from_numpy(np.asarray(w.features, dtype=np.float32)[keep])
        x = torch.from_numpy(np.asarray(w.x, dtype=np.float32)[keep])
        return x, (feats if feats.shape[-1] else None), torch.from_numpy(
            np.asarray(w.labels, dtype=np.int64)[keep]
        )
    w = eeg_windows(recording, loaded.preprocessing)
    end = np.asarray(w.start_s) + loaded.preprocessing.window_s
    keep = (end <= limit) & (np.asarray(w.labels) >= 0)
    x = torch.from_numpy(np.asarray(w.x, dtype=np.float32)[keep])
    return x, None, torch.from_numpy(np.asarray(w.labels, dtype=np.int64)[keep])


def _calibration_readers(loaded: LoadedModel, recording: Recording,
                         all_leads: bool) -> list[LoadedModel]:
    """``loaded``, and with ``all_leads`` the same model reading each further lead it fuses."""
    if not all_leads or loaded.task != "arrhythmia":
        return [loaded]
    return [loaded, *fusion_partners(recording, loaded)]


def _head_parameters(model: nn.Module) -> list[nn.Parameter]:
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ContractError("mode='head' needs a final nn.Linear layer in the model")
    return list(linears[-1].parameters())


def adapt_to_patient(
    loaded: LoadedModel,
    recording: Recording,
    minutes: float = 5.0,
    epochs: int = 8,
    lr: float = 1e-3,
    mode: str = "full",
    l2sp: float = 1e-2,
    batch_size: int = 64,
    class_weight_power: float = 0.5,
    seed: int = 0,
    eval_mode: bool = False,
    untie: bool = False,
    present_classes_only: bool = False,
    sveb_min_proba: float | None = None,
    all_leads: bool = False,
    decision: Mapping[str, Any] | None = None,
) -> LoadedModel:
    """Fine-tune a copy of ``loaded`` on the first ``minutes`` of ``recording``.

    Parameters
    ----------
    loaded : LoadedModel
        The inter-patient model (left unchanged).
    recording : Recording
        The test record, with reference annotations (beats or seizures).
    minutes : float
        Calibration length from the start of the record; score only after it.
    epochs : int
        Passes over the calibration windows.
    lr : float
        Adam learning rate (small: this is a nudge, not a retraining).
    mode : {"full", "head"}
        Fine-tune every weight, or only the final linear layer.
    l2sp : float
        Weight of the L2-SP penalty ``sum((w - w0)**2)`` toward the starting weights.
    batch_size : int
        Mini-batch size.
    class_weight_power : float
        Exponent of the inverse-frequency loss weights over the classes present.
    seed : int
        Seed for the batch order (the result is deterministic).
    eval_mode : bool
        Fine-tune the network as it runs at inference: normalisation layers
        keep the statistics of the training patients (a few minutes of one
        patient would replace them) and training-only regularisers (dropout,
        morphology dropout) stay off. ``False`` fine-tunes in training mode.
    untie : bool
        Give classes that share their morphology weights (a model built with
        ``morphology_tied_outputs``) their own copies before fine-tuning, so the
        patient's labelled beats can separate them by shape too. The adapted
        model's ``model_kwargs`` then lists no tied outputs.
    present_classes_only : bool
        Take the softmax of the loss over the classes the calibration minutes
        hold. Five minutes without an S beat say nothing about S, and a plain
        cross-entropy would still push every beat away from it (fewer S calls
        for the rest of the record); with one class present nothing but the
        L2-SP anchor remains, so the model stays as it was.
    sveb_min_proba : float, optional
        The adapted model's S floor (its decision settings' ``sveb_min_proba``);
        None keeps the inter-patient model's. A floor set against the class
        weights of inter-patient training need not suit a model fine-tuned on
        the patient's own labels.
    all_leads : bool
        Calibrate on every lead a heartbeat model reads (its first lead and the
        ones it averages with it, ``preprocessing.fuse_leads``), each lead's
        beats their own examples as in training; False: the first lead only.
    decision : mapping, optional
        Decision settings of the adapted model that replace the inter-patient
        model's (keys of :class:`~cardioliquid.decision.settings.DecisionSettings`);
        None keeps them all. A rule chosen for patients the model has never
        seen need not suit a model tuned to this one (v9.1's adapted models keep
        v9's AF gate, round 25). ``sveb_min_proba`` is applied after it.

    Returns
    -------
    LoadedModel
        A new model in eval mode, with ``metadata["adapted"]`` describing the calibration.

    Raises
    ------
    ContractError
        No reference labels in the calibration window.
    ValueError
        ``decision`` names an unknown setting or an invalid value.
    """
    check_positive("minutes", minutes)
    # Checked before the fine-tuning, so a bad recipe fails at once.
    adapted_decision = loaded.decision
    if decision:
        adapted_decision = DecisionSettings.from_dict({**adapted_decision.to_dict(), **decision})
    check_option("mode", mode, ["full", "head"])
    parts = [calibration_data(reader, recording, minutes)
             for reader in _calibration_readers(loaded, recording, all_leads)]
    y = torch.cat([part[2] for part in parts])
    if len(y) == 0:
        raise ContractError(
            f"{recording.source or recording.record_id}: no labelled windows in the first "
            f"{minutes:g} min to adapt on"
        )
    model = copy.deepcopy(loaded.model)
    model_kwargs = dict(loaded.model_kwargs)
    if untie and untie_heads(model):
        model_kwargs["morphology_tied_outputs"] = None
    start = {k: v.detach().clone() for k, v in model.named_parameters()}
    params = _head_parameters(model) if mode == "head" else list(model.parameters())
    trainable = {id(p) for p in params}
    for p in model.parameters():
        p.requires_grad_(id(p) in trainable)
    opt = torch.optim.Adam(params, lr=lr)
    n_classes = len(loaded.classes)
    counts = torch.bincount(y[y >= 0], minlength=n_classes)
    weights = balanced_weights(counts, class_weight_power)
    absent = counts == 0
    gen = torch.Generator().manual_seed(seed)
    if getattr(model, "beat_sequence", False):
        # Runs of consecutive beats instead of single beats, as the model trained; a
        # lead's runs stay within that lead.
        x, feats, y = chunk_beats([(px.numpy(), pf.numpy(), py.numpy()) for px, pf, py in parts],
                                  SEQUENCE_RUN_BEATS, SEQUENCE_RUN_BEATS // 2).tensors
        # About as many beats per step as single-beat batches hold.
        batch_size = max(1, batch_size // (SEQUENCE_RUN_BEATS // 4))
    else:
        x = torch.cat([part[0] for part in parts])
        feats = None if parts[0][1] is None else torch.cat([part[1] for part in parts])
    model.train(not eval_mode)
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=gen)
        for i in range(0, len(y), batch_size):
            idx = order[i : i + batch_size]
            logits = model(x[idx], None if feats is None else feats[idx])
            if present_classes_only:
                logits = logits.masked_fill(absent, float("-inf"))
            loss = F.cross_entropy(logits.reshape(-1, n_classes), y[idx].reshape(-1),
                                   weight=weights, ignore_index=-1)
            penalty = sum(
                ((p - start[n]) ** 2).sum() for n, p in model.named_parameters() if p.requires_grad
            )
            opt.zero_grad()
            (loss + l2sp * penalty).backward()
            opt.step()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(True)
    meta: dict[str, Any] = dict(loaded.metadata)
    meta["adapted"] = {
        "record_id": recording.record_id, "minutes": float(minutes),
        "n_windows": int(counts.sum()),
        "class_counts": counts.tolist(), "epochs": int(epochs),
        "lr": float(lr), "mode": mode, "l2sp": float(l2sp), "seed": int(seed),
        "eval_mode": bool(eval_mode), "untie": bool(untie),
        "present_classes_only": bool(present_classes_only),
        "leads": len(parts),
    }  # fmt: skip
    if decision:
        meta["adapted"]["decision"] = dict(decision)
    if sveb_min_proba is not None:
        adapted_decision = adapted_decision.override(sveb_min_proba=float(sveb_min_proba))
        meta["adapted"]["sveb_min_proba"] = float(sveb_min_proba)
    return LoadedModel(model, loaded.preprocessing, loaded.model_name, model_kwargs, meta,
                       loaded.path, adapted_decision)


ADAPTATION_METADATA_KEY = "adaptation"
"""Metadata key of a model's adaptation recipe (keyword arguments of :func:`adapt_to_patient`)."""


ADAPTATION_OPTIONS = frozenset(inspect.signature(adapt_to_patient).parameters) - {
    "loaded", "recording", "minutes"}
"""The settings an adaptation recipe may hold."""


def adaptation_settings(loaded: LoadedModel) -> dict[str, Any]:
    """The adaptation recipe a model was shipped with (empty: the defaults).

    A model's recipe is chosen with it (for ``arrhythmia``, by cross-validation
    on the training patients) and stored in its metadata under
    :data:`ADAPTATION_METADATA_KEY`, so ``evaluate --calibrate-minutes`` adapts
    each model the way it was validated.

    Raises
    ------
    ContractError
        The stored recipe names an argument :func:`adapt_to_patient` does not take.
    """
    settings = dict(loaded.metadata.get(ADAPTATION_METADATA_KEY) or {})
    unknown = sorted(set(settings) - ADAPTATION_OPTIONS)
    if unknown:
        raise ContractError(
            f"{loaded.path or loaded.model_name}: unknown adaptation settings {unknown} in the "
            f"model's metadata; expected some of {sorted(ADAPTATION_OPTIONS)}"
        )
    return settings
