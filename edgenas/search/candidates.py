"""Architectures a model-based strategy considers: random ones that meet the budgets, one-layer changes of
parents, and each one's distance from the budgets.

Budgets are checked with the tables' cost models, which are exact and
vectorised, so candidates that break a budget are dropped before any
accuracy is estimated.
"""
from __future__ import annotations

from typing import Callable, Iterable, Set

import numpy as np

from .problem import ObjectiveSpec

__all__ = ["violation", "feasible_random", "mutate", "unseen"]


def violation(spec: ObjectiveSpec, values) -> np.ndarray:
    """Each architecture's total relative budget excess (0 when it meets every budget); ``values`` holds the
    constrained costs (``spec.costs``' or an evaluation's)."""
    n = len(next(iter(values.values())))
    total = np.zeros(n)
    for key, budget in spec.constraints:
        total += np.maximum(0.0, (values[key] - budget) / budget)
    return total


def feasible_random(spec: ObjectiveSpec, n: int, rng: np.random.Generator, batch: int = 1024,
                    tries: int = 32) -> np.ndarray:
    """``n`` uniform architectures drawn among those that meet the budgets (rejection sampling with the cost
    models, batches of ``batch`` until ``n`` meet them, at most ``tries`` batches); when too few meet them, the
    least violating of all draws fill up."""
    L, C = spec.space.num_layers, spec.space.num_candidates
    draws, excess, ok = [], [], 0
    for _ in range(tries):
        draws.append(rng.integers(0, C, size=(batch, L)))
        excess.append(violation(spec, spec.costs(draws[-1])) if spec.constraints else np.zeros(batch))
        ok += int((excess[-1] == 0).sum())
        if ok >= n:
            break
    order = np.argsort(np.concatenate(excess), kind="stable")   # feasible ones keep their (random) draw order
    return np.concatenate(draws)[order[:n]]


def mutate(parents: np.ndarray, n: int, num_candidates: int, rng: np.random.Generator,
           max_changes: int = 2) -> np.ndarray:
    """``n`` children, each of a parent drawn uniformly, with 1 to ``max_changes`` layers set to another
    candidate (candidate indices have no order: any other one, uniformly)."""
    parents = np.asarray(parents, dtype=np.int64)
    children = parents[rng.integers(len(parents), size=n)].copy()
    L = children.shape[1]
    changes = rng.integers(1, min(max_changes, L) + 1, size=n)
    for i in range(n):
        for layer in rng.choice(L, size=changes[i], replace=False):
            other = rng.integers(num_candidates - 1)
            children[i, layer] = other + (other >= children[i, layer])
    return children


def unseen(archs: np.ndarray, seen: Set[str], key: Callable[[Iterable[int]], str]) -> np.ndarray:
    """The rows of ``archs`` not in ``seen``, each once, in their order."""
    keep, keys = [], set()
    for i, a in enumerate(archs):
        k = key(a)
        if k not in seen and k not in keys:
            keys.add(k)
            keep.append(i)
    return np.asarray(archs)[keep]
