"""Wirings: which neuron of a liquid network talks to which (after ``ncps.wirings``).

A wiring is a directed graph over ``units`` neurons plus ``input_dim`` sensory
inputs. Each synapse has a polarity (+1 excitatory, -1 inhibitory); each
neuron a role (``"inter"``, ``"command"``, ``"motor"``). The graph is generated
by :mod:`ncps.wirings` (plain numpy, seeded) so our graphs are the reference
graphs; :class:`Wiring` freezes the result into arrays, adds the queries the app
needs (roles, layers, adjacency, polarity) and a JSON description.

Neuron ids follow ncps: motor neurons first (``0 .. output_dim-1``), then
command, then inter neurons. Cells process the neurons layer by layer
(inter → command → motor for an NCP).

Examples
--------
>>> w = auto_ncp(16, 4, sparsity=0.5).build(8)
>>> w.roles.count("motor")
4
>>> w.adjacency.shape, w.sensory_adjacency.shape
((16, 16), (8, 16))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cardioliquid._check import check_option

ROLES = ("sensory", "inter", "command", "motor")
_KINDS = ("fully_connected", "random", "ncp", "auto_ncp")


class Wiring:
    """A built or unbuilt neural-circuit wiring.

    Build with :func:`fully_connected`, :func:`random_sparse`, :func:`ncp` or
    :func:`auto_ncp`, then :meth:`build` with the number of input features
    (cells do that for you).

    Attributes
    ----------
    kind : str
        ``"fully_connected"``, ``"random"``, ``"ncp"`` or ``"auto_ncp"``.
    params : dict
        The generator's arguments (JSON); ``make_wiring(w.to_config())`` rebuilds it.
    units : int
        Number of neurons (the state size).
    output_dim : int
        Number of motor neurons (the output size).
    input_dim : int or None
        Number of sensory inputs, ``None`` until built.
    adjacency : ndarray of int, shape (units, units)
        ``adjacency[src, dest]`` is the polarity (-1, 0, +1) of the synapse src → dest.
    sensory_adjacency : ndarray of int, shape (input_dim, units)
        Polarity of the synapse from input feature ``src`` to neuron ``dest``.
    """

    def __init__(self, kind: str, params: dict[str, Any]) -> None:
        check_option("kind", kind, _KINDS)
        self.kind = kind
        self.params = dict(params)
        self._ncps = _make_ncps(kind, self.params)  # validates the parameters
        self.units = int(self._ncps.units)
        self.output_dim = int(self._ncps.output_dim)
        self.input_dim: int | None = None
        self.adjacency = np.asarray(self._ncps.adjacency_matrix, dtype=np.int64).copy()
        self.sensory_adjacency: np.ndarray | None = None

    # -- construction -------------------------------------------------------------------
    def build(self, input_dim: int) -> Wiring:
        """Add the sensory synapses for ``input_dim`` input features; returns ``self``.

        Building twice with the same ``input_dim`` is a no-op; with another one
        it raises ``ValueError``.
        """
        input_dim = int(input_dim)
        if self.input_dim is not None:
            if input_dim != self.input_dim:
                raise ValueError(
                    f"wiring already built for {self.input_dim} input features, got {input_dim}"
                )
            return self
        if input_dim < 1:
            raise ValueError(f"expected at least 1 input feature, got {input_dim}")
        self._ncps.build(input_dim)
        self.input_dim = input_dim
        self.adjacency = np.asarray(self._ncps.adjacency_matrix, dtype=np.int64).copy()
        self.sensory_adjacency = np.asarray(
            self._ncps.sensory_adjacency_matrix, dtype=np.int64
        ).copy()
        return self

    @property
    def is_built(self) -> bool:
        """Whether the sensory synapses exist (``build`` was called)."""
        return self.input_dim is not None

    def _require_built(self) -> None:
        if not self.is_built:
            raise ValueError("the wiring is not built yet: call wiring.build(input_dim)")

    # -- structure ----------------------------------------------------------------------
    @property
    def layers(self) -> list[list[int]]:
        """Neuron ids per processing layer, first to last (inter, command, motor for an NCP)."""
        n = self._ncps.num_layers
        return [list(map(int, self._ncps.get_neurons_of_layer(i))) for i in range(n)]

    @property
    def roles(self) -> list[str]:
        """Role of each neuron id: ``"inter"``, ``"command"`` or ``"motor"``."""
        return [self.role_of(i) for i in range(self.units)]

    def role_of(self, neuron: int) -> str:
        """Role of neuron ``neuron`` (``"inter"``, ``"command"`` or ``"motor"``)."""
        if not 0 <= neuron < self.units:
            raise ValueError(f"expected a neuron id in [0, {self.units}), got {neuron}")
        return str(self._ncps.get_type_of_neuron(neuron))

    def neurons_of(self, role: str) -> list[int]:
        """Ids of the neurons with role ``role``."""
        check_option("role", role, ROLES[1:])
        return [i for i, r in enumerate(self.roles) if r == role]

    @property
    def synapse_count(self) -> int:
        """Number of synapses between neurons."""
        return int(np.count_nonzero(self.adjacency))

    @property
    def sensory_synapse_count(self) -> int:
        """Number of synapses from the inputs to the neurons."""
        self._require_built()
        return int(np.count_nonzero(self.sensory_adjacency))

    def full_adjacency(self) -> np.ndarray:
        """Polarity matrix over ``input_dim + units`` nodes, sensory inputs first.

        Returns
        -------
        ndarray of int, shape (input_dim + units, input_dim + units)
            ``A[src, dest]``; rows/columns ``0 .. input_dim-1`` are the sensory
            inputs, then neuron ids ``0 .. units-1``.
        """
        self._require_built()
        i, n = self.input_dim, self.units
        a = np.zeros((i + n, i + n), dtype=np.int64)
        a[:i, i:] = self.sensory_adjacency
        a[i:, i:] = self.adjacency
        return a

    def to_graph(self) -> dict[str, Any]:
        """Nodes and edges for drawing (JSON-serialisable).

        Returns
        -------
        dict
            ``{"nodes": [{"id", "role", "index"}...], "edges": [{"source", "target",
            "polarity"}...]}`` with node ids ``"s<i>"`` for sensory inputs and
            ``"n<i>"`` for neurons; polarity is +1 (excitatory) or -1 (inhibitory).
        """
        self._require_built()
        nodes = [{"id": f"s{i}", "role": "sensory", "index": i} for i in range(self.input_dim)]
        nodes += [{"id": f"n{i}", "role": r, "index": i} for i, r in enumerate(self.roles)]
        edges = [
            {"source": f"s{s}", "target": f"n{d}", "polarity": int(self.sensory_adjacency[s, d])}
            for s, d in zip(*np.nonzero(self.sensory_adjacency), strict=True)
        ]
        edges += [
            {"source": f"n{s}", "target": f"n{d}", "polarity": int(self.adjacency[s, d])}
            for s, d in zip(*np.nonzero(self.adjacency), strict=True)
        ]
        return {"nodes": nodes, "edges": edges}

    # -- serialisation ------------------------------------------------------------------
    def to_config(self) -> dict[str, Any]:
        """JSON description: ``{"kind", **params, "input_dim"}``; see :func:`make_wiring`."""
        return {"kind": self.kind, **self.params, "input_dim": self.input_dim}

    def to_ncps(self):
        """A fresh, unbuilt, identical ``ncps.wirings`` object (for reference checks).

        Unbuilt because ncps cells build their wiring, and building an ncps
        wiring twice adds the synapses twice.
        """
        return _make_ncps(self.kind, self.params)

    def __repr__(self) -> str:
        counts = {r: self.roles.count(r) for r in ROLES[1:] if r in self.roles}
        return (
            f"Wiring({self.kind}, units={self.units}, outputs={self.output_dim}, "
            f"inputs={self.input_dim}, roles={counts}, synapses={self.synapse_count})"
        )


def _make_ncps(kind: str, p: dict[str, Any]):
    from ncps import wirings as nw

    if kind == "fully_connected":
        return nw.FullyConnected(p["units"], p.get("output_dim"), p.get("seed", 1111),
                                 p.get("self_connections", True))
    if kind == "random":
        return nw.Random(p["units"], p.get("output_dim"), p.get("sparsity", 0.5),
                         p.get("seed", 1111))
    if kind == "ncp":
        return nw.NCP(p["inter_neurons"], p["command_neurons"], p["motor_neurons"],
                      p["sensory_fanout"], p["inter_fanout"], p["recurrent_command_synapses"],
                      p["motor_fanin"], seed=p.get("seed", 22222))
    return nw.AutoNCP(p["units"], p["output_size"], p.get("sparsity", 0.5), p.get("seed", 22222))


def fully_connected(
    units: int, output_dim: int | None = None, seed: int = 1111, self_connections: bool = True
) -> Wiring:
    """Every neuron talks to every neuron (random polarities, 2/3 excitatory).

    Parameters
    ----------
    units : int
        Number of neurons.
    output_dim : int, optional
        Number of motor neurons (ids ``0 .. output_dim-1``); all by default.
    seed : int
        Seed of the polarities.
    self_connections : bool
        Whether neurons have autapses.
    """
    params = {"units": int(units), "output_dim": output_dim, "seed": int(seed),
              "self_connections": bool(self_connections)}
    return Wiring("fully_connected", params)


def random_sparse(
    units: int, output_dim: int | None = None, sparsity: float = 0.5, seed: int = 1111
) -> Wiring:
    """A random graph with a fraction ``sparsity`` of the synapses removed.

    Parameters
    ----------
    units : int
        Number of neurons.
    output_dim : int, optional
        Number of motor neurons; all by default.
    sparsity : float
        Fraction of absent synapses, in ``[0, 1)``.
    seed : int
        Seed of the graph.
    """
    return Wiring("random", {"units": int(units), "output_dim": output_dim,
                             "sparsity": float(sparsity), "seed": int(seed)})


def ncp(
    inter_neurons: int,
    command_neurons: int,
    motor_neurons: int,
    sensory_fanout: int,
    inter_fanout: int,
    recurrent_command_synapses: int,
    motor_fanin: int,
    seed: int = 22222,
) -> Wiring:
    """A Neural Circuit Policy: sensory → inter → command (recurrent) → motor.

    Parameters
    ----------
    inter_neurons, command_neurons, motor_neurons : int
        Layer sizes.
    sensory_fanout : int
        Synapses from each sensory input to inter neurons.
    inter_fanout : int
        Synapses from each inter neuron to command neurons.
    recurrent_command_synapses : int
        Number of command → command synapses.
    motor_fanin : int
        Synapses into each motor neuron from command neurons.
    seed : int
        Seed of the graph.

    References
    ----------
    Lechner et al., "Neural circuit policies enabling auditable autonomy",
    Nature Machine Intelligence 2, 642–652 (2020).
    """
    return Wiring("ncp", {
        "inter_neurons": int(inter_neurons), "command_neurons": int(command_neurons),
        "motor_neurons": int(motor_neurons), "sensory_fanout": int(sensory_fanout),
        "inter_fanout": int(inter_fanout),
        "recurrent_command_synapses": int(recurrent_command_synapses),
        "motor_fanin": int(motor_fanin), "seed": int(seed),
    })


def auto_ncp(units: int, outputs: int, sparsity: float = 0.5, seed: int = 22222) -> Wiring:
    """An NCP sized from ``units`` total neurons and ``outputs`` motor neurons.

    40 % of the non-motor neurons are command neurons, the rest inter neurons;
    fan-outs scale with ``1 - sparsity`` (as ``ncps.wirings.AutoNCP``).

    Parameters
    ----------
    units : int
        Total number of neurons (``outputs < units - 2``).
    outputs : int
        Number of motor neurons.
    sparsity : float
        In ``[0.1, 1.0]``; higher is sparser.
    seed : int
        Seed of the graph.
    """
    return Wiring("auto_ncp", {"units": int(units), "output_size": int(outputs),
                               "sparsity": float(sparsity), "seed": int(seed)})


def make_wiring(config: dict[str, Any]) -> Wiring:
    """Rebuild a wiring from :meth:`Wiring.to_config` (or a hand-written dict).

    Parameters
    ----------
    config : dict
        ``{"kind": ..., <generator arguments>, "input_dim": int or None}``.
    """
    config = dict(config)
    kind = config.pop("kind", None)
    check_option("kind", kind, _KINDS)
    input_dim = config.pop("input_dim", None)
    w = Wiring(kind, config)
    return w.build(input_dim) if input_dim is not None else w


AutoNCP = auto_ncp  # the ncps spelling
