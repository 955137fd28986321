"""Every liquid neuron's state over one input window, with the neurons' roles.

The models expose ``forward_stateful(x, features, hx) -> (logits, hx, states)``
where ``states`` is (batch, steps, n_neurons); this module turns one window's
trajectory into plain numpy arrays the app can draw, and reads the wiring's
neuron roles (sensory inputs are not neurons of the liquid layer: the roles
here are ``inter``, ``command`` and ``motor``, or ``hidden`` for a wiring that
does not say).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from cardioliquid.errors import ContractError

NEURON_ROLES: tuple[str, ...] = ("inter", "command", "motor", "hidden")
"""Roles a liquid-layer neuron can have, in drawing order."""


@dataclass
class NeuronTrajectory:
    """The liquid state of every neuron over one window.

    Attributes
    ----------
    states : ndarray of float32, shape (n_steps, n_neurons)
        Each neuron's state at each liquid time step.
    proba : ndarray of float32, shape (n_outputs,)
        The model's class probabilities for the window.
    roles : list of str
        Role of each neuron (:data:`NEURON_ROLES`).
    step_s : float
        Seconds of signal per liquid time step (the front end may shorten the sequence).
    """

    states: np.ndarray
    proba: np.ndarray
    roles: list[str]
    step_s: float

    @property
    def n_neurons(self) -> int:
        """Number of liquid neurons."""
        return int(self.states.shape[1])

    @property
    def time_s(self) -> np.ndarray:
        """Time of each step in seconds from the window start (end of each step)."""
        return (np.arange(self.states.shape[0]) + 1) * self.step_s


def _wiring(model: nn.Module):
    wiring = getattr(model, "wiring", None)
    if wiring is None:
        for module in model.modules():
            wiring = getattr(module, "wiring", None)
            if wiring is not None:
                break
    return wiring


def _first_attr(obj, *names: str):
    for name in names:
        value = getattr(obj, name, None) if obj is not None else None
        if value is not None:
            return value
    return None


def neuron_roles(model: nn.Module, n_neurons: int | None = None) -> list[str]:
    """Role of each liquid neuron, read from the model's wiring.

    Parameters
    ----------
    model : nn.Module
        A liquid classifier with a ``wiring`` (ncps-style ``get_type_of_neuron``).
    n_neurons : int, optional
        Number of neurons, used when the wiring does not say (roles ``"hidden"``).

    Returns
    -------
    roles : list of str
        One of :data:`NEURON_ROLES` per neuron.
    """
    wiring = _wiring(model)
    units = getattr(wiring, "units", n_neurons) if wiring is not None else n_neurons
    if units is None:
        raise ContractError("cannot tell the number of neurons: the model has no wiring")
    get_type = None
    if wiring is not None:
        get_type = getattr(wiring, "role_of", None) or getattr(wiring, "get_type_of_neuron", None)
    roles = []
    for i in range(int(units)):
        role = get_type(i) if get_type is not None else "hidden"
        roles.append(role if role in NEURON_ROLES else "hidden")
    return roles


def neuron_adjacency(model: nn.Module, n_neurons: int) -> np.ndarray:
    """Synapses between liquid neurons as a 0/1 matrix (source, target).

    A model without a wiring is treated as fully connected.
    """
    wiring = _wiring(model)
    adj = _first_attr(wiring, "adjacency", "adjacency_matrix")
    if adj is None:
        return np.ones((n_neurons, n_neurons), dtype=np.int8)
    adj = np.asarray(adj)
    return (adj != 0).astype(np.int8)


def sensory_adjacency(model: nn.Module) -> np.ndarray | None:
    """Synapses from the sensory inputs to the neurons (inputs, neurons), if the wiring has them."""
    wiring = _wiring(model)
    adj = _first_attr(wiring, "sensory_adjacency", "sensory_adjacency_matrix")
    return None if adj is None else (np.asarray(adj) != 0).astype(np.int8)


def is_beat_sequence(model: nn.Module) -> bool:
    """Whether ``model`` decides each beat from a state carried over the beats before it.

    Such a model (:class:`~cardioliquid.models.rhythm.BeatRhythmClassifier`) takes
    runs of consecutive beats, ``(runs, beats, n_chans, n_times)``; its decision on a
    beat is the last step of the run that ends at it.
    """
    return bool(getattr(model, "beat_sequence", False))


def _as_batch(x: torch.Tensor | np.ndarray, features: torch.Tensor | np.ndarray | None,
              sequence: bool = False):
    """Tensors with a leading batch axis: windows ``(n, C, T)``, or runs ``(n, L, C, T)``.

    With ``sequence`` (a beat-sequence model) one run ``(L, C, T)`` becomes a batch of
    one run; otherwise a single window ``(C, T)`` becomes a batch of one window.
    """
    x = torch.as_tensor(np.asarray(x, dtype=np.float32) if isinstance(x, np.ndarray) else x)
    one = 3 if sequence else 2
    if x.ndim == one:
        x = x.unsqueeze(0)
    if features is not None:
        features = torch.as_tensor(
            np.asarray(features, dtype=np.float32) if isinstance(features, np.ndarray) else features
        )
        if features.ndim == one - 1:
            features = features.unsqueeze(0)
        if features.shape[-1] == 0:
            features = None
    return x.float(), None if features is None else features.float()


def neuron_trajectory(
    model: nn.Module,
    x: torch.Tensor | np.ndarray,
    features: torch.Tensor | np.ndarray | None = None,
    sfreq: float | None = None,
) -> NeuronTrajectory:
    """Run one window through the model and return every neuron's state trajectory.

    Parameters
    ----------
    model : nn.Module
        A classifier with ``forward_stateful``.
    x : array, shape (n_chans, n_times) or (1, n_chans, n_times)
        One preprocessed window; for a beat-sequence model (:func:`is_beat_sequence`)
        one run of beats ``(n_beats, n_chans, n_times)`` ending at the decided beat,
        and the trajectory is then one step per beat.
    features : array, shape (n_features,), optional
        Its extra features (RR intervals); ``(n_beats, n_features)`` for a run.
    sfreq : float, optional
        Sampling rate of ``x``; defaults to the model's contract.

    Returns
    -------
    NeuronTrajectory
    """
    sequence = is_beat_sequence(model)
    x, features = _as_batch(x, features, sequence)
    with torch.no_grad():
        logits, _, states = model.forward_stateful(x, features)
    states = states[0].detach().float().cpu().numpy()
    if sequence:  # one step per beat, each lasting the beat's RR interval
        spans = model.timespans(features[0])
        # a model without elapsed times still steps once per beat: about 1 s (60 bpm)
        step_s = 1.0 if spans is None else float(spans.mean())
        logits = logits[:, -1]
    else:
        if sfreq is None:
            contract = getattr(model, "contract", None)
            sfreq = float(contract.sfreq) if contract is not None else 1.0
        step_s = x.shape[-1] / sfreq / max(states.shape[0], 1)
    proba = torch.softmax(logits[0].float(), dim=-1).cpu().numpy()
    return NeuronTrajectory(states, proba, neuron_roles(model, states.shape[1]), step_s)
