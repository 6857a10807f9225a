"""The weight-sharing supernet: every candidate op of every layer, built through the registry.

One module serves both search styles: a *mixed* forward weights every
candidate's output (FBNet's DNAS), a *single-path* forward runs one candidate
per layer (SPOS, and evaluating any architecture with inherited weights).
:meth:`Supernet.extract` turns a path into a standalone :class:`Network` with
the shared weights copied in.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn as nn

from . import ops  # noqa: F401  (registers the ops)
from .model import Network, build_network
from .registry import OPS
from .space import SearchSpace


class MixedLayer(nn.Module):
    """All candidates of one searchable layer."""

    def __init__(self, space: SearchSpace, layer: int):
        super().__init__()
        self.candidates = nn.ModuleList(
            OPS.build(k.op, **k.kwargs) for k in (space.layer_key(layer, c) for c in range(space.num_candidates)))

    def forward(self, x: torch.Tensor, weights: Optional[torch.Tensor] = None, choice: Optional[int] = None):
        if choice is not None:
            return self.candidates[choice](x)
        # Candidates whose weight is exactly zero (hard samples) contribute nothing and are not run.
        outs = [w * op(x) for w, op in zip(weights, self.candidates) if not (w.detach() == 0 and not w.requires_grad)]
        return torch.stack(outs).sum(0) if len(outs) > 1 else outs[0]


class Supernet(nn.Module):
    """stem -> one :class:`MixedLayer` per searchable layer -> head."""

    def __init__(self, space: SearchSpace):
        super().__init__()
        self.space = space
        self.stem = OPS.build("stem", **space.stem_key().kwargs)
        self.layers = nn.ModuleList(MixedLayer(space, l) for l in range(space.num_layers))
        self.head = OPS.build("head", **space.head_key().kwargs)

    def forward(self, x: torch.Tensor, weights: Optional[torch.Tensor] = None,
                arch: Optional[Sequence[int]] = None) -> torch.Tensor:
        """Mixed forward with ``weights`` of shape (layers, candidates), or single path ``arch``."""
        if (weights is None) == (arch is None):
            raise ValueError("pass exactly one of weights= or arch=")
        x = self.stem(x)
        for l, layer in enumerate(self.layers):
            x = layer(x, choice=int(arch[l])) if arch is not None else layer(x, weights=weights[l])
        return self.head(x)

    def extract(self, arch: Sequence[int]) -> Network:
        """A standalone network for ``arch`` carrying the supernet's shared weights (deep copies)."""
        net = build_network(self.space, arch)
        net.stem.load_state_dict(self.stem.state_dict())
        net.head.load_state_dict(self.head.state_dict())
        for l, c in enumerate(net.arch):
            net.layers[l].load_state_dict(self.layers[l].candidates[c].state_dict())
        return net
