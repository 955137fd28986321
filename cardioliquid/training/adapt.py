"""Patient-adaptive fine-tuning on the first minutes of a record (as EC57 allows).

ANSI/AAMI EC57 permits a "patient-adaptive" evaluation: the algorithm may use
the reference labels of the first 5 minutes of each test record, and is then
scored on the rest only. :func:`adapt_to_patient` fine-tunes a copy of a
loaded model on those beats (or EEG windows) with a small learning rate, a few
epochs and an L2-SP penalty that keeps the weights near the inter-patient
solution, so a short, unbalanced calibration set cannot make it forget the
classes that happen to be absent from it. It is deterministic for a given seed.

A heartbeat model can also adapt without any reference label (``labels="model"``
or ``"none"``): on its own confident calls of the first minutes (self-training)
and/or with its normalisation statistics re-estimated on the patient's beats
(``normalisation="patient"``). No reference label is read: the beats are the
annotated positions where a record has them (as in inter-patient evaluation),
detected ones otherwise.
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
from cardioliquid.scoring.beats import fusion_partners, predict_beats
from cardioliquid.signal.windows import beat_windows, eeg_windows
from cardioliquid.training.losses import balanced_weights

SEQUENCE_RUN_BEATS = 64
"""Beats per run when a model of the beat sequence adapts (the runs overlap by half)."""

ADAPTATION_LABELS = ("reference", "model", "none")
"""Where calibration labels come from: the expert's annotations, the model's own confident
calls (no reference label read), or nowhere (only ``normalisation`` adapts)."""

NORMALISATIONS = ("training", "patient")
"""Normalisation statistics of an adapted model: the training patients' or the patient's own."""


def model_labels(loaded: LoadedModel, recording: Recording,
                 min_confidence: float) -> dict[int, int]:
    """The model's own calls of a record's beats, where confident: R-peak sample -> class.

    The record is scored as ``score`` scores it
    (:func:`~cardioliquid.scoring.beats.predict_beats`: reference beat positions
    when annotated, else detected; the model's decision settings, AF gate and
    fused leads included). A beat whose settled probability is below
    ``min_confidence`` gets -1 (no class: stepped over, not learned). No
    reference label is read.
    """
    pred = predict_beats(recording, loaded, beats="auto")
    proba = np.asarray(pred.proba)
    calls = np.where(proba.max(-1) >= min_confidence, proba.argmax(-1), -1)
    return dict(zip(np.asarray(pred.sample).tolist(), calls.tolist(), strict=True))


def calibration_data(
    loaded: LoadedModel, recording: Recording, minutes: float,
    labels: dict[int, int] | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Windows and labels of the first ``minutes`` of ``recording``.

    Parameters
    ----------
    labels : dict, optional
        Class index of each beat's R-peak sample (:func:`model_labels`; missing
        or -1: no class) in place of the reference labels, so the recording
        needs no annotation. Heartbeat models only.

    Returns
    -------
    x : Tensor (n, n_chans, n_times)
    features : Tensor (n, n_features) or None
    labels : Tensor (n,)
    """
    limit = minutes * 60.0
    if loaded.task == "arrhythmia":
        if labels is None and recording.beats is None:
            raise ContractError(
                f"{recording.source or recording.record_id}: patient adaptation needs reference "
                "beat annotations, got none"
            )
        w = beat_windows(recording, loaded.preprocessing)
        y = np.asarray(w.labels, dtype=np.int64)
        if labels is not None:
            y = np.array([labels.get(int(s), -1) for s in w.sample], dtype=np.int64)
        keep = np.asarray(w.sample) < limit * recording.fs
        if not getattr(loaded.model, "beat_sequence", False) and labels is None:
            keep &= y >= 0
        # A model of the beat sequence steps over every beat, so all stay (label -1:
        # no class), in order; so do the unlabelled beats of label-free adaptation,
        # whose normalisation reads them.
        feats = torch.from_numpy(np.asarray(w.features, dtype=np.float32)[keep])
        x = torch.from_numpy(np.asarray(w.x, dtype=np.float32)[keep])
        return x, (feats if feats.shape[-1] else None), torch.from_numpy(y[keep])
    if labels is not None:
        raise ContractError("label-free adaptation is for heartbeat models; "
                            f"{loaded.model_name} is a {loaded.task} model")
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


@torch.no_grad()
def patient_normalisation(model: nn.Module, x: torch.Tensor, features: torch.Tensor | None,
                          batch_size: int = 64) -> int:
    """Re-estimate ``model``'s batch-normalisation statistics on one patient's windows.

    Each BatchNorm layer's running mean and variance become the plain average
    over ``x`` (its first dimension batched by ``batch_size``), read with every
    other layer as at inference (dropout off). Returns the number of layers
    re-estimated (0: the model has none, and is unchanged).
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms or len(x) == 0:
        return 0
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the patient's batches
    model.eval()
    for m in norms:
        m.train()
    for i in range(0, len(x), batch_size):
        model(x[i : i + batch_size], None if features is None else features[i : i + batch_size])
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    model.eval()
    return len(norms)


def _examples(parts: list[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]],
              sequence: bool) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Windows, features and labels of the leads' calibration ``parts`` as training examples.

    A model of the beat sequence gets runs of consecutive beats, as it trained, each
    run within one lead; other models single beats.
    """
    if sequence:
        x, feats, y = chunk_beats([(px.numpy(), pf.numpy(), py.numpy()) for px, pf, py in parts],
                                  SEQUENCE_RUN_BEATS, SEQUENCE_RUN_BEATS // 2).tensors
        return x, feats, y
    feats = None if parts[0][1] is None else torch.cat([part[1] for part in parts])
    return torch.cat([part[0] for part in parts]), feats, torch.cat([part[2] for part in parts])


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
    labels: str = "reference",
    min_confidence: float = 0.9,
    normalisation: str = "training",
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
        seen need not suit a model tuned to this one (v9.1's and v10's adapted models keep
        v9's AF gate, round 25). ``sveb_min_proba`` is applied after it.
    labels : {"reference", "model", "none"}
        The calibration labels: the expert's annotations; the inter-patient
        model's own calls of the calibration beats where their settled
        probability is at least ``min_confidence`` (:func:`model_labels`:
        self-training, no annotation read or needed); or none, so only
        ``normalisation`` adapts. The last two are heartbeat models only.
    min_confidence : float
        The lowest settled probability of a call ``labels="model"`` learns from.
    normalisation : {"training", "patient"}
        Keep the training patients' BatchNorm statistics, or re-estimate them on
        the calibration windows of every lead read (:func:`patient_normalisation`)
        before any fine-tuning.

    Returns
    -------
    LoadedModel
        A new model in eval mode, with ``metadata["adapted"]`` describing the calibration.

    Raises
    ------
    ContractError
        No reference labels in the calibration window (``labels="reference"``);
        ``labels="none"`` without ``normalisation="patient"`` (nothing would adapt).
    ValueError
        ``decision`` names an unknown setting or an invalid value.
    """
    check_positive("minutes", minutes)
    # Checked before the fine-tuning, so a bad recipe fails at once.
    adapted_decision = loaded.decision
    if decision:
        adapted_decision = DecisionSettings.from_dict({**adapted_decision.to_dict(), **decision})
    check_option("mode", mode, ["full", "head"])
    check_option("labels", labels, ADAPTATION_LABELS)
    check_option("normalisation", normalisation, NORMALISATIONS)
    if labels == "none" and normalisation != "patient":
        raise ContractError("labels='none' adapts nothing unless normalisation='patient'")
    own = None
    if labels != "reference":
        # One set of calls for every lead read: the fused decision, as ``score`` makes it.
        own = {} if labels == "none" else model_labels(loaded, recording, min_confidence)
    # The normalisation reads every lead the model reads, whichever leads fine-tune: its
    # one set of statistics serves them all, as in training.
    read = [calibration_data(reader, recording, minutes, own) for reader in
            _calibration_readers(loaded, recording, all_leads or normalisation == "patient")]
    parts = read if all_leads else read[:1]
    y = torch.cat([part[2] for part in parts])
    if labels == "reference" and len(y) == 0:
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
    sequence = getattr(model, "beat_sequence", False)
    if sequence:
        # About as many beats per step as single-beat batches hold.
        batch_size = max(1, batch_size // (SEQUENCE_RUN_BEATS // 4))
    renormalised = 0
    if normalisation == "patient":
        renormalised = patient_normalisation(model, *_examples(read, sequence)[:2], batch_size)
    x, feats, y = _examples(parts, sequence)
    # Label-free adaptation may find no confident call; the model then only renormalises.
    epochs = epochs if bool((y >= 0).any()) else 0
    model.train(not eval_mode)
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=gen)
        for i in range(0, len(y), batch_size):
            idx = order[i : i + batch_size]
            if not bool((y[idx] >= 0).any()):
                continue  # no class to learn in this batch (a mean over none is NaN)
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
        "leads": len(parts), "labels": labels, "normalisation": normalisation,
        "batchnorm_layers_renormalised": renormalised,
    }  # fmt: skip
    if labels == "model":
        meta["adapted"]["min_confidence"] = float(min_confidence)
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
