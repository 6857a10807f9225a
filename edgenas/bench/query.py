"""Query a benchmark: accuracy (tabular where trained, the surrogate otherwise), latency per table, memory.

:class:`BenchmarkOracle` is also what the search's ``bench`` accuracy estimator
reads: the error of an architecture is one minus its validation accuracy (the
test part stays for reporting), so a whole search runs in seconds.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..arch.space import SearchSpace
from ..fileio import PathLike
from ..tables.table import LatencyTable
from .benchfile import BenchError, Benchmark
from .build import cost_models, features
from .surrogate import SURROGATE_MODEL, Surrogate

DATA = Path(__file__).resolve().parent / "data"
TABLES = Path(__file__).resolve().parents[2] / "latency_tables"   # the project's measured tables (a checkout)


def shipped(space: SearchSpace) -> Path:
    """The benchmark this edgenas ships for ``space``; a space without one is a :class:`BenchError`."""
    found = sorted(DATA.glob(f"{space.name}.*.json"))
    if not found:
        raise BenchError(f"edgenas ships no benchmark of space {space.name!r} "
                         f"(it has: {', '.join(p.name for p in sorted(DATA.glob('*.json'))) or 'none'}); "
                         f"build one with 'edgenas bench build --space {space.name}' and name its file")
    return found[0]


class BenchmarkOracle:
    """Answers from the benchmark file at ``path``. ``tables`` (name, table) of its space give the features of
    architectures it did not train (FLOPs, parameters) and the latencies a query reports."""

    def __init__(self, path: PathLike, tables: Sequence[Tuple[str, LatencyTable]] = (),
                 space: Optional[SearchSpace] = None, trees: int = 400):
        self.path = Path(path)
        self.bench = Benchmark.load(self.path, space)
        self.space = self.bench.space
        for name, t in tables:
            t.check_fits(self.space)
        self.tables = list(tables)
        self._cost_models = None                    # built on the first untrained query, then kept
        self.trees = trees                          # of each of the surrogate's boosted models
        self._surrogates: Dict[str, Surrogate] = {}

    def surrogate(self, metric: str) -> Surrogate:
        if metric not in self._surrogates:
            self._surrogates[metric] = Surrogate(self.bench, metric, trees=self.trees)
        return self._surrogates[metric]

    def cost_models(self):
        if self._cost_models is None:
            self._cost_models = cost_models(self.space, self.tables)
        return self._cost_models

    def features(self, archs: np.ndarray) -> List[dict]:
        """Each architecture's stored features, or ones predicted by the tables for an untrained one."""
        known = [self.bench.get(self.space.format(a)) for a in archs]
        missing = [i for i, r in enumerate(known) if r is None]
        if missing and not self.tables:
            raise BenchError("an architecture the benchmark did not train needs a latency table of its space "
                             "for its FLOPs and parameters")
        computed = (features(self.space, np.asarray(archs)[missing], self.tables, self.cost_models())
                    if missing else [])
        out = [r.features if r is not None else None for r in known]
        for i, f in zip(missing, computed):
            out[i] = f
        return out

    def accuracy(self, archs: np.ndarray, metric: str = "val_acc") -> tuple:
        """(accuracy, std, source) per architecture: the seeds' mean and spread where trained, else the
        surrogate's mean and its held-out error (any metric of a run: ``train_s`` too)."""
        archs = np.asarray(archs, dtype=np.int64).reshape(-1, self.space.num_layers)
        acc, std = np.empty(len(archs)), np.full(len(archs), np.nan)
        source: List[str] = []
        untrained = []
        for i, a in enumerate(archs):
            r = self.bench.get(self.space.format(a))
            if r is not None and r.runs:
                values = [run[metric] for run in r.runs.values()]
                acc[i] = np.mean(values)
                if len(values) > 1:
                    std[i] = np.std(values, ddof=1)
                source.append(f"trained, {len(values)} seed{'s' if len(values) > 1 else ''}")
            else:
                untrained.append(i)
                source.append("surrogate")
        if untrained:
            acc[untrained], std[untrained] = self.surrogate(metric).predict(archs[untrained],
                                                                            self.features(archs[untrained]))
        return acc, std, source

    def train_seconds(self, archs: np.ndarray) -> np.ndarray:
        """Training seconds per architecture: the seeds' mean where trained (wall time on the machine that built
        the benchmark), else the surrogate's prediction."""
        return self.accuracy(archs, "train_s")[0]

    def describe(self) -> dict:
        # A shipped benchmark by its name: a run folder then resumes under another install or clone of edgenas.
        path = self.path.resolve()
        where = f"shipped:{path.name}" if path.parent == DATA else str(path)
        return {"kind": "benchmark", "path": where, "surrogate": SURROGATE_MODEL, "surrogate_trees": self.trees,
                "recipe_fingerprint": self.bench.header["recipe_fingerprint"],
                "trained": len(self.bench.trained()), "metric": "val_acc"}

    def query(self, arch_text: str) -> dict:
        """Everything the benchmark knows of one architecture."""
        arch = np.array([self.space.parse(arch_text)])
        out = {"arch": self.space.format(arch[0])}
        for metric in ("val_acc", "test_acc"):
            acc, std, source = self.accuracy(arch, metric)
            out[metric] = {"value": float(acc[0]), "std": None if np.isnan(std[0]) else float(std[0]),
                           "source": source[0]}
        r = self.bench.get(out["arch"])
        out["runs"] = [r.runs[s] for s in sorted(r.runs)] if r is not None else []
        feats = dict(self.features(arch)[0])
        if self.tables:  # latency from the tables given (they may be newer than the benchmark's)
            feats["latency_ms"] = features(self.space, arch, self.tables, self.cost_models())[0]["latency_ms"]
        out["features"] = feats
        return out
