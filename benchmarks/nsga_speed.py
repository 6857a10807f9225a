"""Search throughput: evaluations per second through pymoo, and the supernet estimator's architectures per second.

1. Table objectives + SyntheticOracle on fbnet-small (8 layers x 9 candidates, 43M architectures): NSGA-II
   through pymoo with batched evaluation, in a MemoryRunStore and in the SQLite journal. Rate = pymoo
   evaluations (problem rows evaluated) per wall second of the whole search (operators, survival, HV,
   journal); distinct architectures per second is reported too.
2. SupernetEstimator on fbnet-small / mnist5k: BN recalibration on bn_batches x 256 training images plus the
   whole 800-image validation split, per architecture.

    PYTHONPATH=. python benchmarks/nsga_speed.py --table /tmp/nsga-small.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from edgenas.tables.cost import CostModel
from edgenas.train.data import load_images, make_splits
from edgenas.search.estimators import SupernetEstimator, SyntheticOracle
from edgenas.search.runners import InProcessRunner
from edgenas.search.runstore import MemoryRunStore, SQLiteRunStore
from edgenas.search.problem import ObjectiveSpec, Target
from edgenas.search.run import run_generations
from edgenas.arch.space import get_space
from edgenas.arch.supernet import Supernet
from edgenas.tables.table import LatencyTable

HERE = Path(__file__).resolve().parent


def search_rate(spec, oracle, store_kind: str, pop: int, gens: int, seed: int):
    with tempfile.TemporaryDirectory() as d:
        store = MemoryRunStore({}) if store_kind == "memory" else SQLiteRunStore.create(Path(d) / "j.sqlite", {})
        t = time.perf_counter()
        res = run_generations(spec, oracle, store, InProcessRunner(), strategy="nsga2", pop=pop, gens=gens, seed=seed)
        dt = time.perf_counter() - t
        store.close()
    return pop * gens / dt, res.evaluated / dt, dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--table", required=True, help="fbnet-small CPU table")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--supernet-archs", type=int, default=8)
    ap.add_argument("--out", default=str(HERE / "results" / "nsga_speed.json"))
    args = ap.parse_args()

    space = get_space("fbnet-small")
    cost = CostModel(space, LatencyTable.load(args.table, space=space))
    spec = ObjectiveSpec([Target("cpu", cost, max_latency_ms=0.1)], extra=("memory",))
    oracle = SyntheticOracle(space, cost.matrix["flops"])
    results = {"space": space.name, "objectives": spec.objectives, "search": []}
    for store_kind in ("memory", "sqlite"):
        for pop, gens in ((64, 60), (256, 20)):
            rates = [search_rate(spec, oracle, store_kind, pop, gens, seed) for seed in range(args.repeats)]
            row = {"store": store_kind, "pop": pop, "gens": gens,
                   "pymoo_evals_per_s_median": statistics.median(r[0] for r in rates),
                   "distinct_per_s_median": statistics.median(r[1] for r in rates),
                   "seconds": [round(r[2], 3) for r in rates]}
            results["search"].append(row)
            print(json.dumps(row))

    splits = make_splits(load_images("mnist5k"), seed=0)
    torch.manual_seed(0)
    net = Supernet(space)  # weights do not change the cost of an evaluation
    archs = space.sample(args.supernet_archs, seed=0)
    results["supernet"] = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        est = SupernetEstimator(net, splits, bn_batches=4, batch_size=256)
        est.evaluate(archs[:1])  # warm-up
        t = time.perf_counter()
        est.evaluate(archs)
        dt = time.perf_counter() - t
        row = {"threads": threads, "archs_per_s": len(archs) / dt, "bn_images": 4 * 256,
               "val_images": est.describe()["eval_images"]}
        results["supernet"].append(row)
        print(json.dumps(row))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
