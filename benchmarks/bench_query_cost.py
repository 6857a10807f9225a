"""CPU time of one query of the benchmark estimator for an architecture it did not train, asked one at a time as
a search asks: ``evaluate`` (error) and ``train_seconds`` (Neural Architect's second target).

    PYTHONPATH=. python benchmarks/bench_query_cost.py --bench edgenas/bench/data/fbnet-small.mnist5k.json

Run it from two checkouts (before and after a change) to compare; the surrogates' fits are made (or read from
the cache) before timing.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from edgenas.bench.benchfile import Benchmark
from edgenas.bench.build import space_tables
from edgenas.search.estimators import BenchmarkEstimator

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", default=str(ROOT / "edgenas" / "bench" / "data" / "fbnet-small.mnist5k.json"))
    ap.add_argument("--table", default="fbnet-small.onnxruntime.cpu1.json", help="file name in latency_tables/")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default=None, help="JSON of the figures (default: print only)")
    args = ap.parse_args(argv)
    space = Benchmark.load(args.bench).space
    tables = [t for t in space_tables(space, ROOT / "latency_tables") if t[0] == args.table]
    est = BenchmarkEstimator(args.bench, tables, space)
    archs = [a for a in space.sample(4 * args.queries, args.seed)
             if est.oracle.bench.get(space.format(a)) is None][:args.queries + 1]
    est.evaluate(archs[0][None])
    est.train_seconds(archs[0][None])          # both surrogates fitted (or loaded) before timing
    out = {"bench": args.bench, "trained": len(est.oracle.bench.trained()), "queries": len(archs) - 1,
           "load_avg": os.getloadavg()}
    for name, f in (("evaluate", est.evaluate), ("train_seconds", est.train_seconds)):
        c = time.process_time()
        for a in archs[1:]:
            f(a[None])
        out[f"{name}_cpu_ms"] = 1e3 * (time.process_time() - c) / (len(archs) - 1)
        print(f"{name}: {out[f'{name}_cpu_ms']:.2f} ms CPU per untrained architecture, one at a time")
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
