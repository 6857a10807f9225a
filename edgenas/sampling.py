"""Random architectures that span a space's latency range, for calibrating and validating tables.

Uniform sampling concentrates around the space's mean latency: 24 uniform
fbnet-small networks run 0.05–0.13 ms, while searches under a budget end
among skip-heavy networks of 0.03–0.05 ms. A calibration fitted only on the
middle extrapolates badly to the fast end (measured: +14 % on exported Pareto
models). Architecture ``i`` of ``n`` therefore takes each layer's fastest
candidate with probability ``i / (n - 1)`` and a uniform one otherwise: the
first is uniform, the last the fastest architecture, the rest in between.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .space import SearchSpace


def spread_sample(space: SearchSpace, fastest: Sequence[int], n: int, seed: int) -> np.ndarray:
    """``n`` seeded architectures (``(n, layers)`` ints) from uniform to all-``fastest``."""
    rng = np.random.default_rng(seed)
    uniform = rng.integers(0, space.num_candidates, size=(n, space.num_layers), dtype=np.int64)
    p_fast = np.linspace(0.0, 1.0, n)[:, None] if n > 1 else np.zeros((1, 1))
    take_fast = rng.random((n, space.num_layers)) < p_fast
    return np.where(take_fast, np.asarray(fastest, dtype=np.int64)[None, :], uniform)
