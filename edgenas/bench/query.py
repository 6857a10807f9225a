"""Query a benchmark: accuracy (tabular where trained, the surrogate otherwise), latency per table, memory.

:class:`BenchmarkOracle` is also an accuracy estimator for the search: its
error is one minus the validation accuracy (the test part stays for reporting),
so a whole search reads the benchmark instead of training, in milliseconds.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import numpy as np

from ..fileio import PathLike
from ..tables.table import LatencyTable
from .benchfile import BenchError, Benchmark
from .build import features
from .surrogate import Surrogate


class BenchmarkOracle:
    """Answers from the benchmark file at ``path``; tables for untrained architectures from ``tables_dir``."""

    def __init__(self, path: PathLike, tables_dir: Optional[PathLike] = None, metric: str = "val_acc"):
        self.path = Path(path)
        self.bench = Benchmark.load(self.path)
        self.space = self.bench.space
        self.metric = metric
        self._surrogates: dict = {}
        self._tables = None
        self._tables_dir = Path(tables_dir) if tables_dir else None

    def surrogate(self, metric: str) -> Surrogate:
        if metric not in self._surrogates:
            self._surrogates[metric] = Surrogate(self.bench, metric)
        return self._surrogates[metric]

    def tables(self) -> List[tuple]:
        """The tables the benchmark's features were predicted with, loaded from ``tables_dir``."""
        if self._tables is None:
            names = self.bench.header["sample"]["tables"]
            if names and self._tables_dir is None:
                raise BenchError("untrained architectures need the benchmark's tables: pass the folder that holds "
                                 f"{names[0]} (e.g. latency_tables)")
            self._tables = []
            for name in names:
                p = self._tables_dir / name
                if not p.is_file():
                    raise BenchError(f"table {p} (named by the benchmark) does not exist")
                self._tables.append((name, LatencyTable.load(p, self.space)))
        return self._tables

    def features(self, archs: np.ndarray) -> List[dict]:
        known = [self.bench.get(self.space.format(a)) for a in archs]
        missing = [i for i, r in enumerate(known) if r is None]
        computed = features(self.space, np.asarray(archs)[missing], self.tables()) if missing else []
        out = [r.features if r is not None else None for r in known]
        for i, f in zip(missing, computed):
            out[i] = f
        return out

    def accuracy(self, archs: np.ndarray, metric: Optional[str] = None) -> tuple:
        """(accuracy, std, source) per architecture: the seeds' mean and spread where trained, else the surrogate."""
        metric = metric or self.metric
        archs = np.asarray(archs, dtype=np.int64).reshape(-1, self.space.num_layers)
        acc, std = np.empty(len(archs)), np.empty(len(archs))
        source = []
        untrained = []
        for i, a in enumerate(archs):
            r = self.bench.get(self.space.format(a))
            if r is not None and r.runs:
                values = [run[metric] for run in r.runs.values()]
                acc[i], std[i] = np.mean(values), (np.std(values, ddof=1) if len(values) > 1 else np.nan)
                source.append(f"trained ({len(values)} seed{'s' if len(values) > 1 else ''})")
            else:
                untrained.append(i)
                source.append("surrogate")
        if untrained:
            mean, sd = self.surrogate(metric).predict(archs[untrained], self.features(archs[untrained]))
            acc[untrained], std[untrained] = mean, sd
        return acc, std, source

    # ---- the accuracy-estimator interface ----
    def evaluate(self, archs: np.ndarray) -> np.ndarray:
        return 1.0 - self.accuracy(archs)[0]

    def describe(self) -> dict:
        return {"kind": "benchmark", "path": str(self.path), "metric": self.metric,
                "recipe_fingerprint": self.bench.header["recipe_fingerprint"],
                "trained": len(self.bench.trained())}

    def query(self, arch_text: str) -> dict:
        """Everything the benchmark knows of one architecture."""
        arch = np.array([self.space.parse(arch_text)])
        out = {"arch": self.space.format(arch[0])}
        for metric in ("val_acc", "test_acc"):
            acc, std, source = self.accuracy(arch, metric)
            out[metric] = {"value": float(acc[0]), "std": None if np.isnan(std[0]) else float(std[0]),
                           "source": source[0]}
        r = self.bench.get(out["arch"])
        if r is not None:
            out["runs"] = [r.runs[s] for s in sorted(r.runs)]
        out["features"] = self.features(arch)[0]
        return out
