"""The export formats by name: ``onnx``, ``executorch``, ``tensorrt`` (one object each, see :mod:`.base`)."""
from __future__ import annotations

from typing import Dict, List, Sequence

from ...errors import UnknownNameError
from .base import ExportFormat
from .executorch import EXECUTORCH
from .onnx import ONNX
from .tensorrt import TENSORRT

__all__ = ["FORMATS", "get_format", "check_formats"]

FORMATS: Dict[str, ExportFormat] = {f.name: f for f in (ONNX, EXECUTORCH, TENSORRT)}


def get_format(name: str) -> ExportFormat:
    """The format ``name``; an :class:`UnknownNameError` listing the known ones otherwise."""
    if name not in FORMATS:
        raise UnknownNameError("export format", name, FORMATS)
    return FORMATS[name]


def check_formats(names: Sequence[str]) -> List[ExportFormat]:
    """The formats ``names`` asks for, ONNX first (the others are built from it or checked beside it), each
    available here: a missing runtime is a :class:`BackendUnavailableError` saying what to install."""
    formats = [ONNX]
    for f in map(get_format, names):
        if f not in formats:
            formats.append(f)
    for f in formats:
        f.available()
    return formats
