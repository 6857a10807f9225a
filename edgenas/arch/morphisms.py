"""Network morphisms of the FBNet family: change one layer of a *trained* network, keeping its weights.

A :class:`Move` changes the candidate of one layer (``layer``, ``source`` -> ``target``).
:func:`legal_moves` lists the moves from an architecture; :func:`apply_moves` takes a parent
:class:`~edgenas.arch.model.Network` (with its trained state) and returns the child network of the
moved architecture, its weights transferred from the parent. ``Move.exact`` says whether the child
computes exactly what the parent computed (in eval mode; in train mode BatchNorm uses batch
statistics, so no morphism is exact there).

The moves and when they are exact (Elsken et al. 2017/2019, adapted to inverted-residual blocks):

- **insert** ``skip`` -> ``ir``. In a residual position (stride 1, same channels: the skip is the
  identity) the new block is freshly initialised with its last BatchNorm's scale and shift at zero,
  so it adds zero: exact. Where the layer changes stride or channels, the skip is a strided 1x1
  conv + BN ``W x``; an ``ir`` block computes it exactly through ``ReLU(x) - ReLU(-x) = x`` when
  it has ``groups = 1`` and at least ``2·in`` hidden channels (expansion >= 2): the expansion
  copies ``+x`` and ``-x``, the depthwise conv passes its centre tap (the stride picks the same
  pixels as the 1x1 conv's), the projection is ``[W, -W]`` and the last BN is the skip's. With
  expansion 1 or grouped 1x1s it keeps only the positive half: approximate.
- **remove** ``ir`` -> ``skip``: approximate. In a residual position the block's output is dropped;
  elsewhere the skip's 1x1 conv + BN is the block *linearised*: its ReLUs taken as identities and
  each depthwise kernel as the sum of its taps (what it does to a flat input), which is affine.
- **kernel** 3 -> 5: the depthwise kernel zero-padded around its centre, exact (at any stride:
  the padding grows with the kernel, so the centre stays on the same pixel). 5 -> 3 crops the
  centre: approximate.
- **expansion** e1 -> e3 -> e6 (``groups = 1``): each new hidden channel copies the incoming path
  (1x1 row, BN, depthwise kernel, BN with its running statistics) of an existing one, so its
  statistics stay consistent in train mode, and its outgoing projection weights are zero: exact.
  Shrinking keeps the most important hidden channels: approximate. A channel's importance is the
  expected size of what it adds to the block's output: ``‖(γ3/σ3) ⊙ P[:, j]‖ · sqrt(E[ReLU(z)²])``
  with ``z ~ N(β2_j, γ2_j²)``, its normalised pre-activation as the depthwise BN makes it.
- **groups** 2 -> 1: the grouped 1x1 convs become block-diagonal dense ones, and the channel
  shuffle between expansion and depthwise conv is folded into the order of the expansion's rows:
  exact. 1 -> 2 keeps the diagonal blocks: approximate.

Every ``ir`` -> ``ir`` transfer goes through one dense form of the block (:class:`_Dense`: hidden
channels in the order the depthwise conv sees them), so kernel, expansion and groups changes
compose. Moves are the same wherever the layer sits; only insert and remove depend on it.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from ..errors import ArchitectureError
from .model import Network, build_network, build_op
from .ops import ChannelShuffle, InvertedResidual
from .space import Architecture, SearchSpace

__all__ = ["Move", "legal_moves", "random_moves", "apply_moves", "move_between"]


@dataclass(frozen=True)
class Move:
    """Layer ``layer`` goes from candidate ``source`` to ``target`` (names); ``kind`` says how."""

    layer: int
    source: str
    target: str
    kind: str       # insert, remove, kernel, expansion, groups
    exact: bool

    def __str__(self) -> str:
        return f"{self.layer}:{self.source}->{self.target}{'' if self.exact else '~'}"


# ---- which moves exist ---------------------------------------------------------------------------------------
def _shape(space: SearchSpace, candidate: int) -> Optional[Tuple[str, int, int, int]]:
    """(op, kernel, expansion, groups) of a candidate the morphisms know, else None."""
    cand = space.candidates[candidate]
    args = dict(cand.args)
    if cand.op == "skip":
        return ("skip", 0, 0, 0)
    if cand.op == "ir":
        return ("ir", int(args["kernel"]), int(args["expansion"]), int(args.get("groups", 1)))
    return None


def _residual(space: SearchSpace, layer: int) -> bool:
    spec = space.layers[layer]
    return spec.stride == 1 and spec.in_ch == spec.out_ch


def move_between(space: SearchSpace, layer: int, source: int, target: int) -> Optional[Move]:
    """The move from candidate ``source`` to ``target`` in ``layer``, or None when no single morphism does it."""
    a, b = _shape(space, source), _shape(space, target)
    if a is None or b is None or source == target:
        return None
    names = space.candidate_names
    make = lambda kind, exact: Move(layer, names[source], names[target], kind, exact)  # noqa: E731
    if a[0] == "skip" and b[0] == "ir":
        _, _, expansion, groups = b
        return make("insert", _residual(space, layer) or (groups == 1 and expansion >= 2))
    if a[0] == "ir" and b[0] == "skip":
        return make("remove", False)
    if a[0] != "ir" or b[0] != "ir":
        return None
    differs = [i for i in (1, 2, 3) if a[i] != b[i]]
    if len(differs) != 1:
        return None
    i = differs[0]
    if i == 1:
        return make("kernel", b[1] > a[1])
    if i == 2:
        return make("expansion", b[2] > a[2]) if a[3] == b[3] == 1 else None
    return make("groups", b[3] == 1) if 1 in (a[3], b[3]) else None


def legal_moves(space: SearchSpace, arch: Sequence[int], exact_only: bool = False) -> List[Move]:
    """Every move from ``arch`` (layer by layer, in candidate order); with ``exact_only`` the exact ones."""
    arch = space.check(arch)
    moves = []
    for layer, source in enumerate(arch):
        for target in range(space.num_candidates):
            move = move_between(space, layer, source, target)
            if move is not None and (move.exact or not exact_only):
                moves.append(move)
    return moves


def random_moves(space: SearchSpace, arch: Sequence[int], k: int, rng: np.random.Generator,
                 exact_only: bool = False) -> Tuple[Architecture, List[Move]]:
    """``k`` moves drawn one after another, each uniformly among the legal moves of the architecture so far."""
    arch = list(space.check(arch))
    index = {n: i for i, n in enumerate(space.candidate_names)}
    moves: List[Move] = []
    for _ in range(k):
        options = legal_moves(space, arch, exact_only)
        if not options:
            break
        move = options[int(rng.integers(len(options)))]
        arch[move.layer] = index[move.target]
        moves.append(move)
    return tuple(arch), moves


# ---- the dense form of an inverted-residual block -----------------------------------------------------------
BN_STATE = ("weight", "bias", "running_mean", "running_var")


@dataclass
class _Dense:
    """An ``ir`` block with dense 1x1 convs; hidden channels in the order the depthwise conv sees them."""

    expand: torch.Tensor            # (hidden, in)
    bn1: Dict[str, torch.Tensor]    # per hidden channel
    dw: torch.Tensor                # (hidden, k, k)
    bn2: Dict[str, torch.Tensor]
    project: torch.Tensor           # (out, hidden)
    bn3: Dict[str, torch.Tensor]    # per output channel
    eps: float

    @property
    def hidden(self) -> int:
        return self.expand.shape[0]


def _parts(block: InvertedResidual):
    """(expand conv_bn, shuffle or None, depthwise conv_bn, project conv_bn) of a block."""
    body = list(block.body)
    shuffle = next((m for m in body if isinstance(m, ChannelShuffle)), None)
    return body[0], shuffle, body[-2], body[-1]


def _shuffle_order(shuffle: Optional[ChannelShuffle], channels: int) -> torch.Tensor:
    """``order[c]``: the channel before the shuffle that lands at channel ``c`` after it."""
    ids = torch.arange(channels, dtype=torch.float64).view(1, channels, 1, 1)
    return (shuffle(ids) if shuffle is not None else ids).view(-1).long()


def _bn_state(bn: nn.BatchNorm2d) -> Dict[str, torch.Tensor]:
    return {k: getattr(bn, k).detach().clone() for k in BN_STATE}


def _set_bn(bn: nn.BatchNorm2d, state: Dict[str, torch.Tensor]) -> None:
    for k in BN_STATE:
        getattr(bn, k).data.copy_(state[k])


def _identity_bn(channels: int, eps: float, shift: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
    """BN state that computes ``x`` (plus ``shift``) in eval mode: (x - 0) / sqrt((1 - eps) + eps)."""
    return {"weight": torch.ones(channels), "bias": torch.zeros(channels) if shift is None else shift.clone(),
            "running_mean": torch.zeros(channels), "running_var": torch.full((channels,), 1.0 - eps)}


def _from_groups(w: torch.Tensor, groups: int) -> torch.Tensor:
    """A grouped 1x1 conv's weight (rows, cols/groups, 1, 1) as the dense block-diagonal (rows, cols)."""
    rows = w.shape[0]
    return torch.block_diag(*w[:, :, 0, 0].reshape(groups, rows // groups, -1))


def _to_groups(m: torch.Tensor, groups: int) -> torch.Tensor:
    """The diagonal blocks of a dense (rows, cols) matrix as a grouped 1x1 conv weight; the rest is dropped."""
    rows, cols = m.shape
    r, c = rows // groups, cols // groups
    blocks = [m[g * r:(g + 1) * r, g * c:(g + 1) * c] for g in range(groups)]
    return torch.cat(blocks, 0)[:, :, None, None]


def _read(block: InvertedResidual) -> _Dense:
    expand, shuffle, dw, project = _parts(block)
    groups = expand[0].groups
    order = _shuffle_order(shuffle, expand[0].out_channels)
    return _Dense(expand=_from_groups(expand[0].weight.detach(), groups)[order],
                  bn1={k: v[order] for k, v in _bn_state(expand[1]).items()},
                  dw=dw[0].weight.detach()[:, 0].clone(), bn2=_bn_state(dw[1]),
                  project=_from_groups(project[0].weight.detach(), project[0].groups),
                  bn3=_bn_state(project[1]), eps=float(expand[1].eps))


def _write(d: _Dense, block: InvertedResidual) -> None:
    expand, shuffle, dw, project = _parts(block)
    order = _shuffle_order(shuffle, expand[0].out_channels)
    before = torch.empty_like(order)
    before[order] = torch.arange(len(order))  # dense (after-shuffle) channel of each channel before the shuffle
    with torch.no_grad():
        expand[0].weight.copy_(_to_groups(d.expand[before], expand[0].groups))
        _set_bn(expand[1], {k: v[before] for k, v in d.bn1.items()})
        dw[0].weight.copy_(d.dw[:, None])
        _set_bn(dw[1], d.bn2)
        project[0].weight.copy_(_to_groups(d.project, project[0].groups))
        _set_bn(project[1], d.bn3)


def _resize_kernel(d: _Dense, kernel: int) -> None:
    """Zero-pad (exact) or centre-crop the depthwise kernels to ``kernel``."""
    k = d.dw.shape[-1]
    if kernel > k:
        p = (kernel - k) // 2
        d.dw = nn.functional.pad(d.dw, (p, p, p, p))
    elif kernel < k:
        c = (k - kernel) // 2
        d.dw = d.dw[:, c:c + kernel, c:c + kernel].clone()


def _importance(d: _Dense) -> torch.Tensor:
    """Per hidden channel: the expected norm of its contribution to the block's output (see the module doc)."""
    mu, sigma = d.bn2["bias"].double(), d.bn2["weight"].double().abs().clamp_min(1e-12)
    t = mu / sigma
    cdf = 0.5 * (1 + torch.erf(t / math.sqrt(2)))
    pdf = torch.exp(-0.5 * t * t) / math.sqrt(2 * math.pi)
    relu_sq = (mu * mu + sigma * sigma) * cdf + mu * sigma * pdf   # E[ReLU(z)^2], z ~ N(mu, sigma^2)
    out_scale = d.bn3["weight"].double() / torch.sqrt(d.bn3["running_var"].double() + d.eps)
    return (out_scale[:, None] * d.project.double()).norm(dim=0) * relu_sq.clamp_min(0).sqrt()


def _resize_hidden(d: _Dense, hidden: int) -> None:
    """Grow by copying incoming paths with zero outgoing weights (exact), or keep the most important channels."""
    old = d.hidden
    if hidden > old:
        index = torch.arange(hidden) % old
    elif hidden < old:
        index = torch.sort(torch.topk(_importance(d), hidden).indices).values
    else:
        return
    d.expand, d.dw = d.expand[index], d.dw[index]
    d.bn1 = {k: v[index] for k, v in d.bn1.items()}
    d.bn2 = {k: v[index] for k, v in d.bn2.items()}
    d.project = d.project[:, index].clone()
    if hidden > old:
        d.project[:, old:] = 0.0


def _skip_as_dense(conv: nn.Conv2d, bn: nn.BatchNorm2d, hidden: int, kernel: int) -> _Dense:
    """A strided 1x1 conv + BN written as an ``ir`` block through ReLU(x) - ReLU(-x) = x (see the module doc)."""
    w = conv.weight.detach()[:, :, 0, 0]
    out, inp = w.shape
    rows = torch.arange(hidden)
    sign = torch.where((rows // inp) % 2 == 0, 1.0, -1.0)   # +x, -x, +x, ... in blocks of ``in`` channels
    expand = torch.zeros(hidden, inp)
    expand[rows, rows % inp] = sign
    dw = torch.zeros(hidden, kernel, kernel)
    dw[:, kernel // 2, kernel // 2] = 1.0
    project = torch.zeros(out, hidden)
    project[:, :inp] = w
    if hidden >= 2 * inp:
        project[:, inp:2 * inp] = -w
    eps = float(bn.eps)
    return _Dense(expand, _identity_bn(hidden, eps), dw, _identity_bn(hidden, eps), project, _bn_state(bn), eps)


def _linearised(d: _Dense) -> Tuple[torch.Tensor, torch.Tensor]:
    """(W, b) of the affine map the block becomes with identity ReLUs and each depthwise kernel summed."""
    def affine(bn):
        a = bn["weight"] / torch.sqrt(bn["running_var"] + d.eps)
        return a, bn["bias"] - bn["running_mean"] * a
    a1, c1 = affine(d.bn1)
    a2, c2 = affine(d.bn2)
    a3, c3 = affine(d.bn3)
    s = d.dw.sum(dim=(1, 2))
    w = a3[:, None] * ((d.project * (a2 * s * a1)[None, :]) @ d.expand)
    b = a3 * (d.project @ (a2 * s * c1 + c2)) + c3
    return w, b


# ---- applying moves to a network ---------------------------------------------------------------------------
def _check_parent(parent: nn.Module, space: SearchSpace) -> None:
    """Refuse a parent that is not a network of ``space`` (another space, another architecture's weights)."""
    if not isinstance(parent, Network):
        raise ArchitectureError(f"a morphism's parent must be a network built by build_network, not "
                                f"{type(parent).__name__}")
    arch = space.check(parent.arch)
    want = {k: v.shape for k, v in build_network(space, arch).state_dict().items()}
    have = {k: v.shape for k, v in parent.state_dict().items()}
    if want != have:
        key = next((k for k in sorted(set(want) | set(have)) if want.get(k) != have.get(k)), "?")
        raise ArchitectureError(f"the parent network does not fit space {space.name!r} ({space.format(arch)}): "
                                f"{key} is {tuple(have[key]) if key in have else 'missing'}, the space builds "
                                f"{tuple(want[key]) if key in want else 'nothing'}")


def _transfer(old: nn.Module, new: nn.Module, space: SearchSpace, layer: int, kind: str) -> None:
    """Fill ``new`` (freshly built for the target candidate) from the parent's layer ``old``."""
    if kind == "insert":
        if isinstance(old, nn.Identity):          # residual position: the new block adds zero
            bn = _parts(new)[3][1]
            with torch.no_grad():
                bn.weight.zero_()
                bn.bias.zero_()
            return
        expand, _, dw, _ = _parts(new)
        _write(_skip_as_dense(old[0], old[1], expand[0].out_channels, dw[0].kernel_size[0]), new)
        return
    d = _read(old)
    if kind == "remove":
        if isinstance(new, nn.Identity):
            return
        w, b = _linearised(d)
        with torch.no_grad():
            new[0].weight.copy_(w[:, :, None, None])
        _set_bn(new[1], _identity_bn(w.shape[0], float(new[1].eps), shift=b))
        return
    expand, _, dw, _ = _parts(new)
    _resize_kernel(d, dw[0].kernel_size[0])
    _resize_hidden(d, expand[0].out_channels)
    _write(d, new)


def apply_moves(parent: Network, space: SearchSpace, moves: Sequence[Move]) -> Network:
    """The child of ``parent`` after ``moves`` (in order), its weights the parent's; the parent is not changed.

    Raises :class:`ArchitectureError` for a parent that is not a network of ``space`` and for a move that
    does not start from the architecture so far or is no morphism of the space.
    """
    _check_parent(parent, space)
    child = copy.deepcopy(parent)
    arch = list(parent.arch)
    index = {n: i for i, n in enumerate(space.candidate_names)}
    for move in moves:
        if not 0 <= move.layer < space.num_layers or move.source not in index or move.target not in index:
            raise ArchitectureError(f"move {move} does not fit space {space.name!r} ({space.num_layers} layers, "
                                    f"candidates {', '.join(space.candidate_names)})")
        if arch[move.layer] != index[move.source]:
            raise ArchitectureError(f"move {move} starts from {move.source} but layer {move.layer} is "
                                    f"{space.candidate_names[arch[move.layer]]}")
        known = move_between(space, move.layer, index[move.source], index[move.target])
        if known is None:
            raise ArchitectureError(f"no morphism of space {space.name!r} turns {move.source} into {move.target} "
                                    f"(layer {move.layer})")
        old = child.layers[move.layer]
        new = build_op(space.layer_key(move.layer, index[move.target]))
        param = next(old.parameters(), None)
        new.to(param.device if param is not None else "cpu").train(old.training)
        _transfer(old, new, space, move.layer, known.kind)
        child.layers[move.layer] = new
        arch[move.layer] = index[move.target]
    child.arch = tuple(arch)
    return child
