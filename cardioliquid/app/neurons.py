"""The neuron view of the latest decision: its window, trajectory and attribution (no Streamlit)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from cardioliquid.decision.events import smooth_probabilities
from cardioliquid.errors import RecordingError
from cardioliquid.explain import (
    NeuronAttribution,
    NeuronTrajectory,
    attribute_neurons,
    neuron_trajectory,
)
from cardioliquid.explain.states import is_beat_sequence
from cardioliquid.scoring.segments import slice_recording
from cardioliquid.scoring.stream import decision_run, segment_index
from cardioliquid.signal.windows import eeg_windows

if TYPE_CHECKING:
    from cardioliquid.io.recording import Recording
    from cardioliquid.models.checkpoint import LoadedModel

DECISION_CONTEXT_BEATS = 32
"""Beats a beat-sequence model's decision is explained over: the run ending at the beat.

The shipped rhythm model's cell forgets within this many beats: from a run of 32 beats
whose cell starts at rest its probabilities equal those of the state carried from the
stream's start (within 1e-3 on MIT-BIH 208; tested). A model that reads each beat against
the patient's earlier beats (``embedding_reference``) starts the run from the reference the
stream had carried to it (:func:`beat_decision`)."""
ALL_BEATS = 1 << 30
"""``decision_run``'s beat count for "every beat since the stream started"."""
EEG_CONTEXT_S = (10.0, 5.0)


@dataclass
class DecisionView:
    """One decision, explained.

    Attributes
    ----------
    time_s : float
        When the decided beat (R peak) or window (end) is.
    label : str
        The predicted class.
    trajectory : NeuronTrajectory
    attribution : NeuronAttribution
        For the predicted class of this one window.
    reported : str, optional
        The call reported for this decision when it is not the network's own
        ``label`` (a beat in AF rhythm: the AF gate reports S as N; a window
        the seizure alert rule calls otherwise, :func:`reported_call`).
    rule : str, optional
        Why, for a window: the alert rule's reading of it.
    """

    time_s: float
    label: str
    trajectory: NeuronTrajectory
    attribution: NeuronAttribution
    reported: str | None = None
    rule: str | None = None


def _slice(rec: Recording, t0: float, t1: float) -> tuple[Recording, int]:
    start = max(0, int(np.floor(t0 * rec.fs)))
    stop = min(rec.n_samples, int(np.ceil(t1 * rec.fs)))
    return slice_recording(rec, start, stop), start


def beat_decision(
    rec: Recording,
    loaded: LoadedModel,
    beat_sample: int,
    stream_start: int = 0,
    reference: np.ndarray | None = None,
    segment_states: Sequence[Any] | None = None,
    stream_history: int = 0,
) -> tuple[np.ndarray, np.ndarray, LoadedModel]:
    """:func:`beat_input`, and the model that decided it as the stream had it then.

    For a model that reads each beat against the patient's earlier beats
    (``embedding_reference``), the returned model is ``loaded`` starting its runs
    from the reference the stream had carried to the run's first beat; otherwise
    ``loaded`` itself. Explain the run with it.

    ``segment_states``: the stream's state before each of its segments
    (:attr:`~cardioliquid.scoring.stream.BeatStream.segment_states`). The reference
    is then read from the state before the run's first segment and carried over
    that segment's earlier beats; without them it is rebuilt from every beat since
    ``stream_start`` (the same values, each earlier segment preprocessed again).
    ``stream_history``: samples before ``stream_start`` the stream was given as
    context (:meth:`~cardioliquid.scoring.stream.BeatStream.recall_signal`).
    """
    model = loaded.model
    if not (is_beat_sequence(model) and getattr(model, "embedding_reference", 0)):
        x, f = beat_input(rec, loaded, beat_sample, stream_start, reference, stream_history)
        return x, f, loaded
    import torch

    def beats_up_to(n_beats: int) -> tuple[np.ndarray, ...]:
        return decision_run(rec, loaded, beat_sample, n_beats, reference, stream_start,
                            history=stream_history, whole_segments=True)

    # The run and the beats before it in its first segment, whose reference the stream kept;
    # without the kept states, every beat since the stream started.
    start = None
    sample, x, f, usable = beats_up_to(ALL_BEATS if segment_states is None
                                       else DECISION_CONTEXT_BEATS)
    if segment_states is not None:
        k = segment_index(int(sample[0]) - stream_start, rec.fs)
        if k < len(segment_states):
            hx = segment_states[k]
            start = model.reference_in(hx[0] if isinstance(hx, tuple) else hx)  # first lead's
        else:  # not this stream's states
            sample, x, f, usable = beats_up_to(ALL_BEATS)
    _check_usable(rec, usable, beat_sample)
    cut = max(0, len(x) - DECISION_CONTEXT_BEATS)
    lead_in, x, f = x[:cut], x[cut:], f[cut:]
    if not len(lead_in) and start is None:
        return x, f, loaded
    mean, count = model.reference_after(torch.as_tensor(lead_in, dtype=torch.float32), start)
    return x, f, replace(loaded, model=model.starting_from(mean, count))


def _check_usable(rec: Recording, usable: np.ndarray, beat_sample: int) -> None:
    if not usable[-1]:
        raise RecordingError(
            rec.source or rec.record_id,
            f"the beat at {beat_sample / rec.fs:.2f} s touches a signal gap (NaN samples or "
            "lead off): it is unclassifiable (Q), so no neuron explains it")


def beat_input(
    rec: Recording,
    loaded: LoadedModel,
    beat_sample: int,
    stream_start: int = 0,
    reference: np.ndarray | None = None,
    stream_history: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The preprocessed window and features of the beat at ``beat_sample``, as the stream
    that decided it read them (:func:`~cardioliquid.scoring.stream.decision_run`;
    ``stream_start``, ``reference`` and ``stream_history`` say which stream).

    For a beat-sequence model (one liquid step per beat) the input of its decision is the
    run of up to :data:`DECISION_CONTEXT_BEATS` beats ending at this one: windows
    ``(n_beats, C, T)`` and features ``(n_beats, F)``; for a model of one beat, that
    beat's window ``(C, T)`` and features ``(F,)``.

    Raises
    ------
    RecordingError
        The stream decided no beat at ``beat_sample``, or the beat touches a signal gap.
    """
    sequence = is_beat_sequence(loaded.model)
    _, x, f, usable = decision_run(rec, loaded, beat_sample,
                                   DECISION_CONTEXT_BEATS if sequence else 1, reference,
                                   stream_start, history=stream_history)  # fmt: skip
    _check_usable(rec, usable, beat_sample)
    return (x, f) if sequence else (x[-1], f[-1])


def stack_inputs(inputs: list[tuple[np.ndarray, np.ndarray | None]]
                 ) -> tuple[np.ndarray, np.ndarray | None]:
    """Stack decisions' inputs into one batch; runs of beats are cut to the shortest run.

    Runs near a record's start hold fewer beats than :data:`DECISION_CONTEXT_BEATS`;
    each keeps its last beats (the decided one is always the last).
    """
    xs = [x for x, _ in inputs]
    n = min(len(x) for x in xs) if xs[0].ndim == 3 else None
    x = np.stack([v[-n:] if n else v for v in xs])
    if inputs[0][1] is None:
        return x, None
    return x, np.stack([f[-n:] if n else f for _, f in inputs])


def window_input(rec: Recording, loaded: LoadedModel, start_s: float) -> np.ndarray:
    """The preprocessed EEG window that starts at ``start_s``."""
    prep = loaded.preprocessing
    sub, start = _slice(rec, start_s - EEG_CONTEXT_S[0], start_s + prep.window_s + EEG_CONTEXT_S[1])
    win = eeg_windows(sub, prep, require_signal=False)
    i = int(np.argmin(np.abs(win.start_s + start / rec.fs - start_s)))
    if not win.usable[i]:
        raise RecordingError(
            rec.source or rec.record_id,
            f"the window at {start_s:.1f} s overlaps a signal gap (NaN or flat channels): no "
            "detection is made there, so no neuron explains it")
    return win.x[i]


def explain_decision(
    loaded: LoadedModel,
    x: np.ndarray,
    features: np.ndarray | None,
    time_s: float,
    method: str = "integrated_gradients",
    steps: int = 8,
) -> DecisionView:
    """Trajectory and attribution of one window's decision."""
    feats = None if features is None or np.size(features) == 0 else features
    traj = neuron_trajectory(loaded.model, x, feats, sfreq=loaded.preprocessing.fs)
    att = attribute_neurons(loaded.model, x[None], None if feats is None else feats[None],
                            method=method, steps=steps)  # fmt: skip
    label = loaded.classes[int(att.target[0])]
    return DecisionView(time_s, label, traj, att)


def input_attribution(
    loaded: LoadedModel,
    x: np.ndarray,
    features: np.ndarray | None,
    target: int | None = None,
    steps: int = 16,
) -> np.ndarray:
    """Integrated gradients of the target logit over the input window (Sundararajan et al. 2017).

    The path runs from a flat window (zeros: the normalised baseline) to ``x``
    with the features held; the result is ``|attribution|`` per sample summed
    over channels, scaled to a maximum of 1.

    Parameters
    ----------
    loaded : LoadedModel
    x : ndarray, shape (n_chans, n_times)
        The preprocessed window; for a beat-sequence model the run of beats
        ``(n_beats, n_chans, n_times)`` ending at the decided beat (only its
        window is attributed).
    features : ndarray, shape (n_features,), optional
        ``(n_beats, n_features)`` for a run.
    target : int, optional
        Class to explain (default: the predicted one).
    steps : int
        Points on the integration path.

    Returns
    -------
    ndarray, shape (n_times,)
        Or, for a multichannel window, shape (n_chans, n_times): per channel.
    """
    import torch

    model = loaded.model
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32))[None]
    ft = None
    if features is not None and np.size(features):
        ft = torch.as_tensor(np.asarray(features, dtype=np.float32))[None]
    alphas = (torch.arange(steps, dtype=torch.float32) + 0.5) / steps
    if is_beat_sequence(model):
        # A run of beats: only the decided (last) beat's window moves along the path,
        # the beats before it stay as they were, so the state carried into it is real.
        last = xt[:, -1:]
        moving = (alphas[:, None, None, None] * last).requires_grad_(True)
        path = torch.cat([xt[:, :-1].expand(steps, -1, -1, -1), moving], dim=1)
        feats = None if ft is None else ft.expand(steps, -1, -1)
        logits = model.forward_stateful(path, feats)[0][:, -1]
        if target is None:
            with torch.no_grad():
                target = int(model.forward_stateful(xt, ft)[0][0, -1].argmax())
        (grad,) = torch.autograd.grad(logits[:, target].sum(), moving)
        att = (last[0, 0] * grad[:, 0].mean(dim=0)).abs().detach().numpy()
    else:
        path = (alphas[:, None, None] * xt).requires_grad_(True)
        feats = None if ft is None else ft.expand(steps, -1)
        logits, _, _ = model.forward_stateful(path, feats)
        if target is None:
            with torch.no_grad():
                full, _, _ = model.forward_stateful(xt, ft)
            target = int(full.argmax(dim=1)[0])
        (grad,) = torch.autograd.grad(logits[:, target].sum(), path)
        att = (xt[0] * grad.mean(dim=0)).abs().detach().numpy()
    out = att.sum(axis=0) if att.shape[0] == 1 else att
    peak = float(out.max()) if out.size else 0.0
    return out / peak if peak > 0 else out


NEURON_ROLES = ("inter", "command", "motor", "hidden")


def reported_call(pred: Any, i: int, loaded: LoadedModel) -> tuple[str, str | None]:
    """The call the page reports for decision ``i``, and why it differs from the network's.

    A beat's probabilities already carry the decision rule (the AF gate settles S as
    N in them), so its call is their arg-max. A window is called a seizure by the
    alert rule of the model's file (``loaded.decision``: the causally smoothed
    probability against the threshold), which a single window's arg-max may not
    meet, or may meet without being the most probable class on its own.

    Returns
    -------
    call : str
        The class the page shows for this decision.
    rule : str or None
        For a window, the rule's reading (smoothed probability and threshold).
    """
    classes = list(loaded.classes)
    if hasattr(pred, "sample"):  # beats
        return classes[int(np.argmax(pred.proba[i]))], None
    settings = loaded.decision
    smoothed = smooth_probabilities(pred.seizure_proba[: i + 1], settings.smooth_windows)[-1]
    positive = "sz" if "sz" in classes else classes[-1]
    negative = next(c for c in classes if c != positive)
    call = positive if smoothed >= settings.threshold else negative
    return call, (f"seizure probability {smoothed:.2f} averaged over the last "
                  f"{settings.smooth_windows} windows, against the alert threshold "
                  f"{settings.threshold:.2f}")  # fmt: skip


def strongest_neurons(
    share: np.ndarray,
    signed: np.ndarray,
    roles: list[str],
    label: str,
    per_role: int = 3,
) -> dict[str, list]:
    """The strongest neurons of each role (inter, command, motor), every row named.

    Parameters
    ----------
    share : ndarray, shape (n_neurons,)
        Each neuron's share of the absolute attribution (summing to 1).
    signed : ndarray, shape (n_neurons,)
        The signed attribution: positive pushes towards the explained class.
    roles : list of str
        Role of each neuron.
    label : str
        The explained (predicted) class.
    per_role : int
        Neurons listed per role.

    Returns
    -------
    dict of str to list
        Columns ``neuron``, ``role``, ``effect`` (``"→ <label>"`` for a neuron
        that pushes towards the class, ``"against <label>"`` for one that pushes
        away from it; short, so it reads in a narrow column) and ``share %``
        (percent, as the caption and the wiring graph give it).
    """
    rows: dict[str, list] = {"neuron": [], "role": [], "effect": [], "share %": []}
    for role in NEURON_ROLES:
        ids = [i for i, r in enumerate(roles) if r == role]
        for i in sorted(ids, key=lambda i: -share[i])[:per_role]:
            rows["neuron"].append(f"n{i}")
            rows["role"].append(role)
            rows["share %"].append(100.0 * float(share[i]))
            rows["effect"].append(f"→ {label}" if signed[i] > 0 else f"against {label}")
    return rows
