"""The ops of the FBNet family, registered in :data:`edgenas.arch.registry.OPS`.

Registered names and their arguments:

- ``ir``: inverted residual (1x1 group conv, channel shuffle when grouped,
  kxk depthwise, 1x1 group conv); args ``in_ch, out_ch, stride, kernel,
  expansion, groups``.
- ``skip``: identity when the shape is kept, else 1x1 conv (with stride) + BN;
  args ``in_ch, out_ch, stride``.
- ``stem``: conv kxk + BN + ReLU; args ``in_ch, out_ch, kernel, stride``.
- ``head``: 1x1 conv + BN + ReLU, global average pool, linear classifier;
  args ``in_ch, mid_ch, num_classes``.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .registry import OPS


def conv_bn(in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1, relu: bool = True) -> nn.Sequential:
    layers = [
        nn.Conv2d(in_ch, out_ch, kernel, stride, padding=kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_ch),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class ChannelShuffle(nn.Module):
    """ShuffleNet channel shuffle, written with reshape/transpose so it exports to ONNX."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        return x.reshape(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class InvertedResidual(nn.Module):
    """FBNet block: pw (grouped) -> [shuffle] -> dw kxk (stride) -> pw-linear (grouped) [+ x]."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, kernel: int, expansion: int, groups: int = 1):
        super().__init__()
        mid = in_ch * expansion
        if in_ch % groups or mid % groups or out_ch % groups:
            raise ValueError(f"channels {in_ch}->{mid}->{out_ch} are not divisible by groups={groups}")
        parts = [conv_bn(in_ch, mid, 1, groups=groups)]
        if groups > 1:
            parts.append(ChannelShuffle(groups))
        parts += [conv_bn(mid, mid, kernel, stride, groups=mid), conv_bn(mid, out_ch, 1, groups=groups, relu=False)]
        self.body = nn.Sequential(*parts)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


class Head(nn.Module):
    def __init__(self, in_ch: int, mid_ch: int, num_classes: int):
        super().__init__()
        self.conv = conv_bn(in_ch, mid_ch, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(mid_ch, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.conv(x)), 1))


@OPS.register("ir")
def _inverted_residual(in_ch, out_ch, stride, kernel, expansion, groups=1):
    return InvertedResidual(in_ch, out_ch, stride, kernel, expansion, groups)


@OPS.register("skip")
def _skip(in_ch, out_ch, stride):
    if stride == 1 and in_ch == out_ch:
        return nn.Identity()
    return conv_bn(in_ch, out_ch, 1, stride, relu=False)


@OPS.register("stem")
def _stem(in_ch, out_ch, kernel, stride):
    return conv_bn(in_ch, out_ch, kernel, stride)


@OPS.register("head")
def _head(in_ch, mid_ch, num_classes):
    return Head(in_ch, mid_ch, num_classes)


def is_identity(op_name: str, args: dict) -> bool:
    """True when the op computes nothing (a skip that keeps the shape)."""
    return op_name == "skip" and args["stride"] == 1 and args["in_ch"] == args["out_ch"]
