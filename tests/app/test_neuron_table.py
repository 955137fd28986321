"""The "strongest neurons" table of the neuron view: shares in %, a readable direction."""

from __future__ import annotations

import numpy as np
import pytest

from cardioliquid.app.neurons import strongest_neurons


def test_strongest_neurons_give_shares_in_percent_and_a_short_direction():
    roles = ["inter"] * 4 + ["command"] * 3 + ["motor"] * 2
    signed = np.array([0.1, -0.4, 0.05, 0.3, -0.2, 0.6, 0.01, 1.3, -0.2])
    share = np.abs(signed) / np.abs(signed).sum()
    rows = strongest_neurons(share, signed, roles, "S", per_role=2)
    assert list(rows) == ["neuron", "role", "effect", "share %"]
    assert rows["neuron"] == ["n1", "n3", "n5", "n4", "n7", "n8"]
    assert rows["role"] == ["inter"] * 2 + ["command"] * 2 + ["motor"] * 2
    assert rows["share %"][0] == pytest.approx(100 * 0.4 / 3.16)  # 12.7 %, not 0.127
    assert rows["effect"] == ["against S", "→ S", "→ S", "against S", "→ S", "against S"]
    assert max(len(e) for e in rows["effect"]) <= 10  # readable in a narrow column
