"""NSGA-II against the exact Pareto front of a space small enough to enumerate, and against random search.

Space: benchmarks/data/fbnet-small6.space.json (fbnet-small cut to 6 searchable layers x 9 candidates =
531,441 architectures), profiled on this machine's CPU (onnxruntime, 1 thread) into
benchmarks/data/fbnet-small6.ort-cpu.json the same way as any table. Accuracy: the deterministic
SyntheticOracle (edgenas.search.estimators). Objectives: error and predicted CPU latency (optionally a budget).

Hypervolume is the tool's own (pymoo HV, objectives scaled by fixed space bounds, reference 1.1) over every
feasible architecture evaluated so far; budgets count distinct architectures evaluated.

    PYTHONPATH=. python benchmarks/nsga_ground_truth.py --seeds 5 --budget 5000
"""
from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np

from edgenas.tables.cost import CostModel
from edgenas.search.estimators import SyntheticOracle
from edgenas.search.runners import InProcessRunner
from edgenas.search.runstore import MemoryRunStore
from edgenas.search.problem import ObjectiveSpec, Target
from edgenas.search.run import FrontTracker, feasible, run_generations
from edgenas.arch.space import get_space
from edgenas.tables.table import LatencyTable

HERE = Path(__file__).resolve().parent


def exact_front(spec: ObjectiveSpec, oracle: SyntheticOracle):
    """Enumerate the space: exact hypervolume and the set of Pareto-optimal architecture strings."""
    space = spec.space
    A = np.array(list(itertools.product(range(space.num_candidates), repeat=space.num_layers)), dtype=np.int64)
    tracker = FrontTracker(spec)
    err = np.empty(len(A))
    lat = np.empty(len(A))
    for i in range(0, len(A), 131072):
        a = A[i:i + 131072]
        v = spec.costs(a)
        v["error"] = oracle.evaluate(a)
        tracker.observe([], v)
        err[i:i + len(a)], lat[i:i + len(a)] = v["error"], v[spec.targets[0].key]
    ok = feasible(spec, {"error": err, spec.targets[0].key: lat})
    idx = np.flatnonzero(ok)
    order = idx[np.lexsort((err[idx], lat[idx]))]
    best, front = np.inf, []
    for i in order:  # 2-objective sweep: by latency, keep strictly better error
        if err[i] < best:
            best = err[i]
            front.append(space.format(A[i]))
    return tracker.hypervolume, set(front), len(A)


def curve_at(history, budgets):
    """HV after k distinct evaluations (step function over generations)."""
    n = np.array([g["evaluations"] for g in history])
    hv = np.array([g["hypervolume"] for g in history])
    out = []
    for b in budgets:
        i = np.searchsorted(n, b, side="right") - 1
        out.append(hv[i] if i >= 0 else np.nan)
    return np.array(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--budget", type=int, default=5000, help="distinct evaluations")
    ap.add_argument("--pop", type=int, default=64)
    ap.add_argument("--max-latency", type=float, default=None, help="ms")
    ap.add_argument("--out", default=str(HERE / "results" / "nsga_ground_truth"))
    args = ap.parse_args()

    space = get_space(str(HERE / "data" / "fbnet-small6.space.json"))
    table = LatencyTable.load(HERE / "data" / "fbnet-small6.ort-cpu.json", space=space)
    cost = CostModel(space, table)
    spec = ObjectiveSpec([Target("cpu", cost, max_latency_ms=args.max_latency)])
    oracle = SyntheticOracle(space, cost.matrix["flops"], seed=0)

    t0 = time.perf_counter()
    hv_exact, front_exact, size = exact_front(spec, oracle)
    t_enum = time.perf_counter() - t0
    print(f"enumerated {size} architectures in {t_enum:.1f} s: exact front {len(front_exact)} points, "
          f"HV {hv_exact:.6f}")

    gens = -(-args.budget // args.pop) + 2  # pymoo evaluations >= budget distinct ones
    budgets = np.arange(args.pop, args.budget + 1, args.pop)
    runs = {"nsga2": [], "random": []}
    for seed in range(args.seeds):
        for strategy in runs:
            t = time.perf_counter()
            # random search gets an independent seed: NSGA-II's first generation is the same kind of sample
            res = run_generations(spec, oracle, MemoryRunStore({}), InProcessRunner(), strategy=strategy, pop=args.pop,
                             gens=gens, seed=seed if strategy == "nsga2" else 10_000 + seed)
            dt = time.perf_counter() - t
            curve = curve_at(res.history, budgets) / hv_exact
            found = sum(1 for g in res.history if g["evaluations"] <= args.budget)
            reach = next((g["evaluations"] for g in res.history if g["hypervolume"] >= 0.99 * hv_exact), None)
            runs[strategy].append({"seed": seed, "curve": curve.tolist(), "evals_to_99": reach,
                                   "ratio_at_budget": float(curve[-1]), "seconds": dt,
                                   "generations_within_budget": found,
                                   "front_recovered": len({r.arch for r in res.front} & front_exact)})
            print(f"{strategy:7s} seed {seed}: HV ratio at {budgets[-1]} = {curve[-1]:.4f}, 0.99 reached at "
                  f"{reach} evaluations, {runs[strategy][-1]['front_recovered']}/{len(front_exact)} exact front "
                  f"points found (whole run, {res.evaluated} distinct), {dt:.1f} s")

    nsga = np.array([r["curve"] for r in runs["nsga2"]])
    rnd = np.array([r["curve"] for r in runs["random"]])
    after_init = budgets > args.pop
    wins = (nsga[:, after_init] > rnd[:, after_init])
    med_n, med_r = np.median(nsga, 0), np.median(rnd, 0)
    summary = {
        "space": space.name, "architectures": size, "table": str(table.header["device"]),
        "max_latency_ms": args.max_latency, "exact_front_points": len(front_exact), "exact_hv": hv_exact,
        "enumeration_s": t_enum, "seeds": args.seeds, "pop": args.pop, "budget": args.budget,
        "budgets": budgets.tolist(),
        "nsga2_median_ratio_at_budget": float(np.median(nsga[:, -1])),
        "random_median_ratio_at_budget": float(np.median(rnd[:, -1])),
        "nsga2_evals_to_99": [r["evals_to_99"] for r in runs["nsga2"]],
        "random_evals_to_99": [r["evals_to_99"] for r in runs["random"]],
        "nsga2_beats_random_share": float(wins.mean()),
        "nsga2_beats_random_every_budget_every_seed": bool(wins.all()),
        "median_nsga2_beats_median_random_every_budget": bool((med_n[after_init] > med_r[after_init]).all()),
        "runs": runs,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(summary, indent=1))

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, arr, c in (("NSGA-II", nsga, "tab:red"), ("random search", rnd, "tab:blue")):
        ax.plot(budgets, np.median(arr, 0), c=c, label=f"{name} (median of {args.seeds} seeds)")
        ax.fill_between(budgets, arr.min(0), arr.max(0), color=c, alpha=0.2)
    ax.axhline(0.99, c="k", ls="--", lw=1, label="0.99 of the exact front's HV")
    ax.set_xlabel("distinct architectures evaluated")
    ax.set_ylabel("hypervolume / exact hypervolume")
    ax.set_title(f"{space.name}: {size:,} architectures, exact front by enumeration")
    ax.set_ylim(max(0.0, min(nsga.min(), rnd.min()) - 0.02), 1.005)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=110)
    print(json.dumps({k: v for k, v in summary.items() if k not in ("runs", "budgets")}, indent=1))


if __name__ == "__main__":
    main()
