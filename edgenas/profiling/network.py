"""Time a whole network as its table timed its own: the table's backend, threads and protocol.

The profiler is the table's own (:func:`~edgenas.profiling.table_profiler.table_profiler`), rebuilt from
its header through the backend registry and paired with the table's reference network when the protocol
pairs; a network is timed on the path ``table validate`` takes (``prepare`` then ``time``), which for an
exported-model backend is the backend's own lowering of the network at the table's batch, the artifact
every calibration network of the table was. Export reports and the benchmark's measured latencies both
come through here, so a prediction is only ever compared with a timing by the backend that made it.
"""
from __future__ import annotations

import math
import time
from typing import Callable, Optional, Sequence

import torch

from ..tables.table import LatencyTable
from .measure import STATE_PAUSE_S, STATE_RETRIES, TimingProtocol, in_profile_state
from .reference import attach_reference
from .table_profiler import table_profiler

__all__ = ["network_profiler", "measure_network"]


def network_profiler(table: LatencyTable, protocol: Optional[TimingProtocol] = None):
    """The table's profiler (``protocol`` replaces the table's), holding its reference network when it pairs."""
    profiler = table_profiler(table, protocol)
    attach_reference(profiler, table.space(), table)
    return profiler


def measure_network(module: torch.nn.Module, input_shape: Sequence[int], profiler, table: LatencyTable,
                    retries: Optional[int] = None, pause_s: Optional[float] = None,
                    sleep: Callable[[float], None] = time.sleep) -> dict:
    """Latency of ``module`` on ``input_shape`` (the table's batch) timed by ``profiler`` (:func:`network_profiler`).

    Returns the timing's fields plus ``latency_ms``: the median, in the table's terms (scaled to its reference
    unit when the timing was paired with the reference network). A paired timing taken in another machine
    state than the profile's (:func:`~edgenas.profiling.measure.in_profile_state`) is retaken up to ``retries``
    times (default ``STATE_RETRIES``), ``pause_s`` apart, and the one nearest that state kept; ``state``
    records its ``reference_ratio`` (the reference's median now over the table's unit) and the ``tries``.
    """
    retries = STATE_RETRIES if retries is None else retries
    pause_s = STATE_PAUSE_S if pause_s is None else pause_s
    shape = tuple(int(d) for d in input_shape)
    run = profiler.prepare(module.eval(), shape)
    best, tries = None, 0
    try:
        while True:
            timing, tries = profiler.time(run), tries + 1
            if timing.reference_ms is None or not table.unit_ms:
                return {**timing.to_json(), "latency_ms": table.normalized(timing)}
            ratio = timing.reference_ms / table.unit_ms
            if best is None or abs(math.log(ratio)) < abs(math.log(best[0])):
                best = (ratio, timing)
            if in_profile_state(ratio) or tries > retries:
                break
            sleep(pause_s)
    finally:
        profiler.release(run)
    ratio, timing = best
    return {**timing.to_json(), "latency_ms": table.normalized(timing),
            "state": {"reference_ratio": ratio, "tries": tries}}
