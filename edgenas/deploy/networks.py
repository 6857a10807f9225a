"""Time a deployed network as its table timed the calibration networks: the whole network as a
static-shape ONNX model on the ``onnxruntime`` profiler, paired with the table's reference when the
protocol asks for it."""
from __future__ import annotations

from typing import Optional, Sequence

import torch

from ..profiling.measure import TimingProtocol
from ..tables.table import LatencyTable

__all__ = ["network_profiler", "measure_network"]


def network_profiler(threads: int, protocol: TimingProtocol, table: Optional[LatencyTable] = None):
    """The onnxruntime CPU profiler that times deployed networks as an onnxruntime table timed its calibration
    networks; with a paired protocol it holds ``table``'s reference network, loaded once for every network."""
    from profilers import get_profiler

    from ..profiling.reference import attach_reference

    profiler = get_profiler("onnxruntime", threads=threads, protocol=protocol)
    if protocol.reference:
        if table is None:
            raise ValueError("a paired protocol measures against a table's reference network: pass the table")
        attach_reference(profiler, table.space(), table)
    return profiler


def measure_network(module: torch.nn.Module, input_shape: Sequence[int], profiler,
                    table: Optional[LatencyTable] = None) -> dict:
    """Latency of ``module`` as a static-shape ONNX model of ``input_shape`` (the table's batch), timed by
    ``profiler`` (see :func:`network_profiler`).

    Returns the timing's fields plus ``latency_ms``: the median, scaled to ``table``'s reference unit
    when the timing was paired with the table's reference network.
    """
    from .formats.lowering import to_onnx_bytes

    shape = tuple(int(d) for d in input_shape)
    timing = profiler.measure_artifact(to_onnx_bytes(module, shape), shape)
    return {**timing.to_json(), "latency_ms": table.normalized(timing) if table else timing.median_ms}
