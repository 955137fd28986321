"""Classify every heartbeat of an ECG recording: windows, model, settled calls.

:func:`predict_beats` is what ``cardioliquid score``, ``cardioliquid evaluate``
and the app call, so a beat is classified the same way everywhere. The
preprocessing comes from the checkpoint (``loaded.preprocessing``) and runs
through :func:`cardioliquid.signal.windows.beat_windows`; the calls are settled
by the model's decision settings (``loaded.decision``,
:func:`cardioliquid.decision.beats.settle_calls`).
"""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from cardioliquid._check import check_option
from cardioliquid.decision.beats import settle_calls
from cardioliquid.decision.unusable import mark_unclassifiable
from cardioliquid.errors import RecordingError
from cardioliquid.io.recording import Recording
from cardioliquid.scoring.checks import check_fits, recording_label, windowing_errors
from cardioliquid.scoring.results import BeatPredictions
from cardioliquid.scoring.runner import DEFAULT_BATCH_SIZE, run_model
from cardioliquid.scoring.segments import (
    DEFAULT_ECG_CONTEXT_S,
    DEFAULT_ECG_LOOKAHEAD_S,
    Segment,
    iter_segments,
    segment_plan,
    slice_recording,
)
from cardioliquid.signal.atrial import ATRIAL_FEATURE_NAMES
from cardioliquid.signal.leads import fused_leads, listed_leads, select_lead
from cardioliquid.signal.quality import unusable_samples
from cardioliquid.signal.windows import BeatWindows, beat_feature_names, beat_windows

if TYPE_CHECKING:
    from cardioliquid.models.checkpoint import LoadedModel

BEAT_SOURCES = ("auto", "reference", "detect")


def _resolve_beat_source(rec: Recording, beats: str) -> tuple[str, np.ndarray | None]:
    check_option("beats", beats, BEAT_SOURCES)
    ref = None
    if rec.beats is not None and len(rec.beats):
        is_beat = rec.beats.aami != ""
        ref = np.sort(rec.beats.sample[is_beat])
    if beats == "reference" and ref is None:
        raise RecordingError(recording_label(rec), "expected reference beat annotations, got none")
    if beats == "detect" or (beats == "auto" and ref is None):
        return "detect", None
    return "reference", ref



def model_beat_windows(rec: Recording, loaded: LoadedModel,
                       beat_samples: np.ndarray | None = None, require_signal: bool = True,
                       atrial: bool | None = None, keep_from: int = 0,
                       ) -> tuple[BeatWindows, np.ndarray | None]:
    """The beat windows and features ``loaded`` reads, and the beats' atrial consistency.

    ``atrial``: compute the consistency (None: where the model's AF gate reads
    it, :attr:`~cardioliquid.decision.settings.DecisionSettings.needs_atrial`;
    otherwise it is None). It is computed with the windows, as extra feature
    columns dropped again unless the model reads them too, so it sees the same
    beats. ``beat_samples``, ``require_signal``, ``keep_from``: as in
    :func:`~cardioliquid.signal.windows.beat_windows`.
    """
    prep = loaded.preprocessing
    gate = loaded.decision.needs_atrial if atrial is None else atrial
    if gate and not prep.atrial_features:
        prep = replace(prep, atrial_features=True)
    with windowing_errors(rec, "beat"):
        bw = beat_windows(rec, prep, beat_samples=beat_samples, require_signal=require_signal,
                          keep_from=keep_from)
    if not gate:
        return bw, None
    atrial = bw.features[:, beat_feature_names(prep).index("atrial_consistency")].copy()
    if not loaded.preprocessing.atrial_features:
        bw = replace(bw, features=bw.features[:, :-len(ATRIAL_FEATURE_NAMES)])
    return bw, atrial


def fusion_partners(rec: Recording, loaded: LoadedModel) -> list[LoadedModel]:
    """``loaded`` reading each further lead of ``rec`` whose probabilities it averages.

    The leads are the recording's listed leads after the first, in
    ``preprocessing.lead_preference`` order, up to ``preprocessing.fuse_leads``
    in all (:class:`~cardioliquid.signal.config.BeatPreprocessing`); none for a
    model that reads one lead or a recording with one listed lead. A model that
    stacks leads in its windows reads each further lead first, the others after it.
    """
    prep = loaded.preprocessing
    leads = fused_leads(rec.channel_names, prep.lead_preference, getattr(prep, "fuse_leads", 1))
    if getattr(prep, "stack_leads", 1) > 1:  # each further lead first, the others after it
        listed = fused_leads(rec.channel_names, prep.lead_preference, prep.stack_leads)
        return [loaded.reading_leads([lead, *(other for other in listed if other != lead)])
                for lead in leads[1:]]
    return [loaded.reading_leads([lead]) for lead in leads[1:]]


def without_dead_leads(rec: Recording, loaded: LoadedModel
                       ) -> tuple[LoadedModel, tuple[str, ...]]:
    """``loaded`` kept off the leads of ``rec`` it would read that carry no usable sample.

    A lead off for the whole recording (flat or NaN throughout,
    :func:`~cardioliquid.signal.quality.unusable_samples`) is left out and the
    next listed lead takes its place: a dead first lead used to fail the record
    while its second lead was fine, and a dead second lead was averaged in as
    silence. Returns the model as it reads the record and the leads left out;
    with no live lead the model is returned unchanged (and fails naming the
    first). Models that stack leads in their windows are returned unchanged.
    """
    prep = loaded.preprocessing
    if not hasattr(prep, "lead_preference") or getattr(prep, "stack_leads", 1) > 1:
        return loaded, ()
    listed = listed_leads(rec.channel_names, prep.lead_preference)

    @functools.cache  # each lead looked at once: a read lead is checked again below
    def dead(lead: str) -> bool:
        x = np.asarray(rec.signal[rec.channel_names.index(lead)])
        return bool(unusable_samples(x, rec.fs).all())

    read = listed[:max(1, prep.fuse_leads)]
    off = tuple(lead for lead in read if dead(lead))
    if not off:  # the usual case: the other listed leads are not looked at
        return loaded, ()
    alive = [lead for lead in listed if not dead(lead)]
    if not alive:
        return loaded, ()
    prep = replace(prep, lead_preference=alive, fuse_leads=min(prep.fuse_leads, len(alive)))
    return replace(loaded, preprocessing=prep), off


def stacked_partners(rec: Recording, loaded: LoadedModel) -> list[LoadedModel]:
    """``loaded`` reading each further lead of ``rec`` it stacks in its windows.

    The AF gate of a model that stacks leads (``preprocessing.stack_leads``)
    reads their atrial consistency through these where its decision settings
    say ``atrial_leads="max"``; their windows are not scored.
    """
    prep = loaded.preprocessing
    leads = fused_leads(rec.channel_names, prep.lead_preference, getattr(prep, "stack_leads", 1))
    return [loaded.reading_leads([lead]) for lead in leads[1:]]


def score_beat_segment(
    rec: Recording,
    loaded: LoadedModel,
    seg: Segment | None,
    reference: np.ndarray | None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    hx: Any = None,
) -> tuple[np.ndarray, np.ndarray, Any, np.ndarray | None]:
    """Beats of one segment (the whole recording when ``seg`` is None).

    ``rec`` holds the samples ``[seg.read_start, seg.read_stop)`` (the whole
    recording when ``seg`` is None); ``reference`` holds absolute R-peak
    positions (None: detect). Returns absolute samples, probabilities, the
    liquid state after the last beat, and the beats' atrial consistency where
    the model's AF gate reads it (else None).

    A model that fuses leads (:func:`fusion_partners`) scores the first lead's
    beats on every fused lead, each with its own state (``hx`` is then a tuple,
    one per lead), and averages the probabilities of the leads where a beat is
    usable; a beat usable on none is unclassifiable. Its gate's atrial
    consistency is the first lead's, or the highest of its leads' where the
    decision settings say ``atrial_leads="max"``; so is that of a model that
    stacks leads in its windows (:func:`stacked_partners`).
    """
    partners = fusion_partners(rec, loaded)
    inputs = _segment_inputs(rec, loaded, seg, reference)
    sample, x, feats, usable, atrial = inputs[:5]
    where = recording_label(rec)
    if not partners:
        if atrial is not None and loaded.decision.atrial_leads == "max":
            for model in stacked_partners(rec, loaded):  # a lead stacked in the windows
                other = _segment_inputs(rec, model, seg, inputs[5], atrial=True,
                                        require_signal=False)[4]
                atrial = np.fmax(atrial, other)
        proba, hx = run_model(loaded, x, feats, batch_size, hx, where=where)
        return sample, mark_unclassifiable(proba, usable, loaded.classes), hx, atrial
    states = list(hx) if isinstance(hx, tuple) else [hx] + [None] * len(partners)
    # The other leads read the first lead's beats, context included, so their RR
    # features and templates see the same beats.
    beats_read = inputs[5]
    both = atrial is not None and loaded.decision.atrial_leads == "max"
    total = np.zeros((len(sample), len(loaded.classes)), dtype=np.float64)
    weight = np.zeros(len(sample), dtype=np.float64)
    for i, model in enumerate([loaded, *partners]):
        if i:
            # A further lead that is flat or missing throughout only drops out.
            _, x, feats, usable, other, _ = _segment_inputs(rec, model, seg, beats_read,
                                                             atrial=both, require_signal=False)
            if both:
                atrial = np.fmax(atrial, other)
        proba, states[i] = run_model(model, x, feats, batch_size, states[i], where=where)
        total += proba * usable[:, None]
        weight += usable
    fused = total / np.maximum(weight, 1.0)[:, None]
    proba = mark_unclassifiable(fused.astype(np.float32), weight > 0, loaded.classes)
    return sample, proba, tuple(states), atrial


def segment_beat_inputs(
    rec: Recording, loaded: LoadedModel, seg: Segment | None, reference: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None]:
    """What the model reads for the beats of one segment: the input of its decisions.

    Arguments as :func:`score_beat_segment`. Returns the beats' absolute samples,
    windows ``(n, C, T)``, features ``(n, F)`` (or None), usable flags and the
    atrial consistency its AF gate reads (None unless it reads it; the beats
    before the segment's kept ones make it). These are the first lead's inputs;
    a model that fuses leads reads the same beats on its other leads.
    """
    return _segment_inputs(rec, loaded, seg, reference)[:5]


def _segment_inputs(
    rec: Recording, loaded: LoadedModel, seg: Segment | None, reference: np.ndarray | None,
    atrial: bool | None = None, require_signal: bool | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None,
           np.ndarray]:
    """:func:`segment_beat_inputs`, plus every beat read (absolute, context included)."""
    offset = 0 if seg is None else seg.read_start
    local = None
    if reference is not None:
        lo, hi = (0, rec.n_samples) if seg is None else (seg.read_start, seg.read_stop)
        ref = reference[(reference >= lo) & (reference < hi)]
        local = ref - offset
    # No annotations reach the windowing: with ``local`` None it must detect.
    # A stream's segment may lie inside a long gap; a whole recording may not.
    if require_signal is None:
        require_signal = seg is None
    keep_from = 0 if seg is None else seg.keep_start - offset
    bw, consistency = model_beat_windows(replace(rec, beats=None), loaded, local,
                                         require_signal=require_signal, atrial=atrial,
                                         keep_from=keep_from)
    sample = np.asarray(bw.sample, dtype=np.int64) + offset
    read = sample
    x, feats, usable = bw.x, bw.features, bw.usable
    if seg is not None:
        keep = (sample >= seg.keep_start) & (sample < seg.keep_stop)
        sample, x, usable = sample[keep], x[keep], usable[keep]
        feats = None if feats is None else feats[keep]
        consistency = None if consistency is None else consistency[keep]
    return sample, x, feats, usable, consistency, read


def predict_beats(
    rec: Recording,
    loaded: LoadedModel,
    beats: str = "auto",
    batch_size: int = DEFAULT_BATCH_SIZE,
    segment_s: float | None = None,
    context_s: float = DEFAULT_ECG_CONTEXT_S,
    lookahead_s: float = DEFAULT_ECG_LOOKAHEAD_S,
) -> BeatPredictions:
    """Classify every heartbeat of an ECG recording.

    Parameters
    ----------
    rec : Recording
        An ECG recording (any rate the model's band fits in; resampled by the
        model's preprocessing).
    loaded : LoadedModel
        An arrhythmia model (:func:`cardioliquid.models.checkpoint.load_model`).
    beats : {"auto", "reference", "detect"}
        R peaks from the expert annotations (``"reference"``), from the kept
        detector (``"detect"``), or the annotations when present (``"auto"``).
    batch_size : int
        Beats per forward pass.
    segment_s : float, optional
        Preprocess in segments of this length (what a stream computes);
        None: the whole recording at once (as in training). With segments, a
        model's AF gate judges each beat by the rhythm before it, as a stream
        must; without, by the rhythm around it.
    context_s, lookahead_s : float
        Signal read before and after each segment.

    Returns
    -------
    BeatPredictions

    Raises
    ------
    ContractError, RecordingError
        The model does not fit the recording; the message names the file.
    """
    check_fits(rec, loaded)
    loaded, leads_off = without_dead_leads(rec, loaded)
    source, ref = _resolve_beat_source(rec, beats)
    if segment_s is None:
        sample, proba, _, atrial = score_beat_segment(rec, loaded, None, ref, batch_size)
    else:
        parts_s, parts_p, parts_a, hx = [], [], [], None
        plan = segment_plan(rec.fs, segment_s, context_s, lookahead_s)
        for seg in iter_segments(rec.n_samples, plan):
            sub = slice_recording(rec, seg.read_start, seg.read_stop)
            s, p, hx, a = score_beat_segment(sub, loaded, seg, ref, batch_size, hx)
            parts_s.append(s)
            parts_p.append(p)
            parts_a.append(a)
        sample = np.concatenate(parts_s) if parts_s else np.zeros(0, np.int64)
        proba = np.concatenate(parts_p) if parts_p else np.zeros((0, len(loaded.classes)))
        atrial = None
        if loaded.decision.needs_atrial:
            atrial = np.concatenate(parts_a) if parts_a else np.zeros(0, np.float32)
    # A stream knows only the rhythm so far: segmented scoring judges it causally too.
    proba, af = settle_calls(rec.fs, sample, proba, loaded.classes, loaded.decision,
                             causal=segment_s is not None, atrial=atrial)
    return BeatPredictions(sample, proba, loaded.classes, rec.fs, source, rec.record_id, af,
                           leads_read(rec, loaded), leads_off)


def leads_read(rec: Recording, loaded: LoadedModel) -> str:
    """The leads of ``rec`` that ``loaded`` reads, ``"+"``-joined (``"MLII+V1"``)."""
    prep = loaded.preprocessing
    n_leads = max(prep.fuse_leads, prep.stack_leads)
    return "+".join([select_lead(rec, prep.lead_preference),
                     *fused_leads(rec.channel_names, prep.lead_preference, n_leads)[1:]])
