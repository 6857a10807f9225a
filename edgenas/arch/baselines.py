"""Hand-designed baselines: MobileNetV2 (Sandler et al. 2018) at a width multiplier, for small images.

The block table is the paper's (expansion t, channels c, repeats n, stride s)
with channels scaled by the width multiplier and rounded to multiples of 8,
the last 1x1 conv at 1280 channels (scaled only above width 1), as the paper
does. For 28x28 inputs the strides follow the small preset's plan: a stride-2
stem and two more stride-2 stages, so the last feature map is 4x4, as in
``fbnet-small``. Built from the same :func:`edgenas.arch.ops.conv_bn` as the
search space's ops.
"""
from __future__ import annotations

from typing import Sequence, Tuple

import torch
import torch.nn as nn

from .ops import conv_bn

__all__ = ["MobileNetV2", "mobilenet_v2", "make_divisible", "DEFAULT_WIDTHS"]

DEFAULT_WIDTHS = (0.25, 0.35, 0.5, 0.75)

# (t, c, n, s) of the paper; strides for ImageNet 224 are 1,2,2,2,1,2,1 after a stride-2 stem.
PAPER = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
SMALL_STRIDES = (1, 1, 2, 2, 1, 1, 1)   # 28 -> 14 (stem) -> 14 -> 14 -> 7 -> 4 -> 4 -> 4 -> 4


def make_divisible(v: float, divisor: int = 8) -> int:
    """Round ``v`` to a multiple of ``divisor``, never more than 10 % down (the MobileNet rule)."""
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


class _Block(nn.Module):
    """MobileNetV2 inverted residual: 1x1 expand (skipped when t = 1), 3x3 depthwise, 1x1 linear projection."""

    def __init__(self, cin: int, cout: int, stride: int, t: int):
        super().__init__()
        mid = cin * t
        parts = [conv_bn(cin, mid, 1)] if t != 1 else []
        parts += [conv_bn(mid, mid, 3, stride, groups=mid), conv_bn(mid, cout, 1, relu=False)]
        self.body = nn.Sequential(*parts)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


class MobileNetV2(nn.Module):
    """MobileNetV2 at ``width`` for ``in_ch``-channel images and ``num_classes`` classes.

    ReLU stands in for ReLU6 (the search space's ops use ReLU, so both sides
    of the comparison run the same activation kernels).
    """

    def __init__(self, width: float = 1.0, in_ch: int = 1, num_classes: int = 10,
                 strides: Sequence[int] = SMALL_STRIDES, stem_stride: int = 2):
        super().__init__()
        if width <= 0:
            raise ValueError("width must be positive")
        self.width = width
        ch = make_divisible(32 * width)
        self.stem = conv_bn(in_ch, ch, 3, stem_stride)
        blocks = []
        for (t, c, n, _), s in zip(PAPER, strides):
            out = make_divisible(c * width)
            for i in range(n):
                blocks.append(_Block(ch, out, s if i == 0 else 1, t))
                ch = out
        self.blocks = nn.Sequential(*blocks)
        last = make_divisible(1280 * max(1.0, width))
        self.head = nn.Sequential(conv_bn(ch, last, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(last, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


def mobilenet_v2(width: float, input_shape: Tuple[int, ...] = (1, 1, 28, 28), num_classes: int = 10) -> MobileNetV2:
    """MobileNetV2 at ``width`` for NCHW ``input_shape`` (stride plan of the small preset)."""
    return MobileNetV2(width, in_ch=int(input_shape[1]), num_classes=num_classes)
