"""Measure deployed networks as their table measured its own (:mod:`edgenas.profiling.network`).

A table whose backend cannot run here (another host's, a device's, a GPU's on a CPU machine) leaves the models
unmeasured, and the report says why: they are never timed another way.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch

from ..errors import EdgeNASError
from ..profiling.measure import TimingProtocol
from ..profiling.network import measure_network, network_profiler
from ..profiling.table_profiler import table_protocol, table_threads
from ..tables.table import LatencyTable
from .controls import ControlNetworks

__all__ = ["TableMeasurer"]


class TableMeasurer:
    """Times deployed networks with ``table``'s profiler, built on first use (a resumed export may need none),
    and measures the table's control networks beside them (:mod:`edgenas.deploy.controls`)."""

    def __init__(self, table: LatencyTable, input_shape: Sequence[int], protocol: Optional[TimingProtocol] = None):
        self.table, self.shape = table, tuple(int(d) for d in input_shape)
        self.protocol = protocol or table_protocol(table)
        self._profiler, self._controls, self._failed = None, None, None

    @property
    def key(self) -> dict:
        """What a stored measurement must match to be kept on a rerun: the same table, measured the same way."""
        return {"backend": self.table.backend, "table_created": self.table.header.get("created"),
                "input_shape": list(self.shape)}

    def profiler(self):
        """The table's profiler, or ``None`` when it cannot run here (:attr:`failure` says why)."""
        if self._profiler is None and self._failed is None:
            try:
                self._profiler = network_profiler(self.table, self.protocol)
            except EdgeNASError as e:
                self._failed = str(e)
        return self._profiler

    @property
    def failure(self) -> Optional[str]:
        """Why the table's backend could not be built here, once a measurement tried; else ``None``."""
        return self._failed

    def describe(self) -> str:
        """How the models are measured, for the report."""
        if self._failed:
            return f"nothing: the table's backend {self.table.backend!r} cannot run here ({self._failed})"
        rt = self.table.header.get("runtime") or {}
        paired = ", paired with its reference network" if self.protocol.reference else ""
        return (f"{self.table.backend}, the table's backend ({rt.get('runtime', '?')} {rt.get('version', '')}, "
                f"{table_threads(self.table)} thread(s)), with the table's protocol{paired}; batch {self.shape[0]}, "
                f"median of timed runs")

    def measure(self, module: torch.nn.Module, controls: bool = False) -> dict:
        """``module``'s measurement (:func:`measure_network`) and, with ``controls``, the control networks measured
        right after it; ``latency_ms`` is ``None`` and ``not_measured`` says why when the backend cannot run here."""
        profiler = self.profiler()
        if profiler is None:
            return {"latency_ms": None, "not_measured": self._failed, **self.key}
        timing = measure_network(module, self.shape, profiler, self.table)
        out = {"latency_ms": timing.pop("latency_ms"), "timing": timing, **self.key,
               "runtime_version": profiler.runtime_info().get("version"), "threads": profiler.threads}
        if controls:
            if self._controls is None:
                self._controls = ControlNetworks(self.table.space(), self.table, profiler, self.shape)
            out["controls"] = self._controls.measure()
        return out
