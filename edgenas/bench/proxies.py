"""Zero-cost proxies: scores of *untrained* networks that are meant to rank architectures by trained accuracy.

They cost one forward (and backward) pass per architecture and no training, which
is why the NAS literature measures them against benchmarks (Abdelfattah et al.,
"Zero-Cost Proxies for Lightweight NAS", ICLR 2021). Two are implemented:

- :func:`synflow` (Tanaka et al. 2020): with every weight replaced by its
  absolute value and an all-ones input, the sum over parameters of
  ``|θ · ∂R/∂θ|`` where ``R`` is the sum of the outputs. No data is used.
  BatchNorm is in eval mode with fresh statistics (an affine map close to the
  identity), and the pass runs in float64 because the product of many
  positive weights overflows float32. Reported as a natural log.
- :func:`naswot` (Mellor et al., "Neural Architecture Search without Training",
  ICML 2021): the binary activation pattern of every ReLU on a minibatch; the
  kernel ``K[i, j]`` counts the units on which images ``i`` and ``j`` agree; the
  score is ``log |det K|``. Networks whose units separate the images well
  score high.

Both are scores (higher = predicted better), not accuracies: they rank, and
nothing here maps them to an error. ``benchmarks/estimators_vs_bench.py``
measures how well they rank against the benchmark.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn as nn

from ..arch.model import build_network
from ..arch.space import SearchSpace

__all__ = ["synflow", "naswot", "PROXIES"]


def _fresh(space: SearchSpace, arch: Sequence[int], seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return build_network(space, arch)


def synflow(space: SearchSpace, arch: Sequence[int], images: torch.Tensor, seed: int = 0) -> float:
    """log of SynFlow's ``Σ |θ · ∂R/∂θ|`` for the freshly initialised network (``images`` gives only the shape)."""
    net = _fresh(space, arch, seed).double().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    ones = torch.ones((1, *images.shape[1:]), dtype=torch.float64)
    net.zero_grad()
    net(ones).sum().backward()
    total = sum(float((p.detach() * p.grad).abs().sum()) for p in net.parameters() if p.grad is not None)
    return float(np.log(total)) if total > 0 else float("-inf")


def naswot(space: SearchSpace, arch: Sequence[int], images: torch.Tensor, seed: int = 0) -> float:
    """NASWOT's ``log |det K_H|`` over the ReLU activation codes of ``images`` (a minibatch, e.g. 64)."""
    net = _fresh(space, arch, seed).train()   # BatchNorm on batch statistics, as in the paper
    n = len(images)
    agree = torch.zeros((n, n), dtype=torch.float64)

    def count(_module, _inputs, output):
        code = (output.detach().reshape(n, -1) > 0).double()
        agree.add_(code @ code.T + (1 - code) @ (1 - code).T)   # units on which each pair agrees

    hooks = [m.register_forward_hook(count) for m in net.modules() if isinstance(m, nn.ReLU)]
    try:
        with torch.no_grad():
            net(images)
    finally:
        for h in hooks:
            h.remove()
    sign, logdet = np.linalg.slogdet(agree.numpy())
    return float(logdet) if sign != 0 else float("-inf")


PROXIES = {"synflow": synflow, "naswot": naswot}
