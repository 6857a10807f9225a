"""The most probable architecture whose predicted latency lies in a band: decoding a learned θ under a budget.

A DNAS search ends with a factorised distribution ``p(arch) = Π_l p_l(c_l)``
over candidates. Its argmax ignores the budget the search was asked for; this
module finds ``argmax log p(arch)`` subject to ``low ≤ latency(arch) ≤ high``
with a dynamic programme over the per-op latency sum (a knapsack): after each
layer, every bin of the running sum keeps only its most probable prefix. The
calibration of the table is monotone in the sum, so the band on the
calibrated latency is a band on the sum, checked exactly at the end with the
cost model. Binning can only lose optimality (two prefixes in one bin), never
feasibility: the returned architecture is verified against the band.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from .cost import CostModel


def most_probable_within(cost: CostModel, probs: np.ndarray, low_ms: float, high_ms: float,
                         bins: int = 4096) -> Optional[Tuple[int, ...]]:
    """The architecture of highest probability under ``probs`` (layers x candidates) with latency in the band.

    Returns ``None`` when the search finds no architecture in ``[low_ms, high_ms]``.
    """
    lat = cost.matrix["latency_ms"]
    C = lat.shape[1]
    logp = np.log(np.clip(np.asarray(probs, dtype=np.float64), 1e-300, None))
    lo_sum, hi_sum = np.nanmin(lat, 1).sum(), np.nanmax(lat, 1).sum()
    width = max(hi_sum - lo_sum, 1e-12) / (bins - 1)

    # State: one entry per occupied bin of the running op sum.
    score = np.zeros(1)
    total = np.zeros(1)
    back = []  # per layer: (index of the previous state, candidate) of every kept state
    for layer in range(lat.shape[0]):
        cand_score = (score[:, None] + logp[layer][None, :]).ravel()
        cand_total = (total[:, None] + lat[layer][None, :]).ravel()
        ok = np.isfinite(cand_total)
        idx = np.flatnonzero(ok)
        key = np.floor(cand_total[idx] / width).astype(np.int64)
        # Best score first, then keep the first occurrence of each bin.
        order = np.lexsort((-cand_score[idx], key))
        key_sorted = key[order]
        first = np.ones(order.size, dtype=bool)
        first[1:] = key_sorted[1:] != key_sorted[:-1]
        keep = idx[order[first]]
        back.append((keep // C, keep % C))
        score, total = cand_score[keep], cand_total[keep]

    latency = cost.calibrate(total + cost.fixed["latency_ms"])
    inside = np.flatnonzero((latency >= low_ms) & (latency <= high_ms))
    if inside.size == 0:
        return None
    state = int(inside[np.argmax(score[inside])])
    arch = []
    for prev, choice in reversed(back):
        arch.append(int(choice[state]))
        state = int(prev[state])
    return tuple(reversed(arch))
