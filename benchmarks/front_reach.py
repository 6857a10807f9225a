"""How far the quickstart's search reaches toward its latency budget, over one benchmark file or another.

For each quickstart run folder given (its fresh table and its budget, from ``search/config.json``), reruns the
quickstart's search stage (NSGA-II at its default size, the run's seed) over each ``--bench`` file, and reports
the front's most accurate member: its predicted latency as a share of the budget, the benchmark's estimate, and
its trained test accuracy where the benchmark trained it. A search takes seconds; nothing is trained.

    PYTHONPATH=. python benchmarks/front_reach.py /tmp/qs5auto/seed{0,1,2,3,4} \
        --bench edgenas/bench/data/fbnet-small.mnist5k.json --bench /tmp/grow/fbnet-small.mnist5k.json \
        --out benchmarks/results/front_reach.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def reach(run: Path, bench: Path, work: Path) -> dict:
    from edgenas.bench.benchfile import Benchmark
    from edgenas.search.setup import search

    config = json.loads((run / "search" / "config.json").read_text())["config"]
    budget = config["tables"][0]["max_latency_ms"]
    out = work / f"{run.name}-{bench.parent.name}"
    search("nsga2", [run / "table.json"], out, config={}, max_latency_ms=[budget], estimator=f"bench:{bench}",
           seed=config["seed"], dataset=config["dataset"])
    front = json.loads((out / "result.json").read_text())["front"]
    top = max(front, key=lambda m: m["accuracy"])
    trained = Benchmark.load(bench).get(top["arch"])
    return {"run": str(run), "bench": str(bench), "budget_ms": budget, "front": len(front), "arch": top["arch"],
            "latency_ms": top["latency_ms"]["table"], "share_of_budget": top["latency_ms"]["table"] / budget,
            "estimate": top["accuracy"],
            "test_acc": trained.mean("test_acc") if trained is not None and trained.runs else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="quickstart run folders")
    ap.add_argument("--bench", action="append", type=Path, required=True, help="a benchmark file (repeatable)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "front_reach.json")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for run in args.runs:
            for bench in args.bench:
                row = reach(run, bench, Path(work))
                rows.append(row)
                acc = "not trained" if row["test_acc"] is None else f"trained {100 * row['test_acc']:.2f} %"
                print(f"{run.name} {bench}: front {row['front']}, most accurate at {row['latency_ms']:.4f} ms = "
                      f"{100 * row['share_of_budget']:.0f} % of the budget, estimate {100 * row['estimate']:.2f} % "
                      f"({acc}): {row['arch']}", flush=True)
    summary = {str(b): {"median_share_of_budget": statistics.median(r["share_of_budget"] for r in rows
                                                                     if r["bench"] == str(b))}
               for b in args.bench}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
