"""``edgenas bench measure``: each architecture's whole network timed by a table's own profiler.

The benchmark stores, per table of its space, the latency the table *predicts*; this adds the latency
*measured* on this machine for the same network, by the same backend, threads and timing protocol as
the table (:mod:`edgenas.profiling.network`; the exported-model backends time their own lowering of the
network). Weights do not change a dense network's latency, so untrained networks are timed, in sample
order, trained or not. Journaled like the build: the file is rewritten after each network, a rerun
measures only what is missing, and a measurement of an older profile of the table is redone. A timing
needs a quiet machine: the build and the measurement take the benchmark's lock, so they never run
together.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..arch.model import build_network
from ..fileio import PathLike
from ..profiling.measure import TimingProtocol
from ..profiling.network import measure_network, network_profiler
from ..progress import Progress, quiet
from ..tables.table import LatencyTable
from .benchfile import Benchmark, bench_lock

__all__ = ["measure", "measured_vs_predicted"]


def measure(path: PathLike, table_path: PathLike, *, limit: Optional[int] = None,
            protocol: Optional[TimingProtocol] = None, progress: Optional[Progress] = None) -> Benchmark:
    """Time the networks of the benchmark at ``path`` that lack a measurement by the table at ``table_path``
    (with the table's timing protocol, or ``protocol``)."""
    report = progress or quiet
    with bench_lock(path):
        bench = Benchmark.load(path)
        space = bench.space
        table = LatencyTable.load(table_path, space=space)
        name, profile = Path(table_path).name, table.header.get("created")
        todo = [r for r in bench.records if r.measured.get(name, {}).get("table_created") != profile]
        todo = todo[:limit] if limit is not None else todo
        total, done = len(bench.records), len(bench.records) - len(todo)
        report("measure", done, total)
        if not todo:
            return bench
        profiler = network_profiler(table, protocol)       # the table's backend: refused here when it cannot run
        shape = (int(table.header.get("batch") or space.input_shape[0]), *space.input_shape[1:])
        for r in todo:
            torch.manual_seed(0)
            timing = measure_network(build_network(space, space.parse(r.arch)), shape, profiler, table)
            r.measured[name] = {"latency_ms": timing["latency_ms"], "median_ms": timing["median_ms"],
                                "spread": timing["spread"], "runs": timing["runs"], "stable": timing["stable"],
                                "table_created": profile}
            if "state" in timing:   # retaken in the profile's machine state (edgenas.profiling.network)
                r.measured[name]["state"] = timing["state"]
            bench.save(path)
            done += 1
            report("measure", done, total)
    return bench


def measured_vs_predicted(bench: Benchmark, table: str) -> Optional[dict]:
    """How the table's prediction compares with the measured latency over the networks measured by it."""
    pairs = [(r.features["latency_ms"][table], r.measured[table]["latency_ms"]) for r in bench.records
             if table in r.measured and table in r.features.get("latency_ms", {})]
    if not pairs:
        return None
    pred, meas = np.array(pairs).T
    rel = pred / meas - 1.0
    return {"table": table, "networks": len(pairs), "mape": float(np.mean(np.abs(rel))),
            "within_10pct": float(np.mean(np.abs(rel) <= 0.10)), "median_error": float(np.median(rel))}
