"""Search spaces as data.

A space is declared as a small table (a dict literal or a JSON file a user can
write), parsed once into a flat tuple of frozen :class:`LayerSpec`. An
architecture is a tuple of candidate indices, one per searchable layer, whose
string form (candidate names joined by ``-``) round-trips through
:meth:`SearchSpace.parse` / :meth:`SearchSpace.format`.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Tuple

import numpy as np

from ..errors import ArchitectureError, SpaceError, UnknownNameError
from .declaration import check_declaration
from .ops import is_identity

Architecture = Tuple[int, ...]
DTYPE = "float32"

# FBNet's nine candidates (Wu et al. 2019, table 2): kernel, expansion, groups of the 1x1 convs.
FBNET_CANDIDATES = {
    "k3_e1": {"op": "ir", "kernel": 3, "expansion": 1, "groups": 1},
    "k3_e1_g2": {"op": "ir", "kernel": 3, "expansion": 1, "groups": 2},
    "k3_e3": {"op": "ir", "kernel": 3, "expansion": 3, "groups": 1},
    "k3_e6": {"op": "ir", "kernel": 3, "expansion": 6, "groups": 1},
    "k5_e1": {"op": "ir", "kernel": 5, "expansion": 1, "groups": 1},
    "k5_e1_g2": {"op": "ir", "kernel": 5, "expansion": 1, "groups": 2},
    "k5_e3": {"op": "ir", "kernel": 5, "expansion": 3, "groups": 1},
    "k5_e6": {"op": "ir", "kernel": 5, "expansion": 6, "groups": 1},
    "skip": {"op": "skip"},
}

PRESETS: Dict[str, dict] = {
    # FBNet at 224x224 / ImageNet: 22 searchable layers.
    "fbnet-224": {
        "input": {"channels": 3, "size": 224},
        "num_classes": 1000,
        "stem": {"out_ch": 16, "kernel": 3, "stride": 2},
        "stages": {"layers": [1, 4, 4, 4, 4, 4, 1],
                   "channels": [16, 24, 32, 64, 112, 184, 352],
                   "strides": [1, 2, 2, 2, 1, 2, 1]},
        "head": {"mid_ch": 1504},
        "candidates": FBNET_CANDIDATES,
    },
    # Same family for 28x28 grayscale, 10 classes (MNIST): stride-2 stem and two stride-2 stages,
    # narrower, so that a supernet epoch on 4,000 images takes well under a minute on two CPU cores.
    "fbnet-small": {
        "input": {"channels": 1, "size": 28},
        "num_classes": 10,
        "stem": {"out_ch": 12, "kernel": 3, "stride": 2},
        "stages": {"layers": [1, 2, 2, 2, 1],
                   "channels": [12, 16, 24, 32, 48],
                   "strides": [1, 1, 2, 2, 1]},
        "head": {"mid_ch": 128},
        "candidates": FBNET_CANDIDATES,
    },
    # The small family for 32x32 RGB, 10 classes (CIFAR-10).
    "fbnet-cifar": {
        "input": {"channels": 3, "size": 32},
        "num_classes": 10,
        "stem": {"out_ch": 16, "kernel": 3, "stride": 2},
        "stages": {"layers": [1, 2, 3, 3, 1],
                   "channels": [16, 24, 32, 64, 96],
                   "strides": [1, 1, 2, 2, 1]},
        "head": {"mid_ch": 256},
        "candidates": FBNET_CANDIDATES,
    },
}


def freeze_args(args: dict) -> Tuple[Tuple[str, object], ...]:
    return tuple(sorted(args.items()))


@dataclass(frozen=True)
class OpKey:
    """The value that names one table entry: op, frozen args, input shape and dtype."""

    op: str
    args: Tuple[Tuple[str, object], ...]
    input_shape: Tuple[int, ...]
    dtype: str = DTYPE

    @property
    def kwargs(self) -> dict:
        return dict(self.args)

    @property
    def is_identity(self) -> bool:
        return is_identity(self.op, self.kwargs)

    def to_json(self) -> dict:
        return {"op": self.op, "args": dict(self.args), "input_shape": list(self.input_shape), "dtype": self.dtype}

    @classmethod
    def from_json(cls, d: dict) -> "OpKey":
        return cls(d["op"], freeze_args(d["args"]), tuple(int(v) for v in d["input_shape"]), d.get("dtype", DTYPE))

    def __str__(self) -> str:
        args = ",".join(f"{k}={v}" for k, v in self.args)
        return f"{self.op}({args})@{'x'.join(map(str, self.input_shape))}:{self.dtype}"


@dataclass(frozen=True)
class Candidate:
    name: str
    op: str
    args: Tuple[Tuple[str, object], ...]


@dataclass(frozen=True)
class LayerSpec:
    """One searchable layer: where it sits and the shape it maps."""

    index: int
    stage: int
    in_ch: int
    out_ch: int
    stride: int
    input_hw: int

    @property
    def output_hw(self) -> int:
        return (self.input_hw + self.stride - 1) // self.stride


@dataclass(frozen=True)
class SearchSpace:
    """A parsed search space. Build one with :func:`get_space` or :meth:`from_dict`."""

    name: str
    input_channels: int
    input_size: int
    num_classes: int
    stem: Tuple[Tuple[str, object], ...]
    layers: Tuple[LayerSpec, ...]
    head_mid_ch: int
    candidates: Tuple[Candidate, ...]
    declaration: dict = field(compare=False, hash=False, repr=False)

    # ---- construction -------------------------------------------------
    @classmethod
    def from_dict(cls, name: str, decl: dict) -> "SearchSpace":
        """Parse a declaration (see :data:`PRESETS` for the format; :mod:`edgenas.arch.declaration` its schema)."""
        check_declaration(name, decl)
        try:
            inp, stem, stages = decl["input"], decl["stem"], decl["stages"]
            counts, channels, strides = stages["layers"], stages["channels"], stages["strides"]
            if not (len(counts) == len(channels) == len(strides)):
                raise SpaceError(f"space {name!r}: stages.layers, channels and strides differ in length")
            size = int(inp["size"])
            hw = (size + int(stem["stride"]) - 1) // int(stem["stride"])
            in_ch = int(stem["out_ch"])
            layers: List[LayerSpec] = []
            for stage, (n, out_ch, first_stride) in enumerate(zip(counts, channels, strides)):
                for i in range(int(n)):
                    stride = int(first_stride) if i == 0 else 1
                    layers.append(LayerSpec(len(layers), stage, in_ch, int(out_ch), stride, hw))
                    hw, in_ch = layers[-1].output_hw, int(out_ch)
            cands = []
            for cname, spec in decl["candidates"].items():
                spec = dict(spec)
                cands.append(Candidate(cname, spec.pop("op"), freeze_args(spec)))
            space = cls(name=name, input_channels=int(inp["channels"]), input_size=size,
                        num_classes=int(decl["num_classes"]),
                        stem=freeze_args({"out_ch": int(stem["out_ch"]), "kernel": int(stem["kernel"]),
                                          "stride": int(stem["stride"])}),
                        layers=tuple(layers), head_mid_ch=int(decl["head"]["mid_ch"]),
                        candidates=tuple(cands), declaration=decl)
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, SpaceError):
                raise
            raise SpaceError(f"space {name!r} is malformed: {type(e).__name__}: {e}") from None
        if not layers or not cands:
            raise SpaceError(f"space {name!r} has no searchable layers or no candidates")
        if "-" in "".join(c.name for c in cands):
            raise SpaceError(f"space {name!r}: candidate names must not contain '-'")
        return space

    # ---- shape --------------------------------------------------------
    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def num_candidates(self) -> int:
        return len(self.candidates)

    @property
    def candidate_names(self) -> Tuple[str, ...]:
        return tuple(c.name for c in self.candidates)

    @property
    def input_shape(self) -> Tuple[int, int, int, int]:
        return (1, self.input_channels, self.input_size, self.input_size)

    @property
    def size(self) -> int:
        """How many architectures the space holds."""
        return self.num_candidates ** self.num_layers

    @property
    def fingerprint(self) -> str:
        """Hash of everything that changes what a table entry means."""
        blob = json.dumps({"stem": self.stem, "layers": [l.__dict__ for l in self.layers],
                           "head": self.head_mid_ch, "classes": self.num_classes,
                           "input": self.input_shape,
                           "candidates": [(c.name, c.op, c.args) for c in self.candidates]},
                          sort_keys=True, default=list)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    # ---- op keys --------------------------------------------------------
    def stem_key(self) -> OpKey:
        return OpKey("stem", freeze_args({"in_ch": self.input_channels, **dict(self.stem)}), self.input_shape)

    def head_key(self) -> OpKey:
        last = self.layers[-1]
        return OpKey("head", freeze_args({"in_ch": last.out_ch, "mid_ch": self.head_mid_ch,
                                          "num_classes": self.num_classes}),
                     (1, last.out_ch, last.output_hw, last.output_hw))

    def layer_key(self, layer: int, candidate: int) -> OpKey:
        spec, cand = self.layers[layer], self.candidates[candidate]
        args = {"in_ch": spec.in_ch, "out_ch": spec.out_ch, "stride": spec.stride, **dict(cand.args)}
        return OpKey(cand.op, freeze_args(args), (1, spec.in_ch, spec.input_hw, spec.input_hw))

    def fixed_keys(self) -> Tuple[OpKey, OpKey]:
        return self.stem_key(), self.head_key()

    def op_keys(self) -> List[OpKey]:
        """Every distinct op of the space, in a stable order (stem, layers, head)."""
        keys: Dict[OpKey, None] = {self.stem_key(): None}
        for layer in range(self.num_layers):
            for cand in range(self.num_candidates):
                keys[self.layer_key(layer, cand)] = None
        keys[self.head_key()] = None
        return list(keys)

    # ---- architectures --------------------------------------------------
    def parse(self, text: str) -> Architecture:
        """Parse ``"k3_e1-skip-..."`` into a tuple of candidate indices."""
        if not str(text).strip():
            raise ArchitectureError(f"architecture is empty; space {self.name!r} has {self.num_layers} layers "
                                    f"(candidates joined by '-')")
        names = [t.strip() for t in str(text).strip().split("-")]
        if len(names) != self.num_layers:
            raise ArchitectureError(f"architecture has {len(names)} layers; space {self.name!r} has "
                                    f"{self.num_layers} (candidates joined by '-')")
        index = {n: i for i, n in enumerate(self.candidate_names)}
        try:
            return tuple(index[n] for n in names)
        except KeyError as e:
            raise ArchitectureError(f"unknown op {e.args[0]!r} in architecture; space {self.name!r} "
                                    f"has {', '.join(self.candidate_names)}") from None

    def format(self, arch: Sequence[int]) -> str:
        self.check(arch)
        return "-".join(self.candidates[int(c)].name for c in arch)

    def check(self, arch: Sequence[int]) -> Architecture:
        arch = tuple(int(c) for c in arch)
        if len(arch) != self.num_layers or any(not 0 <= c < self.num_candidates for c in arch):
            raise ArchitectureError(f"architecture {arch} does not fit space {self.name!r} "
                                    f"({self.num_layers} layers x {self.num_candidates} candidates)")
        return arch

    def sample(self, n: int, seed: int) -> np.ndarray:
        """``n`` uniformly random architectures as an ``(n, num_layers)`` int array, seeded."""
        rng = np.random.default_rng(seed)
        return rng.integers(0, self.num_candidates, size=(n, self.num_layers), dtype=np.int64)

    def describe(self) -> Iterable[Tuple[int, int, int, int, int, int]]:
        for l in self.layers:
            yield l.index, l.stage, l.in_ch, l.out_ch, l.stride, l.input_hw


def get_space(name_or_path: str) -> SearchSpace:
    """A preset by name (``fbnet-224``, ``fbnet-small``, ``fbnet-cifar``) or a JSON declaration file."""
    if name_or_path in PRESETS:
        return SearchSpace.from_dict(name_or_path, PRESETS[name_or_path])
    path = Path(name_or_path)
    if path.suffix == ".json":
        if not path.is_file():
            raise SpaceError(f"space file {path} does not exist")
        try:
            decl = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise SpaceError(f"space file {path} is not valid JSON: {e}") from None
        name = decl.get("name") if isinstance(decl, dict) and isinstance(decl.get("name"), str) else path.stem
        return SearchSpace.from_dict(name, decl)
    raise UnknownNameError("space", name_or_path, list(PRESETS) + ["<file>.json"])
