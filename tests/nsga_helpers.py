"""Shared helpers of the search tests: the reduced 6-layer space and its real CPU table (benchmarks/data)."""
from __future__ import annotations

import json
from pathlib import Path

from edgenas.search.runners import InProcessRunner
from edgenas.tables.cost import CostModel
from edgenas.arch.space import get_space
from edgenas.tables.table import LatencyTable

ROOT = Path(__file__).resolve().parents[1]
SPACE = ROOT / "benchmarks" / "data" / "fbnet-small6.space.json"
TABLE = ROOT / "benchmarks" / "data" / "fbnet-small6.ort-cpu.json"


def space():
    return get_space(str(SPACE))


def cost():
    s = space()
    return CostModel(s, LatencyTable.load(TABLE, space=s))


def scaled_table(path: Path, factor: float, device: str = "phone") -> Path:
    """A second target: the CPU table with every latency scaled (stands in for a slower device's table)."""
    d = json.loads(TABLE.read_text())
    d["device"] = {**d["device"], "kind": device}
    for e in d["entries"]:
        e["latency_ms"] *= factor
    path.write_text(json.dumps(d))
    return path



class StopAfter(InProcessRunner):
    """A runner that raises, as a killed process would, after ``n`` evaluations (one at a time)."""

    def __init__(self, n):
        self.left = n

    def map(self, estimator, archs, chunk_size):
        for item in super().map(estimator, archs, 1):
            if self.left == 0:
                raise KeyboardInterrupt
            self.left -= 1
            yield item
