"""NASH on fbnet-small: accuracy and predicted latency per hill-climbing step, and the CPU time it took.

Runs the ``nash`` strategy through the common search entry into a run folder (rerun to resume),
prints one line per step (the kept network, its validation accuracy and predicted latency, how many
children were trained), the final network's accuracy on the held-out test split, and the process's
total CPU time.

    python benchmarks/nash_run.py --dataset animals --max-latency 0.09 --out /tmp/nash-animals
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from edgenas.arch.space import get_space
from edgenas.search.members import MemberStore
from edgenas.search.setup import search
from edgenas.train.brief import evaluate
from edgenas.train.data import load_images, make_splits

TABLE = Path(__file__).resolve().parents[1] / "latency_tables" / "fbnet-small.onnxruntime.cpu1.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="animals")
    ap.add_argument("--table", default=str(TABLE))
    ap.add_argument("--max-latency", type=float, default=0.09, help="Budget in ms on the table.")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--children", type=int, default=3)
    ap.add_argument("--morphisms", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--start-epochs", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    cpu0, wall0 = time.process_time(), time.perf_counter()
    config = {"steps": args.steps, "children": args.children, "morphisms": args.morphisms, "epochs": args.epochs,
              "start_epochs": args.start_epochs, "threads": args.threads}
    doc = search("nash", [args.table], args.out, dataset=args.dataset, max_latency_ms=[args.max_latency],
                 config=config, seed=args.seed, plot=True)
    table = doc["sources"]["tables"][0]["name"]
    print(f"{'step':>4} {'val acc':>8} {'latency ms':>10} {'children':>8} {'train s':>8}  kept architecture")
    for h in doc["history"]:
        print(f"{h['step']:>4} {h['val_acc']:8.4f} {h['latency_ms'][table]:10.4f} {len(h['children']):>8} "
              f"{h['train_s_total']:8.1f}  {h['parent']}")
    last = doc["history"][-1]
    space = get_space("fbnet-small")
    _, net = MemberStore(Path(args.out), space).load(last["parent_id"], last["parent"])
    torch.set_num_threads(args.threads)
    test = evaluate(net, make_splits(load_images(args.dataset), seed=args.seed).test)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    summary = {"dataset": args.dataset, "budget_ms": args.max_latency, "networks_trained": doc["evaluated"],
               "stopped_by": doc["details"]["stopped_by"], "final": last["parent"], "final_val_acc": last["val_acc"],
               "final_test_acc": test.accuracy, "final_latency_ms": last["latency_ms"][table],
               "front_size": len(doc["front"]), "train_s_total": doc["details"]["train_s_total"],
               "cpu_s_this_process": cpu, "wall_s_this_process": wall}
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
