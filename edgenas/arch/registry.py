"""One op registry: the supernet, the profilers and the exporters build every op here.

A table key names an op by its registered name and frozen arguments, so the
module that was measured is exactly the module that is searched and exported.
"""
from __future__ import annotations

from typing import Callable, Dict

import torch.nn as nn

from ..errors import UnknownNameError

OpBuilder = Callable[..., nn.Module]


class OpRegistry:
    """Maps an op name to a function that builds a ``torch.nn.Module`` from keyword args."""

    def __init__(self, name: str):
        self.name = name
        self._builders: Dict[str, OpBuilder] = {}

    def register(self, op_name: str) -> Callable[[OpBuilder], OpBuilder]:
        """Decorator: register ``builder`` under ``op_name``. A duplicate name is an error."""

        def add(builder: OpBuilder) -> OpBuilder:
            if op_name in self._builders:
                raise ValueError(f"op {op_name!r} is already registered in {self.name!r}")
            self._builders[op_name] = builder
            return builder

        return add

    def build(self, op_name: str, **args) -> nn.Module:
        """Build the op ``op_name`` with ``args``; an unknown name raises :class:`UnknownNameError`."""
        try:
            builder = self._builders[op_name]
        except KeyError:
            raise UnknownNameError("op", op_name, self._builders, where=f"registry {self.name!r}") from None
        return builder(**args)

    def __contains__(self, op_name: str) -> bool:
        return op_name in self._builders

    def names(self):
        return sorted(self._builders)


OPS = OpRegistry("edgenas.arch.ops")
