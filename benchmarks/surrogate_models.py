"""Which model should the benchmark's surrogate be? Model families side by side on the trained architectures.

Each candidate is fitted on 4/5 of the benchmark's trained architectures and scored on the other fifth
(5 folds pooled, repeated over ``--repeats`` shuffles; medians reported): Kendall τ and MAE against
the mean test accuracy over each architecture's seeds, and Kendall τ within the uniform stratum, where
capacity alone does not separate the architectures. FLOPs alone is the baseline every model must beat.
Candidates: the ensemble of five MLPs the surrogate was until 2026-11-30 (one-hot + log FLOPs + log
parameters); gradient boosting, a random forest and extremely randomized trees (the surrogate until
2026-12-01) on the same inputs plus the depth; and on each layer's candidate as numbers (kernel, expansion,
groups, block: ``edgenas.bench.encoding.layer_args``) instead of one-hot, with the same three extra columns
(``edgenas.bench.surrogate.design_matrix``): extremely randomized trees, one gradient-boosted model, and the
surrogate, five boosted models. The tree models fit the accuracy's logit.

    PYTHONPATH=. python benchmarks/surrogate_models.py --bench edgenas/bench/data/fbnet-small.mnist5k.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgenas.bench.benchfile import Benchmark  # noqa: E402
from edgenas.bench.query import shipped  # noqa: E402
from edgenas.bench.stats import noise_ceiling  # noqa: E402
from edgenas.bench.encoding import one_hot  # noqa: E402
from edgenas.bench.surrogate import BoostedTrees, design_matrix, link  # noqa: E402
from edgenas.arch.space import get_space  # noqa: E402


class MlpEnsemble:
    """The surrogate until 2026-11-30: five scikit-learn MLPs (64, 64), L-BFGS to convergence, each from its own
    initialisation, on standardised inputs and target; the prediction is their mean."""

    def fit(self, x, y):
        from sklearn.neural_network import MLPRegressor

        sd = x.std(0)
        self.mu, self.sd = x.mean(0), np.where(sd > 1e-6, sd, 1.0)
        self.y = (y.mean(), y.std() + 1e-9)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.members = [MLPRegressor(hidden_layer_sizes=(64, 64), alpha=1e-3, solver="lbfgs", max_iter=2000, tol=1e-7,
                                         random_state=m).fit((x - self.mu) / self.sd, (y - self.y[0]) / self.y[1])
                            for m in range(5)]
        return self

    def predict(self, x):
        return np.mean([m.predict((x - self.mu) / self.sd) for m in self.members], 0) * self.y[1] + self.y[0]


def candidates():
    """name -> (make a regressor with fit/predict, inputs: "one-hot" (without the depth for the MLPs, which never
    read it) or "layer args", whether it fits the logit)."""
    from sklearn.ensemble import ExtraTreesRegressor, GradientBoostingRegressor, RandomForestRegressor

    class Surrogate:   # the surrogate's own model: the mean of its members
        def fit(self, x, y):
            self.m = BoostedTrees().fit(x, y)
            return self

        def predict(self, x):
            return self.m.predict_members(x).mean(0)

    def boosted():
        return GradientBoostingRegressor(n_estimators=400, max_depth=3, learning_rate=0.03, subsample=0.8,
                                         random_state=0)

    def extra_trees():
        return ExtraTreesRegressor(300, min_samples_leaf=2, random_state=0)

    return {
        "MLP ensemble (the surrogate until 2026-11-30)": (MlpEnsemble, "one-hot", False),
        "gradient boosting, one-hot": (boosted, "one-hot", True),
        "random forest, one-hot": (lambda: RandomForestRegressor(300, min_samples_leaf=2, random_state=0),
                                   "one-hot", True),
        "extremely randomized trees, one-hot (until 2026-12-01)": (extra_trees, "one-hot", True),
        "extremely randomized trees, layer args": (extra_trees, "layer args", True),
        "gradient boosting, layer args": (boosted, "layer args", True),
        "5 boosted models, layer args (the surrogate)": (Surrogate, "layer args", True),
    }


def cross_validate(make, x, y, uniform, logit: bool, repeats: int) -> dict:
    forward, inverse = link("test_acc") if logit else (lambda v: v, lambda v: v)
    rows = []
    for r in range(repeats):
        order = np.random.default_rng(r).permutation(len(y))
        pred = np.empty(len(y))
        for f in range(5):
            held = order[f::5]
            fit = np.setdiff1d(order, held)
            pred[held] = inverse(make().fit(x[fit], forward(y[fit])).predict(x[held]))
        rows.append((kendalltau(y, pred)[0], kendalltau(y[uniform], pred[uniform])[0], np.mean(np.abs(y - pred))))
    tau, uniform_tau, mae = np.median(np.array(rows), axis=0)
    return {"kendall_tau": float(tau), "uniform_tau": float(uniform_tau), "mae_points": float(100 * mae)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", default=None, help="benchmark file (default: the shipped fbnet-small one)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip", action="append", default=[], metavar="TEXT",
                    help="leave out the models whose name contains TEXT (e.g. MLP: about an hour on two cores)")
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "surrogate_models.json"))
    args = ap.parse_args()

    space = get_space("fbnet-small")
    bench = Benchmark.load(args.bench or shipped(space), space)
    recs = bench.trained()
    archs = np.array([space.parse(r.arch) for r in recs])
    x = design_matrix(space, archs, [r.features for r in recs])
    inputs = {"layer args": x, "one-hot": np.hstack([one_hot(space, archs), x[:, -3:]])}
    y = np.array([r.mean("test_acc") for r in recs])
    uniform = np.array([r.stratum == "uniform" for r in recs])
    flops = x[:, -3]
    rows = {"FLOPs alone": {"kendall_tau": float(kendalltau(y, flops)[0]),
                            "uniform_tau": float(kendalltau(y[uniform], flops[uniform])[0]), "mae_points": None}}
    print(f"{len(recs)} trained architectures ({uniform.sum()} uniform)", flush=True)
    for name, (make, kind, logit) in candidates().items():
        if any(text in name for text in args.skip):
            continue
        t0 = time.perf_counter()
        cols = inputs[kind] if logit else inputs[kind][:, :-1]          # the MLPs did not read the depth
        rows[name] = cross_validate(make, cols, y, uniform, logit, args.repeats)
        rows[name]["seconds"] = time.perf_counter() - t0
        print(f"{name:>56}: τ {rows[name]['kendall_tau']:.3f}  uniform τ {rows[name]['uniform_tau']:.3f}  "
              f"MAE {rows[name]['mae_points']:.2f} points  ({rows[name]['seconds']:.0f} s)", flush=True)
    out = {"command": " ".join(sys.argv), "bench": str(args.bench or shipped(space)), "architectures": len(recs),
           "trainings": sum(len(r.runs) for r in recs), "repeats": args.repeats,
           "seed_to_seed_tau": noise_ceiling(bench, "test_acc"), "models": rows}
    Path(args.json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
