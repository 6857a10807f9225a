"""Build plain ``torch.nn.Module`` networks from a space and an architecture, through the registry."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from . import ops  # noqa: F401  (registers the ops)
from .registry import OPS
from .space import OpKey, SearchSpace


def build_op(key: OpKey) -> nn.Module:
    """The module a table entry measures, in eval mode."""
    return OPS.build(key.op, **key.kwargs).eval()


class Network(nn.Module):
    """stem -> searchable layers -> head. Every architecture of every space builds to one."""

    def __init__(self, space: SearchSpace, arch: Sequence[int]):
        super().__init__()
        arch = space.check(arch)
        self.arch = arch
        self.stem = OPS.build("stem", **space.stem_key().kwargs)
        self.layers = nn.Sequential(*[OPS.build(k.op, **k.kwargs)
                                      for k in (space.layer_key(i, c) for i, c in enumerate(arch))])
        self.head = OPS.build("head", **space.head_key().kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.layers(self.stem(x)))


def build_network(space: SearchSpace, arch: Sequence[int]) -> Network:
    """A freshly initialised network for ``arch`` (train mode; call ``.eval()`` to measure)."""
    return Network(space, arch)
