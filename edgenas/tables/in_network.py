"""Op latencies read inside a network: each layer's candidates swapped, one at a time, into one base network.

An op timed as a model of its own is not the op a network runs. On onnxruntime's CPU backend an op
alone converts its input into the blocked NCHWc layout and its output back, which a chain of ops in a
network does once; a grouped layer instead leaves that layout around its channel shuffle, and its
neighbours pay the conversions, which no op timed alone contains. The power-law calibration can only
bend the sum of the ops as a whole, so such networks stayed mispredicted: exported networks with a
grouped layer ran 10-19 % slower than their prediction (BENCHMARKS.md).

So the profile also measures the *base* network (each layer's fastest op timed alone) and, for every
layer ``l`` and candidate ``c`` the base does not hold there, the *probe*: the base with layer ``l``
set to ``c``. Cell ``(l, c)`` of the cost model is then what ``c`` adds to a real network at layer
``l``: the base op's own latency plus the probe's excess over the base. The base is measured again
before each layer's probes and its median is used, because its error would enter every cell at once.
The whole-network calibration is then fitted on sums of these cells.

A cell is read from a network timing, so it carries that timing's noise, and a network's prediction the
noise of all its layers' cells: the probes only help where timing a whole network is precise against
the few µs of layout they measure. :func:`probe_noise_pct` estimates that noise from a few readings of
the base; an ``auto`` profile reads the ops alone where it exceeds the ops-alone reading's own error.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Sequence, Tuple

import numpy as np

from ..errors import TableError
from ..arch.space import SearchSpace

Cell = Tuple[int, int]  # (layer, candidate index)


def probe_arch(base: Sequence[int], layer: int, candidate: int) -> tuple:
    """``base`` with ``layer`` set to ``candidate``."""
    arch = list(base)
    arch[layer] = candidate
    return tuple(arch)


# An ``auto`` profile times the base this many times before any probe (see probe_noise_pct), and drops the
# probes only where their noise exceeds the ops-alone reading's error by more than PROBE_NOISE_MARGIN: a standard
# deviation from five readings is itself uncertain by about a third (1 / √(2 · 4)), and the probes are the
# default that fixed fbnet-small's grouped layers (BENCHMARKS.md), so a near tie keeps them.
BASE_READINGS = 5
PROBE_NOISE_MARGIN = 1.5


def typical_network_ms(op_sum_ms: float, base_readings_ms: Sequence[float]) -> float:
    """What :func:`probe_noise_pct` takes the noise as a share of: a typical network's op sum, or, where its ops
    timed alone sum to nothing (each below the timer's overhead: a tiny space on a loaded machine), the base
    network's median reading."""
    return op_sum_ms if op_sum_ms > 0 else float(np.median(base_readings_ms))


def probe_noise_pct(base_readings_ms: Sequence[float], layers: int, typical_ms: float) -> float:
    """The error (%, one standard deviation) the probes' own noise adds to the prediction of a network of
    ``typical_ms``: each cell carries one probe timing's error (the base's is a median of many readings), as
    large as one reading of the base scatters, and a network sums ``layers`` of them.
    """
    readings = np.asarray(base_readings_ms, dtype=np.float64)
    if readings.size < 2 or typical_ms <= 0:
        raise ValueError("probe noise needs two or more base readings and a positive typical latency")
    return float(100.0 * math.sqrt(layers) * readings.std(ddof=1) / typical_ms)


@dataclass
class InNetwork:
    """The base network and the probes measured for a table (every latency in the table's terms)."""

    base: str  # architecture string of the base network
    base_ms: List[float] = field(default_factory=list)  # the base, measured before each layer's probes
    probes: Dict[Cell, float] = field(default_factory=dict)  # measured latency of each probe network

    def cells(self, space: SearchSpace) -> List[Cell]:
        """Every (layer, candidate) that needs a probe: all but the base's own op at each layer."""
        base = space.parse(self.base)
        return [(l, c) for l in range(space.num_layers) for c in range(space.num_candidates) if c != base[l]]

    def missing(self, space: SearchSpace) -> List[Cell]:
        return [cell for cell in self.cells(space) if cell not in self.probes]

    def latency_matrix(self, space: SearchSpace, alone: np.ndarray) -> np.ndarray:
        """The ``(layers, candidates)`` latencies in the network, from ``alone`` (the ops timed alone)."""
        if self.missing(space) or (self.probes and not self.base_ms):
            raise TableError(f"the table's in-network probes are not finished ({len(self.probes)} of "
                             f"{len(self.cells(space))} measured); resume the profile to finish them")
        base = space.parse(self.base)
        base_ms = float(np.median(self.base_ms)) if self.base_ms else 0.0  # no probes (one candidate per layer)
        own = alone[np.arange(space.num_layers), base]  # each layer's base op, timed alone
        excess = np.zeros_like(alone)
        for (l, c), ms in self.probes.items():
            excess[l, c] = ms - base_ms
        cells = own[:, None] + excess
        cells[np.isnan(alone)] = np.nan  # an op the table lacks stays a miss, never a number
        return cells

    def to_json(self, names: Sequence[str]) -> dict:
        """JSON with candidates by name (``names``: the space's candidates in index order)."""
        return {"base": self.base, "base_ms": self.base_ms,
                "probes": [{"layer": l, "candidate": names[c], "measured_ms": ms}
                           for (l, c), ms in sorted(self.probes.items())]}

    @classmethod
    def from_json(cls, d: dict, names: Sequence[str]) -> "InNetwork":
        index = {name: i for i, name in enumerate(names)}
        return cls(d["base"], [float(x) for x in d["base_ms"]],
                   {(int(p["layer"]), index[p["candidate"]]): float(p["measured_ms"]) for p in d["probes"]})
