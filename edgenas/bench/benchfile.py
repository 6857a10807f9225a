"""The benchmark file: a header (space, recipe, split, machine, versions) and one record per architecture.

It is JSON a person can open, and it is also the build's journal: rewritten
atomically after every finished training, so a killed build loses at most the
trainings in flight and a rerun trains only what is missing. Loading refuses a
corrupt, foreign or newer file, and any non-finite number.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import numpy as np

from ..arch.space import SearchSpace
from ..errors import ArchitectureError, EdgeNASError
from ..fileio import PathLike, atomic_write_json
from ..runfolder import lock_file

FORMAT = "edgenas-bench"
SCHEMA_VERSION = 1


class BenchError(EdgeNASError):
    """A benchmark file that cannot be used: missing, corrupt, foreign, or of another space or recipe."""


@dataclass
class BenchRecord:
    """One architecture: its stratum, the seeds it is trained with, cheap features, the finished runs, and
    the latency of the whole network measured by each table's own profiler (``edgenas bench measure``)."""

    arch: str
    stratum: str
    seeds: List[int]
    features: dict
    runs: Dict[int, dict] = field(default_factory=dict)
    measured: Dict[str, dict] = field(default_factory=dict)   # table file name -> timing with latency_ms

    @property
    def done(self) -> bool:
        return all(s in self.runs for s in self.seeds)

    def mean(self, metric: str) -> float:
        return float(np.mean([r[metric] for r in self.runs.values()])) if self.runs else math.nan

    def to_json(self) -> dict:
        out = {"arch": self.arch, "stratum": self.stratum, "seeds": self.seeds, "features": self.features,
               "runs": [self.runs[s] for s in sorted(self.runs)]}
        if self.measured:
            out["measured"] = self.measured
        return out

    @classmethod
    def from_json(cls, d: dict) -> "BenchRecord":
        return cls(str(d["arch"]), str(d["stratum"]), [int(s) for s in d["seeds"]], dict(d["features"]),
                   {int(r["seed"]): dict(r) for r in d.get("runs", [])},
                   {str(k): dict(v) for k, v in d.get("measured", {}).items()})


@dataclass
class Benchmark:
    header: dict
    records: List[BenchRecord]

    def __post_init__(self) -> None:
        self._index = {r.arch: r for r in self.records}

    @property
    def space(self) -> SearchSpace:
        return SearchSpace.from_dict(self.header["space"]["name"], self.header["space"]["declaration"])

    def trained(self) -> List[BenchRecord]:
        return [r for r in self.records if r.runs]

    def get(self, arch: str) -> Optional[BenchRecord]:
        return self._index.get(arch)

    def extend(self, records: List[BenchRecord]) -> None:
        self.records += records
        self._index.update((r.arch, r) for r in records)

    def to_json(self) -> dict:
        return {"format": FORMAT, "schema_version": SCHEMA_VERSION, **self.header,
                "records": [r.to_json() for r in self.records]}

    def save(self, path: PathLike) -> None:
        _check_finite(self.to_json(), str(path))
        atomic_write_json(path, self.to_json())

    @classmethod
    def load(cls, path: PathLike, space: Optional[SearchSpace] = None) -> "Benchmark":
        path = Path(path)
        if not path.is_file():
            raise BenchError(f"benchmark {path} does not exist")
        try:
            d = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise BenchError(f"benchmark {path} is corrupt or truncated ({type(e).__name__}); rebuild or restore it") \
                from None
        return cls.from_json(d, str(path), space)

    @classmethod
    def from_json(cls, d, source: str, space: Optional[SearchSpace] = None) -> "Benchmark":
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise BenchError(f"{source} is not an edgenas benchmark (no format {FORMAT!r})")
        version = d.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise BenchError(f"{source} has no integer schema_version")
        if version > SCHEMA_VERSION:
            raise BenchError(f"{source} has schema version {version}; this edgenas reads up to {SCHEMA_VERSION}: "
                             f"upgrade edgenas")
        _check_finite(d, source)
        try:
            header = {k: v for k, v in d.items() if k not in ("format", "schema_version", "records")}
            bench = cls(header, [BenchRecord.from_json(r) for r in d["records"]])
            own = bench.space
            for r in bench.records:
                own.parse(r.arch)
        except (KeyError, TypeError, ValueError, ArchitectureError) as e:
            raise BenchError(f"{source} is corrupt: {type(e).__name__}: {e}") from None
        if space is not None and own.fingerprint != space.fingerprint:
            raise BenchError(f"{source} is a benchmark of space {own.name!r}, not of {space.name!r}")
        return bench


def _check_finite(obj, source: str, where: str = "") -> None:
    if isinstance(obj, float) and not math.isfinite(obj):
        raise BenchError(f"{source} holds a non-finite number at {where or 'top level'}")
    if isinstance(obj, dict):
        for k, v in obj.items():
            _check_finite(v, source, f"{where}.{k}" if where else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _check_finite(v, source, f"{where}[{i}]")


@contextlib.contextmanager
def bench_lock(path: PathLike) -> Iterator[None]:
    """Hold the benchmark file's lock (``PATH.lock``) while writing it: the build and the measurement never run
    together on one file, and a second writer is refused naming the first."""
    fd = lock_file(Path(f"{path}.lock"), path, fix="run it again when that one has finished")
    try:
        yield
    finally:
        os.close(fd)
