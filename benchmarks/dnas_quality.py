"""Quality and cost of the default DNAS search: search under a budget, then train the winner from scratch.

    PYTHONPATH=. python benchmarks/dnas_quality.py --table T --target-ms 0.06 --out-dir runs/bench-dnas-quality

The search uses the defaults of ``edgenas search --strategy dnas`` (mnist5k);
a rerun resumes the search and the training from their checkpoints. Reports
wall and CPU seconds per supernet epoch, the whole search time, and the test
accuracy of the found architecture trained from scratch on the held-out
MNIST-5k split (the split the search never saw: same seed).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from edgenas.fileio import atomic_write_json
from edgenas.train.final import train_architecture
from edgenas.search.setup import search
from edgenas.tables.table import LatencyTable
from edgenas.train.loop import TrainConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--table", required=True)
    ap.add_argument("--dataset", default="mnist5k")
    ap.add_argument("--target-ms", type=float, default=None, help="latency budget (target mode)")
    ap.add_argument("--train-epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (1 on a shared machine)")
    ap.add_argument("--out-dir", default="runs/bench-dnas-quality")
    args = ap.parse_args()
    out = Path(args.out_dir)

    t0 = time.perf_counter()
    search("dnas", [args.table], out / "search", dataset=args.dataset, seed=args.seed,
           config={"threads": args.threads}, max_latency_ms=[args.target_ms] if args.target_ms else [])
    res = json.loads((out / "search" / "dnas.json").read_text())
    search_wall = time.perf_counter() - t0
    hist = json.loads((out / "search" / "history.json").read_text())
    best = res["selected"]
    print(f"search: {best['arch']}  {best['latency_ms']:.4g} ms  ({search_wall:.0f} s this session)", flush=True)

    t1 = time.perf_counter()
    tr = train_architecture(best["arch"], out / "train", space=LatencyTable.load(args.table).space(),
                            dataset=args.dataset,
                            cfg=TrainConfig(epochs=args.train_epochs, seed=args.seed), split_seed=args.seed,
                            threads=args.threads)
    summary = {
        "arch": best["arch"], "latency_ms": best["latency_ms"], "target_ms": args.target_ms,
        "memory_bytes": best["memory_bytes"], "mflops": best["flops"] / 1e6,
        "search_epochs": len(hist), "search_wall_s_total": float(sum(h["epoch_s"] for h in hist)),
        "search_cpu_s_total": float(sum(h["epoch_cpu_s"] for h in hist)),
        "warmup_epoch_wall_s_median": float(np.median([h["epoch_s"] for h in hist if h["phase"] == "warmup"] or [0])),
        "search_epoch_wall_s_median": float(np.median([h["epoch_s"] for h in hist if h["phase"] == "search"] or [0])),
        "weight_step_wall_s_median": float(np.median([h["weight_s"] for h in hist])),
        "arch_step_wall_s_median": float(np.median([h["arch_s"] for h in hist if h["phase"] == "search"] or [0])),
        "threads": res["threads"], "test_acc": tr["test_acc"], "best_test_acc": tr["best_test_acc"],
        "test_images": tr["test_images"], "train_epochs": tr["epochs"], "train_wall_s": time.perf_counter() - t1,
    }
    atomic_write_json(out / "summary.json", summary)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
