"""Analytical cost of a module: parameter bytes, activation bytes and FLOPs (fvcore)."""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Tuple

import torch
import torch.nn as nn

BYTES_PER_ELEMENT = 4  # float32


@dataclass(frozen=True)
class OpCost:
    """Memory and compute of one op at one input shape.

    ``peak_activation_bytes`` is MCUNet's analytical peak: the largest
    input + output of any leaf layer inside the op, plus the op's input when
    a residual keeps it alive across the block. ``flops`` counts one
    multiply-add as one FLOP, as fvcore does; ``flops_uncounted`` names the
    op types fvcore met but could not count (``unsupported_ops()``, e.g.
    ``aten::add``), which ``flops`` therefore leaves out. Empty when the
    count is complete, and in tables written before it was recorded.
    """

    param_bytes: int
    input_bytes: int
    output_bytes: int
    peak_activation_bytes: int
    flops: int
    flops_uncounted: Tuple[str, ...] = ()

    def to_json(self) -> dict:
        d = asdict(self)
        if self.flops_uncounted:
            d["flops_uncounted"] = list(self.flops_uncounted)
        else:
            del d["flops_uncounted"]
        return d

    @classmethod
    def from_json(cls, d: dict) -> "OpCost":
        return cls(**{**d, "flops_uncounted": tuple(d.get("flops_uncounted", ()))})


def _nbytes(t) -> int:
    return t.numel() * BYTES_PER_ELEMENT if isinstance(t, torch.Tensor) else 0


def analyse(module: nn.Module, input_shape: Tuple[int, ...]) -> OpCost:
    """Parameter bytes, activation bytes and fvcore FLOPs of ``module`` on a zero input."""
    from fvcore.nn import FlopCountAnalysis

    module = module.eval()
    x = torch.zeros(input_shape)
    leaf_peaks = []

    def hook(mod, inputs, output):
        # In-place ops (ReLU) and identities allocate nothing new.
        new = 0 if (getattr(mod, "inplace", False) or isinstance(mod, nn.Identity)) else _nbytes(output)
        leaf_peaks.append(_nbytes(inputs[0]) + new)

    leaves = [m for m in module.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        with torch.no_grad():
            y = module(x)
    finally:
        for h in handles:
            h.remove()
    held = _nbytes(x) if getattr(module, "residual", False) else 0
    peak = max(leaf_peaks, default=_nbytes(x)) + held
    params = sum(p.numel() for p in module.parameters()) * BYTES_PER_ELEMENT
    flops, uncounted = 0, ()
    if not isinstance(module, nn.Identity):
        logging.getLogger("fvcore").setLevel(logging.ERROR)
        counter = FlopCountAnalysis(module, x)
        # recorded in the result instead of warned about: what fvcore could not count is named, not zero
        counter.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        flops = int(counter.total())
        uncounted = tuple(sorted(counter.unsupported_ops()))
    return OpCost(param_bytes=int(params), input_bytes=_nbytes(x), output_bytes=_nbytes(y),
                  peak_activation_bytes=int(peak), flops=flops, flops_uncounted=uncounted)
