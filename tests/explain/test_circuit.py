import numpy as np
import pytest

from cardioliquid.explain import active_circuit, concentration, stability, stability_by_class


def test_concentration_one_neuron_vs_uniform():
    one = concentration(np.array([0, 0, 1.0, 0]), k=1)
    assert one.top_k_share == 1.0 and one.entropy == 0.0 and one.effective_neurons == 1.0
    flat = concentration(np.full(8, 1 / 8), k=2)
    assert flat.top_k_share == pytest.approx(0.25)
    assert flat.entropy == pytest.approx(1.0)
    assert flat.effective_neurons == pytest.approx(8.0)


def test_stability_identical_vs_disjoint_circuits():
    same = stability(np.tile([0.5, 0.3, 0.1, 0.1, 0, 0], (4, 1)), k=2)
    assert same.top_k_jaccard == 1.0 and same.cosine == pytest.approx(1.0)
    disjoint = stability(np.array([[1.0, 0, 0, 0], [0, 0, 1.0, 0]]), k=1)
    assert disjoint.top_k_jaccard == 0.0 and disjoint.cosine == pytest.approx(0.0)
    assert np.isnan(stability(np.ones((1, 3))).cosine)


def test_stability_by_class_groups_rows(rng):
    share = rng.random((6, 5))
    share[:3] = [0.9, 0.05, 0.05, 0, 0]
    by = stability_by_class(share, np.array(list("NNNVVV")), k=1)
    assert set(by) == {"N", "V"}
    assert by["N"].top_k_jaccard == 1.0 and by["N"].n_decisions == 3


def test_active_circuit_keeps_synapses_among_top_neurons():
    adj = np.zeros((4, 4), dtype=int)
    adj[0, 1] = adj[1, 3] = adj[2, 0] = 1
    neurons, edges = active_circuit(np.array([0.4, 0.3, 0.05, 0.25]), adj, k=3)
    assert neurons == [0, 1, 3]
    assert edges == [(0, 1), (1, 3)]
