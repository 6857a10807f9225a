"""The options of ``edgenas export`` (:class:`ExportOptions`) and the export formats it knows."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence

from ..errors import UnknownNameError
from ..profiling.measure import TimingProtocol
from .source import DEFAULT_MAX_MODELS

__all__ = ["FORMATS", "INITS", "ExportOptions", "check_formats"]

FORMATS = ("onnx", "executorch", "tensorrt")
INITS = ("scratch", "supernet")


@dataclass
class ExportOptions:
    """Options of ``edgenas export`` (see the CLI for their meaning)."""

    run: str
    out: str
    models: Sequence[str] = ("pareto",)
    formats: Sequence[str] = ("onnx",)
    init: str = "scratch"
    epochs: int = 10
    batch_size: int = 128
    lr: float = 0.05
    seed: int = 0
    max_models: int = DEFAULT_MAX_MODELS
    table: Optional[str] = None
    dataset: Optional[str] = None
    baselines: Sequence[float] = ()
    threads: Optional[int] = None
    trt_precisions: Sequence[str] = ("fp32", "fp16", "int8")
    calibration_images: int = 256
    protocol: Optional[TimingProtocol] = None   # default: the table's own protocol
    report: bool = True
    jobs: int = 1                               # trainings at a time, before any measurement (train_ahead)


def check_formats(formats: Sequence[str]) -> List[str]:
    """The formats in order, ONNX first (the others are built from it or checked beside it).

    An unknown name is an :class:`UnknownNameError`; a format whose runtime is
    missing is a :class:`BackendUnavailableError` saying what to install.
    """
    out = ["onnx"]
    for f in formats:
        if f not in FORMATS:
            raise UnknownNameError("export format", f, FORMATS)
        if f not in out:
            out.append(f)
    if "tensorrt" in out:
        from .formats.tensorrt import tensorrt_available

        tensorrt_available()
    if "executorch" in out:
        from .formats.executorch import executorch_available

        executorch_available()
    return out
