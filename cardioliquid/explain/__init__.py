"""Neuron states, attributions and their sanity checks, circuit concentration and stability.

Pure torch/numpy: the app draws what these functions compute.
"""

from cardioliquid.explain.attribution import (
    METHODS,
    NeuronAttribution,
    attribute_neurons,
    supports_neuron_gate,
)
from cardioliquid.explain.circuit import (
    Concentration,
    Stability,
    active_circuit,
    concentration,
    stability,
    stability_by_class,
    top_k_overlap,
)
from cardioliquid.explain.sanity import SanityResult, model_randomization_test, randomize_weights
from cardioliquid.explain.states import (
    NEURON_ROLES,
    NeuronTrajectory,
    neuron_adjacency,
    neuron_roles,
    neuron_trajectory,
    sensory_adjacency,
)

__all__ = [
    "METHODS",
    "NEURON_ROLES",
    "Concentration",
    "NeuronAttribution",
    "NeuronTrajectory",
    "SanityResult",
    "Stability",
    "active_circuit",
    "attribute_neurons",
    "concentration",
    "model_randomization_test",
    "neuron_adjacency",
    "neuron_roles",
    "neuron_trajectory",
    "randomize_weights",
    "sensory_adjacency",
    "stability",
    "stability_by_class",
    "supports_neuron_gate",
    "top_k_overlap",
]
