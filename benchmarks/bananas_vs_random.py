"""BANANAS against random search at equal distinct evaluations, and how many evaluations it needs to reach random
search's median at 1,000 (issue 15's targets).

Both run through the one search entry (``edgenas.search.setup.search``) on the shipped fbnet-small table under
each latency budget. Per seed: the best accuracy among the architectures evaluated that meet the budget (0 when
none does) — BANANAS's at ``--evaluations``, random search's at ``--evaluations`` and at ``--random-long``; and
the number of distinct evaluations after which BANANAS's best reached random search's median at ``--random-long``
(read from its per-round history; None when it never did within ``--evaluations``). Overhead per evaluation is
BANANAS's own time (the predictor's fits, candidates, acquisition; not the estimator) as the strategy reports it,
beside the wall and CPU (process) time per evaluation of the whole search — on a loaded machine the wall time is an
upper bound, the CPU time is the strategy's. ``--estimator bench`` runs it on the shipped benchmark of trained
architectures; ``--option NAME=VALUE`` sets one of BANANAS's options (e.g. ``steps_per_result=3``).

    PYTHONPATH=. python benchmarks/bananas_vs_random.py --seeds 20 --evaluations 200
    PYTHONPATH=. python benchmarks/bananas_vs_random.py --seeds 3 --evaluations 1000 --random-long 1000 --budgets-ms 0.08
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

# one BLAS thread, as compare_strategies.py: the predictor's matrices are small and the cores are shared
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402  (after the thread settings, which BLAS reads when loaded)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgenas.search.setup import search  # noqa: E402

TABLE = ROOT / "latency_tables" / "fbnet-small.onnxruntime.cpu1.json"


def best_feasible(doc: dict) -> float:
    return max((r["accuracy"] for r in doc["front"]), default=0.0)  # nothing feasible found: 0


def evaluations_to_reach(history: list, accuracy: float):
    """The distinct evaluations after which the best feasible accuracy first reached ``accuracy``."""
    for row in history:
        if row["best_violation"] == 0 and 1.0 - row["best_error"] >= accuracy - 1e-12:
            return row["evaluations"]
    return None


def options(args) -> dict:
    """BANANAS's options from ``--option NAME=VALUE`` (numbers as numbers)."""
    out = {}
    for item in args.option:
        name, _, text = item.partition("=")
        for cast in (int, float, str):
            try:
                out[name] = cast(text)
                break
            except ValueError:
                pass
    return out


def run_budget(budget: float, args, tmp: Path, save) -> dict:
    rows = []
    for seed in range(args.seed_start, args.seed_start + args.seeds):
        common = dict(estimator=args.estimator, max_latency_ms=[budget], seed=seed, plot=False)
        t0, c0 = time.perf_counter(), time.process_time()
        ban = search("bananas", [TABLE], tmp / f"ban{budget}-{seed}",
                     config={"evaluations": args.evaluations, **options(args)}, **common)
        t1, c1 = time.perf_counter(), time.process_time()
        rnd = search("random", [TABLE], tmp / f"rnd{budget}-{seed}",
                     config={"pop": 20, "gens": args.random_long // 20}, **common)
        rows.append({"seed": seed, "bananas": best_feasible(ban), "bananas_evaluated": ban["evaluated"],
                     "bananas_history": [(h["evaluations"], h["best_violation"], h["best_error"])
                                         for h in ban["history"]],
                     "random_long": best_feasible(rnd), "random_evaluated": rnd["evaluated"],
                     "bananas_s": t1 - t0, "bananas_cpu_s": c1 - c0,
                     "bananas_overhead_ms_per_evaluation": ban["details"]["overhead_ms_per_evaluation"]})
        # random search at BANANAS's number of evaluations: its own run of that length, same seed
        rnd_short = search("random", [TABLE], tmp / f"rnds{budget}-{seed}",
                           config={"pop": 20, "gens": args.evaluations // 20}, **common)
        rows[-1]["random"] = best_feasible(rnd_short)
        rows[-1]["random_short_evaluated"] = rnd_short["evaluated"]
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "bananas_history"}), flush=True)
        save(summarise(budget, args, rows))   # after every seed: a long run that is stopped keeps what it did
    return summarise(budget, args, rows)


def summarise(budget: float, args, rows: list) -> dict:
    ban, rnd = np.array([r["bananas"] for r in rows]), np.array([r["random"] for r in rows])
    target = float(np.median([r["random_long"] for r in rows]))
    reach = [evaluations_to_reach([{"evaluations": e, "best_violation": v, "best_error": err}
                                   for e, v, err in r["bananas_history"]], target) for r in rows]
    reached = [x for x in reach if x is not None]
    return {"budget_ms": budget, "evaluations": args.evaluations, "seeds": len(rows),
            "median_bananas": float(np.median(ban)), "median_random": float(np.median(rnd)),
            "bananas_wins": int((ban > rnd).sum()), "ties": int((ban == rnd).sum()),
            f"median_random_at_{args.random_long}": target,
            "evaluations_to_reach_it": reach,
            "median_evaluations_to_reach_it": float(np.median(reached)) if len(reached) == len(reach) else None,
            "seeds_reaching_it": len(reached),
            "overhead_ms_per_evaluation_median": float(np.median([r["bananas_overhead_ms_per_evaluation"]
                                                                  for r in rows])),
            "bananas_wall_s_per_evaluation_median": float(np.median([r["bananas_s"] / r["bananas_evaluated"]
                                                                     for r in rows])),
            "bananas_cpu_s_per_evaluation_median": float(np.median([r.get("bananas_cpu_s", np.nan)
                                                                    / r["bananas_evaluated"] for r in rows])),
            "rows": rows}


def merge(docs: list, args, out: Path) -> None:
    """One result file from several, per budget: the seeds' rows together, summarised again."""
    rows: dict = {}
    for doc in docs:
        for b in doc["budgets"]:
            rows.setdefault(b["budget_ms"], {}).update({r["seed"]: r for r in b["rows"]})
    results = [summarise(budget, args, [by_seed[s] for s in sorted(by_seed)]) for budget, by_seed in sorted(rows.items())]
    out.write_text(json.dumps({**{k: docs[0][k] for k in ("estimator", "table")}, "load_average": os.getloadavg(),
                               "cpus": os.cpu_count(), "merged_from": len(docs), "budgets": results}, indent=1))
    for r in results:
        print(json.dumps({k: v for k, v in r.items() if k != "rows"}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--seed-start", type=int, default=0, help="first seed (to split the seeds over processes)")
    ap.add_argument("--evaluations", type=int, default=200)
    ap.add_argument("--random-long", type=int, default=1000)
    ap.add_argument("--budgets-ms", type=float, nargs="+", default=[0.05, 0.08])
    ap.add_argument("--estimator", default="oracle")
    ap.add_argument("--option", action="append", default=[], metavar="NAME=VALUE", help="a BANANAS option")
    ap.add_argument("--json", default=None)
    ap.add_argument("--merge", nargs="+", metavar="JSON",
                    help="combine the seeds of result files of this script (runs split with --seed-start) into --json")
    args = ap.parse_args()
    out = Path(args.json or ROOT / "benchmarks" / "results" / f"bananas_vs_random.{args.estimator}.json")
    if args.merge:
        merge([json.loads(Path(f).read_text()) for f in args.merge], args, out)
        return
    results: list = []

    def save(partial: dict) -> None:
        doc = {"estimator": args.estimator, "table": TABLE.name, "options": options(args),
               "command": " ".join(sys.argv), "date": time.strftime("%Y-%m-%d %H:%M"), "load_average": os.getloadavg(),
               "cpus": os.cpu_count(), "budgets": results + [partial]}
        out.write_text(json.dumps(doc, indent=1))

    with tempfile.TemporaryDirectory(prefix="bananas-bench-") as tmp:
        for b in args.budgets_ms:
            results.append(run_budget(b, args, Path(tmp), save))
    for r in results:
        print(json.dumps({k: v for k, v in r.items() if k != "rows"}))


if __name__ == "__main__":
    main()
