"""What a table entry times: an op alone, or an op between fixed neighbours (``op_context``).

``isolated``: the op is its own model; the run cost of an identity model on its input is subtracted.

``neighbours``: the op is timed between two fixed neighbours, a 1×1 conv + BN + ReLU on its input and
one on its output (the kind of op every layer of the FBNet family begins and ends with), and half of a
*frame* (two such neighbours in a row) at each of its shapes is subtracted. What is left is the op as a
network runs it: a runtime that keeps tensors in its own layout between ops (onnxruntime's blocked NCHWc,
XNNPACK's NHWC) converts at the model's ends, so an op timed alone pays conversions a network does not.
An op that cannot stay in that layout (a grouped 1×1 conv with a channel shuffle) makes the network
convert around it; timed alone it hides that cost, timed between neighbours it shows it.

The first op of a network (the stem) has no neighbour before it and the last (the head) none after it,
as in a network; each keeps half a frame, so a sum over a network counts one model run.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn

from .ops import conv_bn

CONTEXTS = ("isolated", "neighbours")
Shape = Tuple[int, ...]


def check_context(context: str) -> str:
    if context not in CONTEXTS:
        raise ValueError(f"op context {context!r} is not one of {', '.join(CONTEXTS)}")
    return context


def output_shape(module: nn.Module, input_shape: Shape) -> Shape:
    """The shape ``module`` returns for a batch of ``input_shape`` (one forward pass on zeros)."""
    with torch.no_grad():
        return tuple(module.eval()(torch.zeros(input_shape)).shape)


def neighbour(shape: Shape) -> nn.Module:
    """The fixed neighbour on a tensor of ``shape``: a 1×1 conv + BN + ReLU that keeps its channels."""
    return conv_bn(shape[1], shape[1], 1).eval()


def frame(shape: Shape) -> nn.Module:
    """Two neighbours in a row: the model whose half is subtracted at each framed side of an op."""
    return nn.Sequential(neighbour(shape), neighbour(shape)).eval()


class Framing:
    """Where one op sits in a network: the shapes of the neighbours it is timed between (None: no neighbour)."""

    def __init__(self, before: Optional[Shape], after: Optional[Shape]):
        self.before, self.after = before, after

    @classmethod
    def of(cls, op: nn.Module, input_shape: Shape, first: bool, last: bool) -> "Framing":
        """An op with a neighbour before it unless it is the network's ``first``, after it unless ``last``."""
        out = output_shape(op, input_shape)
        if len(out) != 4 and not last:
            raise ValueError(f"an op with a {len(out)}-D output cannot be framed by convolutions; only the last op may")
        return cls(None if first else tuple(input_shape), None if last else out)

    @property
    def shapes(self) -> Tuple[Shape, ...]:
        return tuple(s for s in (self.before, self.after) if s is not None)

    def wrap(self, op: nn.Module) -> nn.Module:
        """``op`` between its neighbours: the model that is timed."""
        parts = ([neighbour(self.before)] if self.before else []) + [op] + ([neighbour(self.after)] if self.after else [])
        return nn.Sequential(*parts).eval() if len(parts) > 1 else op

    def subtracted(self, frames_ms: Dict[Shape, float]) -> float:
        """What the timed model costs beyond the op: half a frame per neighbour."""
        return sum(0.5 * frames_ms[s] for s in self.shapes)
