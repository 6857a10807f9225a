"""Random architectures that span a space's latency range, for calibrating and validating tables.

Uniform sampling concentrates around the space's mean latency: 24 uniform
fbnet-small networks run 0.05–0.13 ms, while searches under a budget end
among skip-heavy networks of 0.03–0.05 ms. A calibration fitted only on the
middle extrapolates badly to the fast end (measured: +14 % on exported Pareto
models). A fit on those alone, though, under-predicted uniform networks by 3 %
(fbnet-224: spread networks of the same op sum as uniform ones ran ~4 % faster).
The slow end matters as well: a search under a generous budget exports models
up to the slowest architecture, which uniform networks do not reach either
(the quickstart's slowest exported model measured 10.6 % slower than its
table predicted, with no calibration network near it). So a third of the
``n`` architectures is uniform; in the next third architecture ``i`` takes
each layer's fastest candidate with a probability rising linearly to 1 (the
last is the fastest architecture) and a uniform one otherwise; the last third
does the same toward the slowest architecture.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .space import SearchSpace


def spread_sample(space: SearchSpace, fastest: Sequence[int], slowest: Sequence[int], n: int,
                  seed: int) -> np.ndarray:
    """``n`` seeded architectures (``(n, layers)`` ints): uniform, then spread to ``fastest``, then to ``slowest``.

    Each spread part has ``n // 3`` architectures and ends with its target; the uniform part has the rest.
    """
    rng = np.random.default_rng(seed)
    uniform = rng.integers(0, space.num_candidates, size=(n, space.num_layers), dtype=np.int64)
    third = n // 3
    rising = np.linspace(1.0 / third, 1.0, third) if third else np.zeros(0)
    p_target = np.concatenate([np.zeros(n - 2 * third), rising, rising])[:, None]
    target = np.concatenate([np.zeros((n - 2 * third, space.num_layers), dtype=np.int64),
                             np.tile(np.asarray(fastest, dtype=np.int64), (third, 1)),
                             np.tile(np.asarray(slowest, dtype=np.int64), (third, 1))])
    take_target = rng.random((n, space.num_layers)) < p_target
    return np.where(take_target, target, uniform)
