"""One edgenas strategy on one problem of the strategy comparison (compare_strategies.py), seeds 0..N-1: median HV
share and best accuracy at a few checkpoints, median overhead (CPU) per evaluation. For before/after checks of one
strategy (run it from two checkouts) and for NSGA-II's operator variants (``--nsga-variant``, issue 15: why it
trailed optuna's NSGAIISampler), which are monkeypatched here, not options of the strategy.

    PYTHONPATH=. python benchmarks/compare_one.py --problem oracle --strategy nsga2 --option pop=50 \\
        --nsga-variant reset-mutation --workdir /tmp/compare-runs

The problem's reference front is read from (or enumerated into) ``<workdir>/cache``, as compare_strategies.py does.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):   # as compare_strategies.py
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import compare_problems as cp  # noqa: E402
import compare_strategies as cs  # noqa: E402
from compare_runners import run_edgenas  # noqa: E402

VARIANTS = {
    "reset-mutation": "mutation re-draws a gene among all its candidates (it may keep its value), as optuna's",
    "mutation-2": "mutation probability 2/layers per gene instead of 1/layers",
    "crossover-1": "crossover always (probability 1 instead of 0.9)",
    "crossover-0.5": "crossover with probability 0.5",
    "rank-tournament": "parents by rank, then crowding (pymoo's comp_by_rank_and_crowding)",
    "history-duplicates": "offspring refused when they repeat any architecture generated before, not only the population",
}


def patch_nsga2(variants) -> None:
    """Replace the NSGA-II the search builds by one with the given operator variants."""
    import edgenas.search.run as run_mod
    from edgenas.search import algorithms as alg
    from edgenas.search.problem import CategoricalMutation, GenomeDuplicateElimination
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.operators.crossover.ux import UniformCrossover

    class ResetMutation(CategoricalMutation):
        def _do(self, problem, X, *args, random_state=None, **kwargs):
            X = np.asarray(X).astype(np.int64, copy=True)
            n_cat = (np.asarray(problem.xu) - np.asarray(problem.xl) + 1).astype(np.int64)
            mask = random_state.random(X.shape) < np.reshape(self.get_prob_var(problem, size=len(X)), (-1, 1))
            draw = np.floor(random_state.random(X.shape) * n_cat).astype(np.int64)
            X[mask] = draw[mask]
            return X

    class HistoryElimination(GenomeDuplicateElimination):
        def __init__(self):
            super().__init__()
            self.history = set()

        def _seen(self, other):
            return super()._seen(other) | self.history

        def do(self, pop, *args, **kwargs):
            out = super().do(pop, *args, **kwargs)
            self.history |= set(self._keys(out))
            return out

    def make_algorithm(strategy, pop_size, seeds=()):
        if strategy != "nsga2":
            return alg.make_algorithm(strategy, pop_size, seeds)
        cx = 1.0 if "crossover-1" in variants else 0.5 if "crossover-0.5" in variants else 0.9
        rate = None
        if "mutation-2" in variants:
            rate = 2.0 / len(seeds[0]) if len(seeds) else None
        mutation = (ResetMutation if "reset-mutation" in variants else CategoricalMutation)(prob_var=rate)
        kw = {"tournament_type": "comp_by_rank_and_crowding"} if "rank-tournament" in variants else {}
        return NSGA2(pop_size=pop_size, sampling=alg.SeededSampling(seeds), crossover=UniformCrossover(prob=cx),
                     mutation=mutation, eliminate_duplicates=HistoryElimination() if "history-duplicates" in variants
                     else GenomeDuplicateElimination(), **kw)

    run_mod.make_algorithm = make_algorithm


def value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problem", choices=("oracle", "bench"), required=True)
    ap.add_argument("--strategy", required=True)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--evaluations", type=int, default=1000)
    ap.add_argument("--budget-ms", type=float, default=0.05)
    ap.add_argument("--bench", default=None, help="benchmark file (default: the one edgenas ships)")
    ap.add_argument("--option", action="append", default=[], metavar="NAME=VALUE", help="the strategy's own option")
    ap.add_argument("--nsga-variant", action="append", default=[], choices=sorted(VARIANTS))
    ap.add_argument("--checkpoints", default="200,500,900,1000")
    ap.add_argument("--workdir", default="/tmp/compare-runs")
    ap.add_argument("--out", default=None, help="JSON of the per-seed figures")
    args = ap.parse_args(argv)
    if args.nsga_variant:
        patch_nsga2(set(args.nsga_variant))
    options = {k: value(v) for k, v in (o.split("=", 1) for o in args.option)}
    fam = (cp.oracle_problems([args.budget_ms]) if args.problem == "oracle"
           else cp.bench_problems([args.budget_ms], args.bench))
    cp.attach_reference(fam, Path(args.workdir) / "cache", 2_000_000, log=lambda *a: None)
    problem = fam[0]
    checkpoints = [int(k) for k in args.checkpoints.split(",")]
    rows, c0 = [], time.process_time()
    for seed in range(args.seeds):
        folder = Path(args.workdir) / f"one-{os.getpid()}"
        trace = run_edgenas(args.strategy, problem, seed, args.evaluations, folder, options)
        shutil.rmtree(folder, ignore_errors=True)
        r = cs.row_of(problem, args.strategy, seed, trace, checkpoints, args.evaluations)
        rows.append({"seed": seed, "hv_share": [h / problem.reference["hypervolume"] for h in r["hypervolume"]],
                     "best_accuracy": r["best_accuracy"], "overhead_cpu_ms_per_eval": r["overhead_cpu_ms_per_eval"]})
    med = {m: np.median([r[m] for r in rows], 0).tolist() for m in ("hv_share", "best_accuracy")}
    overhead = float(np.median([r["overhead_cpu_ms_per_eval"] for r in rows]))
    print(f"{problem.name} {args.strategy} {options or ''} {'+'.join(args.nsga_variant)} {args.seeds} seeds: HV "
          + " ".join(f"@{k} {v:.4f}" for k, v in zip(checkpoints, med["hv_share"])) + " | best "
          + " ".join(f"@{k} {v:.4f}" for k, v in zip(checkpoints, med["best_accuracy"]))
          + f" | overhead {overhead:.2f} ms CPU/eval | {time.process_time() - c0:.0f} s CPU, load {os.getloadavg()[0]:.1f}")
    out = {"problem": problem.name, "strategy": args.strategy, "options": options, "variants": args.nsga_variant,
           "checkpoints": checkpoints, "median": med, "median_overhead_cpu_ms_per_eval": overhead, "rows": rows}
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
