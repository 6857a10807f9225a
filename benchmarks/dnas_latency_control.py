"""Latency control of the DNAS search: a sweep of latency budgets (target mode) or of β.

For each point one search runs on the small preset; the script records the
predicted latency of the architecture the search returns (in target mode the
most likely one within [0.9 · budget, budget]; the plain argmax of θ is
recorded beside it) and checks the targets of
issue 3: the latencies fall monotonically as the budget (or β) tightens, span
at least 2x, and in target mode each lands within ±10 % of its budget.

    PYTHONPATH=. python benchmarks/dnas_latency_control.py --table T --mode target --out-dir runs/bench-latency

Budgets default to the fastest architecture's latency times 1.4, 1.9, 2.5 and 3.2.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from edgenas.tables.cost import CostModel
from edgenas.fileio import atomic_write_json
from edgenas.arch.space import get_space
from edgenas.search.setup import search
from edgenas.tables.table import LatencyTable


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--table", required=True)
    ap.add_argument("--space", default="fbnet-small")
    ap.add_argument("--dataset", default="mnist5k")
    ap.add_argument("--mode", choices=["target", "beta"], default="target")
    ap.add_argument("--factors", type=float, nargs="+", default=[1.4, 1.9, 2.5, 3.2],
                    help="target mode: budgets as multiples of the fastest architecture's latency")
    ap.add_argument("--betas", type=float, nargs="+", default=[0.0, 2.0, 6.0, 15.0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--warmup-epochs", type=int, default=2)
    ap.add_argument("--max-batches", type=int, default=10, help="per epoch and split (cost of the sweep)")
    ap.add_argument("--theta-lr", type=float, default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out-dir", default="runs/bench-dnas-latency")
    args = ap.parse_args()

    space = get_space(args.space)
    cost = CostModel(space, LatencyTable.load(args.table, space=space))
    fastest = cost.fastest()[1]
    points = ([("target_ms", round(fastest * f, 5)) for f in args.factors] if args.mode == "target"
              else [("beta", b) for b in args.betas])
    rows = []
    for name, value in points:
        opts = {"warmup_epochs": args.warmup_epochs, "max_batches": args.max_batches, "epochs": args.epochs,
                "theta_lr": args.theta_lr, "threads": args.threads, **({"beta": value} if name == "beta" else {})}
        out = Path(args.out_dir) / f"{args.mode}-{value:g}"
        t0 = time.perf_counter()
        search("dnas", [args.table], out, dataset=args.dataset, config=opts,
               max_latency_ms=[value] if name == "target_ms" else [])
        res = json.loads((out / "dnas.json").read_text())
        best, argmax = res["selected"], res["most_likely"]
        row = {name: value, "arch": best["arch"], "latency_ms": best["latency_ms"],
               "memory_bytes": best["memory_bytes"], "mflops": best["flops"] / 1e6, "probability": best["probability"],
               "argmax_arch": argmax["arch"], "argmax_latency_ms": argmax["latency_ms"],
               "argmax_probability": argmax["probability"], "wall_s": time.perf_counter() - t0,
               "final_betas": res["betas"]}
        if name == "target_ms":
            row["error"] = best["latency_ms"] / value - 1
            row["argmax_error"] = argmax["latency_ms"] / value - 1
        rows.append(row)
        print(json.dumps(row), flush=True)
    lat = [r["latency_ms"] for r in rows]
    # Tighter budget or larger β must give a faster architecture.
    ordered = lat if args.mode == "target" else lat[::-1]
    summary = {
        "mode": args.mode, "fastest_ms": fastest, "rows": rows,
        "monotonic": all(a < b for a, b in zip(ordered, ordered[1:])),
        "span": max(lat) / min(lat),
        "all_within_10pct": all(abs(r["error"]) <= 0.10 for r in rows) if args.mode == "target" else None,
        "argmax_within_10pct": sum(abs(r["argmax_error"]) <= 0.10 for r in rows) if args.mode == "target" else None,
        "settings": vars(args),
    }
    atomic_write_json(Path(args.out_dir) / f"summary-{args.mode}.json", summary)
    print(f"monotonic {summary['monotonic']}  span {summary['span']:.2f}x  "
          f"within ±10 %: {summary['all_within_10pct']}")


if __name__ == "__main__":
    main()
