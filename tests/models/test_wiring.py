"""Wirings: same graphs as ncps, roles, layers, adjacency, JSON round trip."""

from __future__ import annotations

import numpy as np
import pytest

from cardioliquid.models.wiring import (
    auto_ncp,
    fully_connected,
    make_wiring,
    ncp,
    random_sparse,
)


@pytest.mark.parametrize(
    "make",
    [
        lambda: auto_ncp(16, 4, sparsity=0.5),
        lambda: ncp(6, 4, 2, sensory_fanout=3, inter_fanout=2, recurrent_command_synapses=3,
                    motor_fanin=2),
        lambda: random_sparse(10, 3, sparsity=0.6),
        lambda: fully_connected(6),
    ],
)
def test_graph_is_the_ncps_graph(make):
    w = make().build(5)
    ref = make().to_ncps()
    ref.build(5)
    np.testing.assert_array_equal(w.adjacency, ref.adjacency_matrix)
    np.testing.assert_array_equal(w.sensory_adjacency, ref.sensory_adjacency_matrix)
    assert w.roles == [ref.get_type_of_neuron(i) for i in range(w.units)]


def test_ncp_roles_layers_and_synapses():
    w = auto_ncp(20, 5, sparsity=0.5).build(8)
    assert w.neurons_of("motor") == [0, 1, 2, 3, 4]
    counts = {r: len(w.neurons_of(r)) for r in ("inter", "command", "motor")}
    assert counts == {"inter": 9, "command": 6, "motor": 5}
    inter, command, motor = w.layers
    assert (set(inter), set(command), set(motor)) == tuple(
        set(w.neurons_of(r)) for r in ("inter", "command", "motor"))
    # Sensory synapses reach inter neurons only; motor neurons are fed by command neurons only.
    assert np.count_nonzero(w.sensory_adjacency[:, command + motor]) == 0
    assert np.count_nonzero(w.adjacency[np.ix_(inter + motor, motor)]) == 0
    assert np.count_nonzero(w.adjacency[np.ix_(command, motor)]) > 0
    assert set(np.unique(w.adjacency)) <= {-1, 0, 1}
    assert w.synapse_count == np.count_nonzero(w.adjacency)


def test_full_adjacency_and_graph_include_sensory_synapses():
    w = auto_ncp(12, 3).build(4)
    a = w.full_adjacency()
    assert a.shape == (16, 16)
    np.testing.assert_array_equal(a[:4, 4:], w.sensory_adjacency)
    g = w.to_graph()
    assert len(g["nodes"]) == 16
    assert len(g["edges"]) == w.synapse_count + w.sensory_synapse_count
    roles = {n["role"] for n in g["nodes"]}
    assert roles == {"sensory", "inter", "command", "motor"}


def test_config_round_trip():
    w = auto_ncp(16, 4, sparsity=0.3, seed=7).build(6)
    back = make_wiring(w.to_config())
    np.testing.assert_array_equal(back.adjacency, w.adjacency)
    np.testing.assert_array_equal(back.sensory_adjacency, w.sensory_adjacency)


def test_bad_input_is_reported():
    w = auto_ncp(16, 4).build(6)
    assert w.build(6) is w
    with pytest.raises(ValueError, match="already built for 6 input features, got 7"):
        w.build(7)
    with pytest.raises(ValueError, match="not built yet"):
        auto_ncp(16, 4).full_adjacency()
    with pytest.raises(ValueError, match="'kind' parameter"):
        make_wiring({"kind": "mesh"})
    with pytest.raises(ValueError, match="Output size must be less"):
        auto_ncp(6, 5)
