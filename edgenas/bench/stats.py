"""What a benchmark can tell apart: seed noise against the spread between architectures, and the rank
correlation that noise allows; the surrogate scored on held-out trained architectures."""
from __future__ import annotations

import itertools
from typing import Dict, Optional

import numpy as np
from scipy.stats import kendalltau, spearmanr

from .benchfile import Benchmark


def signal_to_noise(bench: Benchmark, metric: str = "test_acc", stratum: Optional[str] = None) -> Dict[str, float]:
    """Seed noise (pooled within-architecture standard deviation over the architectures trained with several
    seeds), the spread between architectures (standard deviation of their mean accuracies) and the ratio."""
    recs = [r for r in bench.trained() if stratum is None or r.stratum == stratum]
    multi = [r for r in recs if len(r.runs) > 1]
    noise = (float(np.sqrt(np.mean([np.var([x[metric] for x in r.runs.values()], ddof=1) for r in multi])))
             if multi else float("nan"))
    means = np.array([r.mean(metric) for r in recs])
    spread = float(means.std(ddof=1)) if len(means) > 1 else float("nan")
    return {"architectures": len(recs), "multi_seed": len(multi), "seed_noise": noise, "spread": spread,
            "ratio": noise / spread if spread > 0 else float("nan")}


def noise_ceiling(bench: Benchmark, metric: str = "test_acc") -> float:
    """Mean Kendall τ between two seeds' accuracies over the architectures trained with both: how well one
    training can rank architectures at all, so the ceiling for any estimator scored against one."""
    multi = [r for r in bench.trained() if len(r.runs) > 1]
    seeds = sorted({s for r in multi for s in r.runs})
    taus = []
    for a, b in itertools.combinations(seeds, 2):
        pairs = [(r.runs[a][metric], r.runs[b][metric]) for r in multi if a in r.runs and b in r.runs]
        if len(pairs) >= 3:
            taus.append(kendalltau(*zip(*pairs))[0])
    return float(np.mean(taus)) if taus else float("nan")


def perfect_estimator_ceiling(bench: Benchmark, metric: str = "test_acc", draws: int = 200,
                              seed: int = 0) -> float:
    """The Kendall τ that a perfect estimator (one that knows every architecture's true mean accuracy) would
    reach against this benchmark's recorded means, over all its trained architectures: simulated by drawing
    each architecture's seeds again. Seed noise is modelled on the logit scale, where it is about constant
    (fbnet-small on MNIST-5k: 0.08-0.12 in every band of at least 9 architectures from 34 % to 96.5 %, while in
    points it is three times larger for networks that barely learn than for good ones), pooled over the
    architectures trained with several seeds. The recorded means stand in for the true ones; their spread
    includes the noise, so the figure is an upper bound: no estimator scored against this benchmark can expect
    more."""
    from .surrogate import link

    recs = bench.trained()
    multi = [r for r in recs if len(r.runs) > 1]
    if not multi or len(recs) < 3:
        return float("nan")
    forward, inverse = link(metric)
    sd = float(np.sqrt(np.mean([np.var(forward(np.array([x[metric] for x in r.runs.values()])), ddof=1)
                                for r in multi])))
    truth = np.array([r.mean(metric) for r in recs])
    sd_of_mean = sd / np.sqrt([len(r.runs) for r in recs])
    rng = np.random.default_rng(seed)
    redrawn = (inverse(forward(truth) + sd_of_mean * rng.standard_normal(len(truth))) for _ in range(draws))
    return float(np.mean([kendalltau(truth, r)[0] for r in redrawn]))


def rank_scores(truth: np.ndarray, estimate: np.ndarray, top: float = 0.1) -> Dict[str, float]:
    """Kendall τ, Spearman ρ, and the share of the true top ``top`` found in the estimate's top ``top``."""
    truth, estimate = np.asarray(truth, float), np.asarray(estimate, float)
    k = max(1, int(round(len(truth) * top)))
    top_true, top_est = set(np.argsort(-truth)[:k]), set(np.argsort(-estimate)[:k])
    return {"kendall_tau": float(kendalltau(truth, estimate)[0]), "spearman": float(spearmanr(truth, estimate)[0]),
            "top_precision": len(top_true & top_est) / k, "n": len(truth)}


def surrogate_cv_predictions(bench: Benchmark, metric: str = "test_acc", folds: int = 5, seed: int = 0,
                             trees: int = 400) -> np.ndarray:
    """The surrogate's prediction for each trained architecture (in ``bench.trained()`` order) by a model fitted
    on the other folds: what the search's default estimator says of an architecture it has not seen trained."""
    from .surrogate import Surrogate

    recs = bench.trained()
    order = np.random.default_rng(seed).permutation(len(recs))
    pred = np.zeros(len(recs))
    space = bench.space
    for f in range(folds):
        held = order[f::folds]
        model = Surrogate(bench, metric, trees=trees, seed=seed, exclude=[recs[i].arch for i in held])
        pred[held], _ = model.predict(np.array([space.parse(recs[i].arch) for i in held]),
                                      [recs[i].features for i in held])
    return pred


def surrogate_cv(bench: Benchmark, metric: str = "test_acc", folds: int = 5, seed: int = 0,
                 trees: int = 400) -> Dict[str, float]:
    """:func:`surrogate_cv_predictions` scored against the mean over each architecture's seeds, and
    (``kendall_tau_one_seed``) against its first seed alone, which is what :func:`noise_ceiling` bounds."""
    recs = bench.trained()
    pred = surrogate_cv_predictions(bench, metric, folds, seed, trees)
    truth = np.array([r.mean(metric) for r in recs])
    out = rank_scores(truth, pred)
    out["mae"] = float(np.mean(np.abs(truth - pred)))
    out["kendall_tau_one_seed"] = float(kendalltau([r.runs[min(r.runs)][metric] for r in recs], pred)[0])
    return out
