"""Regularized evolution against random search at equal distinct evaluations, on the synthetic oracle.

Both run through the one search entry (``edgenas.search.setup.search``) on the shipped fbnet-small table
under a latency budget; the figure is the best oracle accuracy among the feasible architectures evaluated,
per seed. A first check of issue 15's target ("beats random search at 200 evaluations in the median and in
>= 80 % of seeds"); the trained-architecture benchmark is not large enough yet to serve as the estimator.

    PYTHONPATH=. python benchmarks/evolution_vs_random.py --seeds 10 --evaluations 200
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgenas.search.setup import search  # noqa: E402

TABLE = ROOT / "latency_tables" / "fbnet-small.onnxruntime.cpu1.json"


def best_feasible(doc: dict) -> float:
    return max((r["accuracy"] for r in doc["front"]), default=0.0)  # nothing feasible found: 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--evaluations", type=int, default=200)
    ap.add_argument("--budget-ms", type=float, default=0.05)
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "evolution_vs_random.json"))
    args = ap.parse_args()
    n = args.evaluations
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            common = dict(estimator="oracle", max_latency_ms=[args.budget_ms], seed=seed, plot=False)
            t0 = time.perf_counter()
            evo = search("evolution", [TABLE], Path(tmp) / f"evo{seed}", config={"population": 40, "sample": 10,
                                                                               "cycles": n - 40}, **common)
            t1 = time.perf_counter()
            rnd = search("random", [TABLE], Path(tmp) / f"rnd{seed}", config={"pop": 20, "gens": n // 20}, **common)
            t2 = time.perf_counter()
            rows.append({"seed": seed, "evolution": best_feasible(evo), "evolution_evaluated": evo["evaluated"],
                         "random": best_feasible(rnd), "random_evaluated": rnd["evaluated"],
                         "evolution_s": t1 - t0, "random_s": t2 - t1})
            print(json.dumps(rows[-1]), flush=True)
    evo, rnd = np.array([r["evolution"] for r in rows]), np.array([r["random"] for r in rows])
    summary = {"evaluations": n, "budget_ms": args.budget_ms, "seeds": args.seeds,
               "median_evolution": float(np.median(evo)), "median_random": float(np.median(rnd)),
               "evolution_wins": int((evo > rnd).sum()), "ties": int((evo == rnd).sum()), "rows": rows}
    Path(args.json).write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: v for k, v in summary.items() if k != "rows"}))


if __name__ == "__main__":
    main()
