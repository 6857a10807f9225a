"""Random architectures that span a space's latency range, for calibrating and validating tables.

Uniform sampling concentrates around the space's mean latency: 24 uniform
fbnet-small networks run 0.05–0.13 ms, while searches under a budget end
among skip-heavy networks of 0.03–0.05 ms. A calibration fitted only on the
middle extrapolates badly to the fast end (measured: +14 % on exported Pareto
models). A fit on those alone, though, under-predicted uniform networks by 3 %
(fbnet-224: spread networks of the same op sum as uniform ones ran ~4 % faster).
So the first half of the ``n`` architectures is uniform, and architecture ``i``
of the second half takes each layer's fastest candidate with a probability
rising linearly to 1 (the last is the fastest architecture) and a uniform one
otherwise.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .space import SearchSpace


def spread_sample(space: SearchSpace, fastest: Sequence[int], n: int, seed: int) -> np.ndarray:
    """``n`` seeded architectures (``(n, layers)`` ints): half uniform, then from near-uniform to all-``fastest``."""
    rng = np.random.default_rng(seed)
    uniform = rng.integers(0, space.num_candidates, size=(n, space.num_layers), dtype=np.int64)
    half = n // 2
    p_fast = np.concatenate([np.zeros(n - half), np.linspace(1.0 / half, 1.0, half) if half else []])[:, None]
    take_fast = rng.random((n, space.num_layers)) < p_fast
    return np.where(take_fast, np.asarray(fastest, dtype=np.int64)[None, :], uniform)
