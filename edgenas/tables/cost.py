"""Cost model: architecture -> latency, memory, FLOPs, read from a latency table.

The table is compiled once into ``(layers, candidates)`` numpy matrices, so a
batch of architectures costs a gather and a sum. A cell the table lacks is NaN
and stays NaN through the sum: a miss is never counted as zero. Strict mode
raises :class:`MissingEntryError` instead, naming the missing ops.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Sequence

import numpy as np

from ..errors import ArchitectureError, MissingEntryError, TableError
from ..arch.space import OpKey, SearchSpace
from .table import Calibration, LatencyTable

METRICS = ("latency_ms", "param_bytes", "peak_activation_bytes", "flops")
PREDICT_CHUNK = 65536  # architectures per gather in predict()


@dataclass
class Prediction:
    """Batched costs; every array has one value per architecture.

    ``latency_ms`` is calibrated to whole networks when the table holds a
    calibration, else equal to ``op_sum_ms``. ``memory_bytes`` is parameter
    bytes plus the peak activation bytes.
    """

    latency_ms: np.ndarray
    op_sum_ms: np.ndarray
    param_bytes: np.ndarray
    peak_activation_bytes: np.ndarray
    memory_bytes: np.ndarray
    flops: np.ndarray


def apply_calibration(cal: Calibration, op_sum, xp):
    """``cal`` applied to ``op_sum`` with array module ``xp`` (numpy, or torch for a differentiable loss)."""
    features = {"sum": lambda: op_sum, "log_sum": lambda: xp.log(op_sum), "const": lambda: 1.0}
    unknown = set(cal.features) - set(features)
    if unknown:
        raise TableError(f"table calibration uses features {sorted(unknown)} this edgenas does not know; upgrade it")
    linear = sum(c * features[f]() for f, c in zip(cal.features, cal.coef))  # only the features it uses
    return xp.exp(linear) if cal.link == "log" else linear


class CostModel:
    """Predicts costs of architectures of ``space`` from ``table``."""

    def __init__(self, space: SearchSpace, table: LatencyTable, strict: bool = True, calibrated: bool = True,
                 in_network: bool = True):
        """``in_network``: read the layers' latencies as measured inside a network where the table holds them
        (see :mod:`edgenas.tables.in_network`); ``False`` reads every op as timed alone."""
        table.check_fits(space)
        self.space, self.table = space, table
        self.misses: List[OpKey] = table.missing(space)
        if strict and self.misses:
            shown = ", ".join(map(str, self.misses[:3]))
            raise MissingEntryError(f"table lacks {len(self.misses)} op(s) of space {space.name!r}, e.g. {shown}; "
                                    f"resume the profile to measure them")
        self.calibration: Calibration | None = table.calibration if calibrated else None
        if self.calibration is not None and not self.calibration.coef:
            # A profile killed while measuring its calibration networks leaves the fit empty.
            if strict:
                raise TableError(f"the table's whole-network calibration is not fitted yet ({len(self.calibration.points)} "
                                 f"networks measured); resume the profile to finish it")
            self.calibration = None
        L, C = space.num_layers, space.num_candidates
        self.matrix: Dict[str, np.ndarray] = {m: np.full((L, C), np.nan) for m in METRICS}
        for l in range(L):
            for c in range(C):
                for m, v in self._values(space.layer_key(l, c)).items():
                    self.matrix[m][l, c] = v
        self.in_network = in_network and table.op_latency == "in_network"
        if self.in_network:
            try:
                # A cell is the base op plus what the swap added; on a noisy machine a swap can "save" more than
                # the base op costs. No op runs in less than no time, and a negative sum has no logarithm.
                cells = table.in_network_latencies(space, self.matrix["latency_ms"])
                self.matrix["latency_ms"] = np.maximum(cells, 0.0)
            except TableError:
                if strict:  # a profile killed while measuring its probes
                    raise
                self.in_network = False
        fixed = [self._values(k) for k in space.fixed_keys()]
        self.fixed = {m: sum(f[m] for f in fixed) for m in METRICS}
        self.fixed_peak = max(f["peak_activation_bytes"] for f in fixed)
        self._flat = {m: v.ravel() for m, v in self.matrix.items()}  # views: cell (l, c) at l * C + c
        self._row_offsets = np.arange(L) * C
        self._check_calibration()

    def _check_calibration(self) -> None:
        """Refuse a calibration that turns some architecture's op sum into a non-finite latency (an overflowing
        fit): checked at the fastest and slowest op sums, as a calibration is monotone in the sum."""
        lat = self.matrix["latency_ms"]
        if self.calibration is None or np.isnan(lat).all(1).any():
            return
        ends = np.array([np.nanmin(lat, 1).sum(), np.nanmax(lat, 1).sum()]) + self.fixed["latency_ms"]
        with np.errstate(all="ignore"):
            out = self.calibrate(ends)
        if not np.isfinite(out).all():
            raise TableError(f"the table's calibration (measured ≈ {self.calibration.describe()}) gives "
                             f"{out[0]:.4g} to {out[1]:.4g} ms for this space's op sums of {ends[0]:.4g} to "
                             f"{ends[1]:.4g} ms; re-profile the table (its calibration is broken)")

    def _values(self, key: OpKey) -> Dict[str, float]:
        e = self.table.entries.get(key)
        if e is None:
            return {m: np.nan for m in METRICS}
        return {"latency_ms": e.latency_ms, "param_bytes": e.cost.param_bytes,
                "peak_activation_bytes": e.cost.peak_activation_bytes, "flops": e.cost.flops}

    def _as_batch(self, archs) -> np.ndarray:
        a = np.asarray(archs, dtype=np.int64)
        if a.ndim == 1:
            a = a[None, :]
        if a.ndim != 2 or a.shape[1] != self.space.num_layers:
            raise ArchitectureError(f"architectures of shape {a.shape} do not fit space {self.space.name!r} "
                                    f"({self.space.num_layers} layers)")
        bad = ((a < 0) | (a >= self.space.num_candidates)).any(1)
        if bad.any():
            self.space.check(a[bad][0])  # raises, naming the offending architecture
        return a

    def calibrate(self, op_sum_ms: np.ndarray) -> np.ndarray:
        """Whole-network latency from per-op sums (monotone increasing in the sum)."""
        if self.calibration is None:
            return op_sum_ms
        return apply_calibration(self.calibration, op_sum_ms, np)

    def predict(self, archs) -> Prediction:
        """Costs of ``archs``: one architecture (sequence of ints) or an ``(N, layers)`` array."""
        a = self._as_batch(archs)
        sums = {m: np.empty(len(a)) for m in ("latency_ms", "param_bytes", "flops")}
        peak = np.empty(len(a))
        # In chunks, so that the (chunk, layers) gathers stay in cache: gathering a million architectures at
        # once allocated ~700 MB of temporaries and ran 3.5x slower (BENCHMARKS.md, cost-model throughput).
        for start in range(0, len(a), PREDICT_CHUNK):
            cells = a[start:start + PREDICT_CHUNK] + self._row_offsets  # index into the flattened matrices
            rows = slice(start, start + len(cells))
            for m, out in sums.items():
                out[rows] = self._flat[m].take(cells).sum(1)
            peak[rows] = self._flat["peak_activation_bytes"].take(cells).max(1)
        op_sum = sums["latency_ms"] + self.fixed["latency_ms"]
        params = sums["param_bytes"] + self.fixed["param_bytes"]
        peak = np.maximum(peak, self.fixed_peak)
        return Prediction(latency_ms=self.calibrate(op_sum), op_sum_ms=op_sum, param_bytes=params,
                          peak_activation_bytes=peak, memory_bytes=params + peak,
                          flops=sums["flops"] + self.fixed["flops"])

    def breakdown(self, arch: Sequence[int]) -> List[dict]:
        """Per-op rows (stem, each layer, head) with latency, memory and FLOPs; misses marked.

        A layer's latency is the cost model's: read in a network where the table holds in-network probes.
        ``flops_uncounted`` lists the op types inside the op that fvcore could not count."""
        arch = self.space.check(arch)
        stem, head = self.space.fixed_keys()
        layers = [{"name": f"layer{i}:{self.space.candidates[c].name}", "key": self.space.layer_key(i, c),
                   "cell": {m: float(self.matrix[m][i, c]) for m in METRICS}} for i, c in enumerate(arch)]
        rows = ([{"name": "stem", "key": stem, "cell": self._values(stem)}] + layers
                + [{"name": "head", "key": head, "cell": self._values(head)}])
        entries = self.table.entries
        return [{"name": r["name"], "key": str(r["key"]), "missing": r["key"] not in entries, **r["cell"],
                 "flops_uncounted": list(entries[r["key"]].cost.flops_uncounted) if r["key"] in entries else []}
                for r in rows]

    def flops_uncounted(self, arch: Sequence[int]) -> List[str]:
        """The op types in ``arch`` that fvcore could not count, so that its ``flops`` leave them out (sorted)."""
        return sorted({t for row in self.breakdown(arch) for t in row["flops_uncounted"]})

    def fastest(self) -> tuple:
        """The architecture of least predicted latency (per layer argmin; calibration is monotone)."""
        arch = tuple(int(i) for i in np.nanargmin(self.matrix["latency_ms"], axis=1))
        return arch, float(self.predict(arch).latency_ms[0])

    def slowest(self) -> tuple:
        """The architecture of most predicted latency (per layer argmax)."""
        arch = tuple(int(i) for i in np.nanargmax(self.matrix["latency_ms"], axis=1))
        return arch, float(self.predict(arch).latency_ms[0])
