"""Accuracy estimators side by side against the benchmark of trained architectures (issue 14, item 6).

Truth: each trained architecture's test accuracy, averaged over its seeds. Scored on the same
architectures: FLOPs and parameters (naive proxies), the synthetic oracle, two zero-cost proxies on
untrained networks (SynFlow, NASWOT; ``edgenas.bench.proxies``), a SPOS supernet when ``--supernet`` is
given (trained here with the quickstart's settings if the folder does not exist yet; it resumes), and the
benchmark's learned predictor (the surrogate's model) fitted on N trained architectures and scored
on the others, over ``--splits`` random splits, with and without the supernet's score as a feature, and
the search's default estimator (that surrogate fitted on all folds but the architecture's own). Beside them,
the seed-to-seed ceiling (how well one training ranks the architectures against another) and what a perfect
estimator could reach against these noisy means.

    PYTHONPATH=. python benchmarks/estimators_vs_bench.py --supernet runs/est-spos
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgenas.bench.benchfile import Benchmark  # noqa: E402
from edgenas.bench.proxies import PROXIES  # noqa: E402
from edgenas.bench.query import shipped  # noqa: E402
from edgenas.bench.recipe import Recipe, make_bench_splits  # noqa: E402
from edgenas.bench.stats import (noise_ceiling, perfect_estimator_ceiling, rank_scores,  # noqa: E402
                                 surrogate_cv_predictions)
from edgenas.bench.surrogate import BoostedTrees, design_matrix, link  # noqa: E402
from edgenas.arch.space import get_space  # noqa: E402
from edgenas.search.estimators import SupernetEstimator, SyntheticOracle  # noqa: E402
from edgenas.tables.cost import CostModel  # noqa: E402
from edgenas.tables.table import LatencyTable  # noqa: E402

TABLE = ROOT / "latency_tables" / "fbnet-small.onnxruntime.cpu1.json"


def supernet_scores(space, archs, folder: Path, dataset: str) -> np.ndarray:
    """Validation accuracy with inherited weights (the search's estimator), training the supernet first if needed."""
    from edgenas.quickstart import QuickstartConfig
    from edgenas.train.data import load_images, make_splits
    from edgenas.train.loop import TrainConfig
    from edgenas.train.spos import train_spos
    from edgenas.train.supernet_io import load_supernet_run

    q = QuickstartConfig()
    train_spos(space, dataset, folder, TrainConfig(epochs=q.supernet_epochs, batch_size=q.supernet_batch_size,
                                                   lr=q.supernet_lr, seed=0),
               anchor_warmup=q.supernet_anchor_warmup, sandwich=q.supernet_sandwich)
    run = load_supernet_run(folder)
    est = SupernetEstimator(run.supernet, make_splits(load_images(dataset), seed=run.split_seed),
                            bn_batches=q.bn_batches, threads=1)
    return 1.0 - est.evaluate(np.asarray(archs))


def learned(space, archs, feats, truth, n_train: int, splits: int, extra=None) -> dict:
    """The surrogate's predictor fitted on ``n_train`` architectures, scored on the rest; median over splits."""
    x = design_matrix(space, archs, feats)
    if extra is not None:
        x = np.hstack([x, np.asarray(extra, dtype=np.float64)[:, None]])
    rows = []
    forward, inverse = link("test_acc")
    for s in range(splits):
        order = np.random.default_rng(s).permutation(len(truth))
        fit, held = order[:n_train], order[n_train:]
        pred = inverse(BoostedTrees(seed=s).fit(x[fit], forward(truth[fit])).predict_members(x[held])).mean(0)
        rows.append(rank_scores(truth[held], pred))
    return {k: float(np.median([r[k] for r in rows])) for k in ("kendall_tau", "spearman", "top_precision")} | \
        {"n": int(len(truth) - n_train), "splits": splits}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", default=None, help="benchmark file (default: the shipped fbnet-small one)")
    ap.add_argument("--supernet", default=None, help="SPOS run folder (trained here if missing)")
    ap.add_argument("--splits", type=int, default=10)
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "estimators_vs_bench.json"))
    args = ap.parse_args()

    space = get_space("fbnet-small")
    bench = Benchmark.load(args.bench or shipped(space), space)
    recs = bench.trained()
    archs = np.array([space.parse(r.arch) for r in recs])
    feats = [r.features for r in recs]
    truth = np.array([r.mean("test_acc") for r in recs])
    uniform = np.array([r.stratum == "uniform" for r in recs])
    recipe = Recipe(**bench.header["recipe"])
    images = make_bench_splits(recipe).train.tensors[0][:64]

    scores, seconds = {}, {}

    def timed(name, fn):
        t0 = time.perf_counter()
        scores[name] = np.asarray(fn(), dtype=np.float64)
        seconds[name] = (time.perf_counter() - t0) / len(archs)
        print(f"{name}: {1000 * seconds[name]:.1f} ms per architecture", flush=True)

    timed("flops", lambda: [f["flops"] for f in feats])
    timed("params", lambda: [f["params"] for f in feats])
    flops = CostModel(space, LatencyTable.load(TABLE, space=space)).matrix["flops"]
    timed("oracle (synthetic)", lambda: 1.0 - SyntheticOracle(space, flops).evaluate(archs))
    for name, proxy in PROXIES.items():
        timed(name, lambda: [proxy(space, a, images) for a in archs])
    timed("benchmark surrogate, 5-fold held out (the search's default)",
          lambda: surrogate_cv_predictions(bench, "test_acc"))
    if args.supernet:
        timed("supernet (SPOS)", lambda: supernet_scores(space, archs, Path(args.supernet), recipe.dataset))

    rows = {}
    for name, s in scores.items():
        rows[name] = rank_scores(truth, s) | {"uniform_tau": rank_scores(truth[uniform], s[uniform])["kendall_tau"],
                                              "ms_per_arch": 1000 * seconds[name]}
    for n in (20, 50, 100):
        if len(truth) - n >= 10:
            rows[f"predictor N={n}"] = learned(space, archs, feats, truth, n, args.splits)
            if "supernet (SPOS)" in scores:
                rows[f"predictor N={n} + supernet"] = learned(space, archs, feats, truth, n, args.splits,
                                                              scores["supernet (SPOS)"])
    ceiling = noise_ceiling(bench, "test_acc")
    perfect = perfect_estimator_ceiling(bench, "test_acc")
    for name, r in rows.items():
        print(f"{name:>28}: τ {r['kendall_tau']:+.3f}  ρ {r['spearman']:+.3f}  top-10 % {r['top_precision']:.2f}"
              + (f"  uniform τ {r['uniform_tau']:+.3f}" if "uniform_tau" in r else f"  (held out: {r['n']})"))
    print(f"{'seed-to-seed ceiling':>28}: τ {ceiling:.3f}  ({len(recs)} trained architectures)")
    print(f"{'a perfect estimator':>28}: τ at most {perfect:.3f}")
    out = {"bench": str(args.bench or shipped(space).name), "architectures": len(recs), "ceiling_tau": ceiling,
           "perfect_estimator_tau": perfect, "estimators": rows}
    Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    plot(rows, ceiling, perfect, Path(args.json).with_suffix(".png"), len(recs))


def plot(rows: dict, ceiling: float, perfect: float, path: Path, n: int) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(rows)
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(names) + 1.2))
    ax.barh(names, [rows[k]["kendall_tau"] for k in names], color="tab:blue")
    ax.axvline(ceiling, color="tab:red", ls="--", label=f"seed-to-seed ceiling {ceiling:.2f}")
    ax.axvline(perfect, color="tab:green", ls=":", label=f"a perfect estimator, at most {perfect:.2f}")
    ax.set_xlabel(f"Kendall τ against trained test accuracy ({n} architectures)")
    ax.invert_yaxis()
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
