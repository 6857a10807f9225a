"""Architecture encodings for the predictors: an architecture batch -> a float matrix, looked up by name.

A chain space (one choice per layer, the spaces edgenas has) is encoded one-hot
per layer. A cell space would register its path encoding (BANANAS, White et
al. 2021: one bit per input-to-output path of ops) here under its own name, and
:func:`encoder_for` would pick it by the space's kind; the predictors only see
the :class:`Encoding` interface.
"""
from __future__ import annotations

import abc
from typing import Dict, Optional

import numpy as np

from ..arch.space import SearchSpace
from ..errors import UnknownNameError

__all__ = ["Encoding", "OneHotEncoding", "ENCODINGS", "encoder_for", "one_hot", "layer_args"]


class Encoding(abc.ABC):
    """Encodes ``(N, layers)`` int architectures of one space as ``(N, width)`` float32 rows, and back."""

    name: str

    def __init__(self, space: SearchSpace):
        self.space = space

    @property
    @abc.abstractmethod
    def width(self) -> int:
        """Columns of an encoded row."""

    @abc.abstractmethod
    def encode(self, archs: np.ndarray) -> np.ndarray:
        """``(N, width)`` rows for ``archs``."""

    @abc.abstractmethod
    def decode(self, rows: np.ndarray) -> np.ndarray:
        """The ``(N, layers)`` architectures of encoded ``rows`` (the inverse of :meth:`encode`)."""


class OneHotEncoding(Encoding):
    """Chain spaces: ``layers * candidates`` columns, a 1 at each layer's chosen candidate."""

    name = "one-hot"

    @property
    def width(self) -> int:
        return self.space.num_layers * self.space.num_candidates

    def encode(self, archs: np.ndarray) -> np.ndarray:
        return one_hot(self.space, archs)

    def decode(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows).reshape(-1, self.space.num_layers, self.space.num_candidates)
        return rows.argmax(2).astype(np.int64)


ENCODINGS: Dict[str, type] = {OneHotEncoding.name: OneHotEncoding}


def encoder_for(space: SearchSpace, name: Optional[str] = None) -> Encoding:
    """The encoding ``name`` of ``space``; without a name, the space's natural one (one-hot: every space is a
    chain)."""
    name = name or OneHotEncoding.name
    if name not in ENCODINGS:
        raise UnknownNameError("encoding", name, ENCODINGS)
    return ENCODINGS[name](space)


def one_hot(space: SearchSpace, archs: np.ndarray) -> np.ndarray:
    """``(N, layers * candidates)`` 0/1 encoding of a chain space's architectures."""
    archs = np.asarray(archs, dtype=np.int64).reshape(-1, space.num_layers)
    out = np.zeros((len(archs), space.num_layers * space.num_candidates), dtype=np.float32)
    cols = archs + np.arange(space.num_layers)[None, :] * space.num_candidates
    np.put_along_axis(out, cols, 1.0, axis=1)
    return out


def layer_args(space: SearchSpace, archs: np.ndarray) -> np.ndarray:
    """``(N, layers * (args + 1))``: each layer's candidate as its arguments' values (kernel, expansion, groups:
    0 where a candidate has none, as ``skip``) and whether it is a block. Trees split on these as sizes ("a
    kernel of at least 5"), which one-hot columns cannot say; the benchmark's surrogate ranks better on them."""
    names = sorted({k for c in space.candidates for k, _ in c.args})
    values = {k: sorted({str(dict(c.args)[k]) for c in space.candidates if k in dict(c.args)}) for k in names}

    def number(k, v):   # a number as itself, anything else (an activation's name) by its rank among the values
        return float(v) if isinstance(v, (int, float)) else 1.0 + values[k].index(str(v))

    table = np.array([[number(k, dict(c.args)[k]) if k in dict(c.args) else 0.0 for k in names]
                      + [float(c.op != "skip")] for c in space.candidates], dtype=np.float32)
    archs = np.asarray(archs, dtype=np.int64).reshape(-1, space.num_layers)
    return table[archs].reshape(len(archs), -1)
