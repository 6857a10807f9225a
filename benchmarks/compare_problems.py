"""The problems of the strategy comparison and their reference fronts (see compare_strategies.py).

A problem is a space, one latency table with a budget, and one accuracy estimator shared by every run, so that
every strategy and every seed faces the same function:

- ``oracle``: fbnet-small6 (531,441 architectures), its own CPU table, the SyntheticOracle with seed 0 (the
  exact-front benchmark, benchmarks/nsga_ground_truth.py). Reference: the exact front, by enumeration.
- ``bench``: fbnet-small (9^8 = 43,046,721 architectures), latency_tables/fbnet-small.onnxruntime.cpu1.json, the
  benchmark of trained architectures (tabular where trained, its forest surrogate elsewhere). Reference:
  the exact front of that estimator by enumeration: every architecture's latency from the cost model, and the
  estimator's accuracy for every one under the largest budget (vectorised; checked against the estimator itself
  on a sample before use).

Hypervolume is the tool's own (:class:`edgenas.search.run.FrontTracker`: error and latency scaled by the
space's fixed bounds, reference point 1.1) over the feasible architectures, reported as a share of the
reference front's.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np

from edgenas.arch.space import SearchSpace, get_space
from edgenas.bench.surrogate import design_arrays
from edgenas.search.estimators import BenchmarkEstimator, ErrorEstimator, SyntheticOracle
from edgenas.search.problem import ObjectiveSpec, Target
from edgenas.search.run import FrontTracker
from edgenas.search.setup import table_digest
from edgenas.tables.cost import CostModel
from edgenas.tables.table import LatencyTable

ROOT = Path(__file__).resolve().parents[1]
SMALL6_SPACE = ROOT / "benchmarks" / "data" / "fbnet-small6.space.json"
SMALL6_TABLE = ROOT / "benchmarks" / "data" / "fbnet-small6.ort-cpu.json"
SMALL_TABLE = ROOT / "latency_tables" / "fbnet-small.onnxruntime.cpu1.json"


@dataclass
class Problem:
    """One search problem: what every strategy is run on."""

    name: str                       # e.g. "oracle@0.05ms"
    kind: str                       # "oracle" or "bench": the --estimator the edgenas strategies are given
    table: Path
    budget_ms: float
    space: SearchSpace
    spec: ObjectiveSpec             # error and latency, the budget as a constraint
    estimator: ErrorEstimator       # shared by every run of the problem
    info: Dict = field(default_factory=dict)
    reference: Dict = field(default_factory=dict)   # filled by attach_reference

    @property
    def latency_key(self) -> str:
        return self.spec.targets[0].key

    def latency(self, archs: np.ndarray) -> np.ndarray:
        return self.spec.targets[0].cost.predict(np.asarray(archs, dtype=np.int64)).latency_ms

    def tracker(self) -> FrontTracker:
        return FrontTracker(self.spec)


def _spec(space: SearchSpace, table_path: Path, budget_ms: float) -> ObjectiveSpec:
    table = LatencyTable.load(table_path, space=space)
    # the target's name is what edgenas.search.setup calls a table (its file name), so journal keys match
    return ObjectiveSpec([Target(table_path.name.removesuffix(".json"), CostModel(space, table), budget_ms)])


def oracle_problems(budgets: Sequence[float]) -> List[Problem]:
    space = get_space(str(SMALL6_SPACE))
    out = []
    for b in budgets:
        spec = _spec(space, SMALL6_TABLE, b)
        oracle = SyntheticOracle(space, spec.targets[0].cost.matrix["flops"], seed=0)
        out.append(Problem(f"oracle@{b:g}ms", "oracle", SMALL6_TABLE, b, space, spec, oracle,
                           info={"space": space.name, "architectures": space.num_candidates ** space.num_layers,
                                 "estimator": oracle.describe()}))
    return out


def bench_problems(budgets: Sequence[float], bench_path=None, trees: int = 300) -> List[Problem]:
    from edgenas.bench.query import shipped

    table = LatencyTable.load(SMALL_TABLE)
    space = table.space()
    path = Path(bench_path) if bench_path else shipped(space)
    name = SMALL_TABLE.name.removesuffix(".json")
    # one estimator for every budget and run: the surrogate is fitted once
    est = BenchmarkEstimator(path, [(name, table)], space, trees=trees)
    out = []
    for b in budgets:
        spec = _spec(space, SMALL_TABLE, b)
        out.append(Problem(f"bench@{b:g}ms", "bench", SMALL_TABLE, b, space, spec, est,
                           info={"space": space.name, "architectures": space.num_candidates ** space.num_layers,
                                 "estimator": est.describe(), "bench_file": str(path),
                                 "trained_architectures": len(est.oracle.bench.trained())}))
    return out


# ---- reference fronts ------------------------------------------------------------------------------------------
def _front_2d(err: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Indices of the Pareto-optimal points (minimise both): sort by latency, keep strictly better errors."""
    order = np.lexsort((err, lat))
    e = err[order]
    best_before = np.minimum.accumulate(np.concatenate([[np.inf], e[:-1]]))
    return order[e < best_before]


def _all_archs(space: SearchSpace, head: int) -> np.ndarray:
    """Every architecture whose first two layers encode ``head`` (chunks of C^(L-2))."""
    L, C = space.num_layers, space.num_candidates
    tail = np.array(list(itertools.product(range(C), repeat=L - 2)), dtype=np.int64)
    a = np.empty((len(tail), L), dtype=np.int64)
    a[:, 0], a[:, 1], a[:, 2:] = head // C, head % C, tail
    return a


def _bench_errors(problem: Problem, archs: np.ndarray, flops: np.ndarray, param_bytes: np.ndarray) -> np.ndarray:
    """The bench estimator's error for many architectures at once: the surrogate on
    edgenas.bench.surrogate.design_arrays (FLOPs and parameter counts rounded as edgenas.bench.build.features
    rounds them), and the estimator itself for every architecture the benchmark file holds (trained, or planned
    with stored features)."""
    surrogate = problem.estimator.oracle.surrogate("val_acc")
    flops = np.floor(flops)
    params = np.floor(param_bytes) // 4
    err = 1.0 - surrogate.predict_matrix(design_arrays(problem.space, archs, flops, params))[0]
    held = problem.info.get("_held") or problem.info.setdefault("_held", _held_codes(problem))
    codes = archs @ (problem.space.num_candidates ** np.arange(problem.space.num_layers - 1, -1, -1))
    hit = np.flatnonzero(np.isin(codes, held[0]))
    if len(hit):
        err[hit] = held[1][np.searchsorted(held[0], codes[hit])]
    return err


def _held_codes(problem: Problem):
    space = problem.space
    archs = np.array([space.parse(r.arch) for r in problem.estimator.oracle.bench.records], dtype=np.int64)
    codes = archs @ (space.num_candidates ** np.arange(space.num_layers - 1, -1, -1))
    order = np.argsort(codes)
    return codes[order], problem.estimator.evaluate(archs)[order]


def _errors(problem: Problem, archs: np.ndarray) -> np.ndarray:
    """The estimator's errors of many architectures, vectorised (millions per minute)."""
    if problem.kind != "bench":
        return problem.estimator.evaluate(archs)  # the oracle is vectorised already
    out = np.empty(len(archs))
    for i in range(0, len(archs), 65536):  # bounds the design matrix
        a = archs[i:i + 65536]
        p = problem.spec.targets[0].cost.predict(a)
        out[i:i + len(a)] = _bench_errors(problem, a, p.flops, p.param_bytes)
    return out


def check_bulk_errors(problem: Problem, n: int = 3000, seed: int = 0) -> float:
    """Largest difference between the bulk errors used for the reference and the estimator's own answers, on
    ``n`` random architectures and every one the benchmark file holds."""
    rng = np.random.default_rng(seed)
    archs = rng.integers(0, problem.space.num_candidates, size=(n, problem.space.num_layers))
    if problem.kind == "bench":
        held = np.array([problem.space.parse(r.arch) for r in problem.estimator.oracle.bench.records])
        archs = np.vstack([archs, held])
    return float(np.max(np.abs(_errors(problem, archs) - problem.estimator.evaluate(archs))))


def enumerate_fronts(problems: Sequence[Problem], max_feasible: int) -> Dict[str, dict]:
    """The exact feasible front of each problem (same space, table and estimator, different budgets) whose
    feasible set holds at most ``max_feasible`` architectures: latency of every architecture of the space from
    the cost model (cheap), the estimator on the feasible ones. Problems above the limit are left out."""
    p0 = problems[0]
    space, cost = p0.space, p0.spec.targets[0].cost
    C = space.num_candidates
    count = {p.name: 0 for p in problems}
    eligible = sorted(problems, key=lambda p: p.budget_ms)
    kept = []
    t0 = time.perf_counter()
    for head in range(C * C):
        a = _all_archs(space, head)
        lat = cost.predict(a).latency_ms
        for p in problems:
            count[p.name] += int((lat <= p.budget_ms).sum())
        eligible = [p for p in eligible if count[p.name] <= max_feasible]
        if eligible:
            kept.append(a[lat <= eligible[-1].budget_ms])
    top = eligible[-1].budget_ms if eligible else 0.0
    archs = np.concatenate(kept) if kept else np.empty((0, space.num_layers), dtype=np.int64)
    archs = archs[cost.predict(archs).latency_ms <= top] if len(archs) else archs
    lat = cost.predict(archs).latency_ms if len(archs) else np.empty(0)
    err = _errors(p0, archs) if len(archs) else np.empty(0)
    seconds = time.perf_counter() - t0
    out = {}
    for p in eligible:
        ok = np.flatnonzero(lat <= p.budget_ms)
        front = ok[_front_2d(err[ok], lat[ok])]
        tracker = p.tracker()
        tracker.observe([], {"error": err[front], p.latency_key: lat[front]})
        out[p.name] = {"how": "exact: every architecture of the space enumerated (latency from the cost model, "
                              "the estimator on every feasible one)",
                       "hypervolume": tracker.hypervolume, "best_accuracy": float(1.0 - err[front].min()),
                       "front_points": int(len(front)), "feasible": count[p.name],
                       "architectures": C ** space.num_layers, "enumeration_s": seconds}
    for p in problems:
        if p.name not in out:
            out[p.name] = {"how": f"union of the fronts of every run (the space has {count[p.name]:,} feasible "
                                  f"architectures, more than --max-enumerate {max_feasible:,})",
                           "feasible": count[p.name], "architectures": C ** space.num_layers}
    return out


def _cache_key(problems: Sequence[Problem], max_feasible: int) -> str:
    p0 = problems[0]
    ident = {"max_feasible": max_feasible, "space": p0.space.fingerprint, "table": table_digest(p0.spec.targets[0].cost),
             "estimator": p0.estimator.describe(), "budgets": sorted(p.budget_ms for p in problems)}
    if p0.kind == "bench":  # the file changes while the benchmark grows: key on its bytes
        ident["bench_sha"] = hashlib.sha256(Path(p0.info["bench_file"]).read_bytes()).hexdigest()[:16]
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:16]


def attach_reference(problems: Sequence[Problem], cache_dir: Path, max_feasible: int, log=print) -> None:
    """Fill each problem's ``reference`` (enumerated once per space/table/estimator/budget, cached one file per
    problem in ``cache_dir``; the missing ones of a family are enumerated in one pass); a problem with too many
    feasible architectures gets {"how": "union ..."}, its figures filled after the runs."""
    paths = {p.name: Path(cache_dir) / f"compare_reference.{p.kind}.{_cache_key([p], max_feasible)}.json"
             for p in problems}
    missing = [p for p in problems if not paths[p.name].exists()]
    if missing:
        diff = check_bulk_errors(missing[0])
        if diff > 1e-6:
            raise RuntimeError(f"bulk errors differ from the estimator's by {diff:.3g}: the reference would not be "
                               f"the front of the problem the strategies search")
        log(f"enumerating {missing[0].kind} ({missing[0].info['architectures']:,} architectures; bulk errors "
            f"match the estimator within {diff:.1e})...")
        refs = enumerate_fronts(missing, max_feasible)
        for p in missing:
            paths[p.name].parent.mkdir(parents=True, exist_ok=True)
            paths[p.name].write_text(json.dumps({p.name: {**refs[p.name], "bulk_check_max_abs_diff": diff}}, indent=1))
        log(f"  {max(r.get('enumeration_s', 0) for r in refs.values()):.0f} s, cached in {Path(cache_dir)}")
    for p in problems:
        p.reference = json.loads(paths[p.name].read_text())[p.name]
