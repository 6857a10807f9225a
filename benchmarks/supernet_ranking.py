"""How well a SPOS supernet ranks architectures whose from-scratch accuracy is known.

Trains a supernet of fbnet-small on MNIST-5k with the given SPOS options (the
run folder resumes), estimates every architecture of the ground-truth file with
the search's estimator (inherited weights, BatchNorm recalibrated on 4 batches,
the 800 validation images), and reports Kendall's tau against the accuracy each
architecture reached when trained from scratch with the deploy recipe, plus
whether the most accurate architectures are also the best estimated (the front's
accurate end is what a search under a generous budget needs to find).

The ground truth (``benchmarks/results/scratch_accuracy.json``) gathers the
models trained and tested by ``deploy_vs_baseline.py`` runs (10 epochs, batch
128, lr 0.05, SGD cosine, 4,000 training images, 1,000 test images).

    PYTHONPATH=. python benchmarks/supernet_ranking.py --out runs/rank-none --sandwich none
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgenas.train.data import load_images, make_splits  # noqa: E402
from edgenas.search.estimators import SupernetEstimator  # noqa: E402
from edgenas.arch.space import get_space  # noqa: E402
from edgenas.train.spos import SANDWICH, train_spos  # noqa: E402
from edgenas.train.supernet_io import load_supernet_run  # noqa: E402
from edgenas.train.loop import TrainConfig  # noqa: E402

TRUTH = ROOT / "benchmarks" / "results" / "scratch_accuracy.json"


def kendall_tau(a, b) -> float:
    """Kendall's tau-b of two sequences (ties in either count as neither concordant nor discordant)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    i, j = np.triu_indices(len(a), 1)
    sa, sb = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
    n0 = len(i)
    denom = np.sqrt((n0 - (sa == 0).sum()) * (n0 - (sb == 0).sum()))
    return float((sa * sb).sum() / denom) if denom else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="supernet run folder (resumed if it exists)")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--anchor-warmup", type=float, default=0.2)
    ap.add_argument("--sandwich", choices=SANDWICH, default="none")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="write the result here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    space = get_space("fbnet-small")
    truth = json.loads(TRUTH.read_text())["architectures"]
    t0 = time.perf_counter()
    history = train_spos(space, "mnist5k", args.out,
                         TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed),
                         anchor_warmup=args.anchor_warmup, sandwich=args.sandwich)
    train_s = time.perf_counter() - t0
    run = load_supernet_run(args.out)
    est = SupernetEstimator(run.supernet, make_splits(load_images("mnist5k"), seed=run.split_seed), bn_batches=4)
    rows = []
    for item in truth:
        arch = space.parse(item["arch"])
        estimate = 1.0 - float(est.evaluate(np.asarray([arch]))[0])
        rows.append({**item, "estimate": estimate})
    acc = [r["accuracy"] for r in rows]
    estimate = [r["estimate"] for r in rows]
    best_true = max(rows, key=lambda r: r["accuracy"])
    rank_of_best = sorted(estimate, reverse=True).index(best_true["estimate"]) + 1
    top = sorted(rows, key=lambda r: -r["accuracy"])[:4]
    result = {"command": " ".join(sys.argv), "options": vars(args), "train_s": round(train_s, 1),
              "last_epoch": history[-1], "kendall_tau": kendall_tau(acc, estimate),
              "kendall_tau_top": kendall_tau([r["accuracy"] for r in top], [r["estimate"] for r in top]),
              "most_accurate": best_true["arch"], "its_estimate_rank": rank_of_best, "rows": rows}
    for r in sorted(rows, key=lambda r: -r["accuracy"]):
        print(f"{r['arch']:<55} scratch {100 * r['accuracy']:5.1f} %  estimate {100 * r['estimate']:5.1f} %")
    print(f"tau {result['kendall_tau']:.2f} (top 4: {result['kendall_tau_top']:.2f}); most accurate is "
          f"estimated #{rank_of_best} of {len(rows)}; training {train_s:.0f} s, last epoch {history[-1]}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
