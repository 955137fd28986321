import numpy as np

from cardioliquid.explain import neuron_adjacency, neuron_roles, neuron_trajectory


def test_trajectory_has_every_neuron_at_every_step(tiny_model, tiny_inputs):
    traj = neuron_trajectory(tiny_model, tiny_inputs[0], sfreq=12.0)
    assert traj.states.shape == (24, tiny_model.wiring.units)
    assert np.isclose(traj.proba.sum(), 1.0, atol=1e-5)
    assert np.isclose(traj.step_s, 1 / 12.0)
    assert np.isclose(traj.time_s[-1], 2.0)


def test_roles_and_adjacency_come_from_the_wiring(tiny_model):
    roles = neuron_roles(tiny_model)
    assert roles == ["inter"] * 3 + ["command"] * 3 + ["motor"] * 2
    adj = neuron_adjacency(tiny_model, 8)
    assert adj.shape == (8, 8)
    assert adj[0, 3] == 1 and adj[6, 0] == 0


def test_roles_of_a_real_ncp_wiring(cfc_model):
    roles = neuron_roles(cfc_model)
    assert len(roles) == 10 and roles.count("motor") == 3
    assert {"inter", "command"} <= set(roles)
    assert neuron_adjacency(cfc_model, 10).shape == (10, 10)
