"""The most probable architecture whose predicted latency lies in a band: decoding a learned θ under a budget.

A DNAS search ends with a factorised distribution ``p(arch) = Π_l p_l(c_l)``
over candidates. Its argmax ignores the budget the search was asked for; this
module finds ``argmax log p(arch)`` subject to ``low ≤ latency(arch) ≤ high``
with a dynamic programme over the per-op latency sum (a knapsack). After each
layer the running sums are binned, and every bin keeps three prefixes: its
most probable one, its lightest and its heaviest. The calibration of the
table is monotone in the sum, so the band on the calibrated latency is a band
on the sum; the answer is re-checked with the cost model.

Binning makes the search approximate: two prefixes in one bin can hide a more
probable completion (with ``bins`` large it is exact; the tests check it
against brute force at 200,000 bins). Keeping the lightest prefix of every bin
means the fastest architecture of the space is always reachable, so a band
whose upper edge is at or above it never comes back empty for lack of a path.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from ..tables.cost import CostModel


def _keep_per_bin(key: np.ndarray, score: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Indices of the best-score, least-total and largest-total entry of every bin (deduplicated)."""
    kept = []
    for order in (np.lexsort((-score, key)), np.lexsort((total, key)), np.lexsort((-total, key))):
        k = key[order]
        first = np.ones(order.size, dtype=bool)
        first[1:] = k[1:] != k[:-1]
        kept.append(order[first])
    return np.unique(np.concatenate(kept))


def _trace_back(back: list, state: int) -> Tuple[int, ...]:
    arch = []
    for prev, choice in reversed(back):
        arch.append(int(choice[state]))
        state = int(prev[state])
    return tuple(reversed(arch))


def most_probable_within(cost: CostModel, probs: np.ndarray, low_ms: float, high_ms: float,
                         bins: int = 4096) -> Optional[Tuple[int, ...]]:
    """The architecture of highest probability under ``probs`` (layers x candidates) with latency in the band.

    Returns ``None`` when the search finds no architecture in ``[low_ms, high_ms]``.
    """
    lat = cost.matrix["latency_ms"]
    probs = np.asarray(probs, dtype=np.float64)
    if probs.shape != lat.shape:
        raise ValueError(f"probabilities of shape {probs.shape} do not fit the space's {lat.shape}")
    if bins < 2:
        raise ValueError(f"bins must be >= 2, got {bins}")
    C = lat.shape[1]
    logp = np.log(np.clip(probs, 1e-300, None))
    span = np.nanmax(lat, 1).sum() - np.nanmin(lat, 1).sum()
    width = max(span, 1e-12) / (bins - 1)

    score, total = np.zeros(1), np.zeros(1)
    back = []  # per layer: (index of the previous state, candidate) of every kept state
    for layer in range(lat.shape[0]):
        cand_score = (score[:, None] + logp[layer][None, :]).ravel()
        cand_total = (total[:, None] + lat[layer][None, :]).ravel()
        idx = np.flatnonzero(np.isfinite(cand_total))  # a NaN cell (missing entry) is never chosen
        key = np.floor((cand_total[idx] - cand_total[idx].min()) / width).astype(np.int64)
        keep = idx[_keep_per_bin(key, cand_score[idx], cand_total[idx])]
        back.append((keep // C, keep % C))
        score, total = cand_score[keep], cand_total[keep]

    latency = cost.calibrate(total + cost.fixed["latency_ms"])
    inside = np.flatnonzero((latency >= low_ms) & (latency <= high_ms))
    for state in inside[np.argsort(-score[inside], kind="stable")]:
        arch = _trace_back(back, int(state))
        # The sum above adds in another order than the cost model: re-check at the band's edges.
        if low_ms <= float(cost.predict(arch).latency_ms[0]) <= high_ms:
            return arch
    return None
