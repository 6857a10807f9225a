"""Shared pieces of the export tests: a finished (oracle) NSGA-II search of fbnet-small, its synthetic table
relabelled as a real backend's, and an op ONNX cannot export."""
from __future__ import annotations

import torch
import torch.nn as nn

from edgenas.search.setup import search
from edgenas.arch.space import get_space

from _synthetic_table import synthetic_table

SPACE = get_space("fbnet-small")


def make_search_run(folder):
    """A real NSGA-II run folder (synthetic table, oracle accuracy, dataset digits); returns (run, table)."""
    folder.mkdir(parents=True, exist_ok=True)
    table = folder / "table.json"
    synthetic_table(SPACE, table)
    run = folder / "search"
    search("nsga2", [table], run, estimator="oracle", dataset="digits", config={"pop": 8, "gens": 2}, seed=0,
           plot=False)
    return run, table


def relabelled(table, backend, path):
    """A copy of the synthetic ``table`` at ``path`` that says it was measured by ``backend`` (1 thread), so that an
    export measures its models with that backend here; returns ``path``."""
    from edgenas.tables.table import LatencyTable

    t = LatencyTable.load(table)
    t.header["backend"], t.header["runtime"] = backend, {"runtime": backend, "threads": 1, "precision": "fp32"}
    t.save(path)
    return path


def unsupported(x: torch.Tensor) -> torch.Tensor:
    """An op the ONNX exporter has no symbolic for (opset 17), kept numerically harmless."""
    return x + 0.0 * torch.special.i0(x)


class Unexportable(nn.Module):
    """Wraps a module and applies :func:`unsupported` to its output."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return unsupported(self.inner(x))


class DiffersInExport(nn.Module):
    """Flips the sign of its input only while being exported to ONNX: a deliberate mismatch."""

    def forward(self, x):
        return 1.0 - 2.0 * x if torch.onnx.is_in_onnx_export() else x
