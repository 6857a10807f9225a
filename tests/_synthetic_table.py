"""A latency table made without timing anything: latency from FLOPs, costs from fvcore. For fast tests."""
from __future__ import annotations

from edgenas.arch.analysis import analyse
from edgenas.profiling.measure import Timing
from edgenas.arch.model import build_op
from edgenas.tables.table import Calibration, LatencyTable, TableEntry


_COSTS = {}  # space fingerprint -> {key: OpCost}; fvcore is slow, so each test process analyses a space once


def synthetic_table(space, path, ms_per_mflop: float = 0.02, op_ms: float = 0.002):
    """Write and return a table of ``space`` whose op latency is ``op_ms + ms_per_mflop · MFLOPs``."""
    costs = _COSTS.setdefault(space.fingerprint, {})
    table = LatencyTable.new(space, "synthetic", {"name": "synthetic", "threads": 1, "precision": "fp32"},
                             {"name": "test"}, {"kind": "synthetic"}, op_latency="alone")
    for key in space.op_keys():
        cost = costs.get(key) or costs.setdefault(key, analyse(build_op(key), key.input_shape))
        ms = 0.0 if key.is_identity else op_ms + ms_per_mflop * cost.flops / 1e6
        timing = Timing(ms, ms, ms, ms, 0.0, 0.0, 1, 0.0, 0, 0.0, 1, True)
        table.entries[key] = TableEntry(timing, ms, cost)
    table.calibration = Calibration(["sum", "const"], [0.8, 0.01], [])
    table.save(path)
    return table
