"""Control networks: a few of the table's calibration networks, measured again beside each exported model.

A prediction error after export mixes two things: how well the table predicts a network, and how far
the machine has moved since the table was profiled. Pairing every timing with the reference network
cancels most of a machine's drift, not all of it. The table stored what its calibration networks
measured during the profile, so measuring some of them again, the same way and right after an exported
model, shows the machine's part on its own: the *control change*. The deployment report gives each
prediction error as measured and, beside it, that change, and scores the errors adjusted by it. Measured
once after all the exports instead, the change did not hold for models measured minutes earlier
(BENCHMARKS.md, "Control networks beside each exported model").
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np

from ..arch.model import build_network
from ..arch.space import SearchSpace
from ..tables.table import LatencyTable

CONTROLS = 3  # networks: the fastest, the middle and the slowest calibration network
PASSES = 3  # interleaved passes over the controls; each network's median is kept


def pick_controls(table: LatencyTable, k: int = CONTROLS) -> List[dict]:
    """``k`` calibration points of ``table`` spread from its fastest to its slowest network (fit outliers left out)."""
    points = sorted((p for p in (table.calibration.points if table.calibration else [])
                     if not p.get("outlier") and p.get("measured_ms")), key=lambda p: p["measured_ms"])
    if not points:
        return []
    picks = np.unique(np.round(np.linspace(0, len(points) - 1, min(k, len(points)))).astype(int))
    return [points[i] for i in picks]


class ControlNetworks:
    """``k`` of a table's calibration networks, loaded once on ``profiler`` and measured again on demand."""

    def __init__(self, space: SearchSpace, table: LatencyTable, profiler, shape: Sequence[int], k: int = CONTROLS):
        self.table, self.profiler = table, profiler
        self.points = pick_controls(table, k)
        shape = tuple(int(d) for d in shape)
        # prepared as the deployed networks are (edgenas.deploy.measure): the table's backend, its own lowering
        self.runs = [profiler.prepare(build_network(space, space.parse(p["arch"])).eval(), shape) for p in self.points]

    def measure(self, passes: int = PASSES) -> Optional[dict]:
        """Each network's latency at the profile and now (in the table's terms, median of ``passes``
        interleaved passes), and ``change_pct``: their median change, what the machine's move since the
        profile adds to a measurement taken now. ``None`` when the table has no calibration networks."""
        if not self.points:
            return None
        ms = np.array([[self.table.normalized(self.profiler.time(run)) for run in self.runs] for _ in range(passes)])
        now = np.median(ms, axis=0)
        rows = [{"arch": p["arch"], "profiled_ms": float(p["measured_ms"]), "measured_ms": float(m),
                 "change_pct": float(100 * (m / p["measured_ms"] - 1))} for p, m in zip(self.points, now)]
        return {"networks": rows, "passes": passes,
                "change_pct": float(np.median([r["change_pct"] for r in rows]))}


def adjusted_error_pct(predicted_ms: float, measured_ms: float, change_pct: float) -> float:
    """The prediction error once the prediction is moved by the controls' change (the machine's part)."""
    return 100.0 * (predicted_ms * (1 + change_pct / 100) - measured_ms) / measured_ms
