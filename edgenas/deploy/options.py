"""The options of ``edgenas export`` (:class:`ExportOptions`); the formats it knows are in
:mod:`edgenas.deploy.formats.registry`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from ..profiling.measure import TimingProtocol
from .source import DEFAULT_MAX_MODELS

__all__ = ["INITS", "ExportOptions"]

INITS = ("scratch", "supernet", "inherited")   # inherited: the weights a morphism search trained


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
    threads: Optional[int] = None               # torch threads for training; measurements use the table's
    trt_precisions: Sequence[str] = ("fp32", "fp16", "int8")
    calibration_images: int = 256
    protocol: Optional[TimingProtocol] = None   # replaces the table's own protocol (shorter runs in tests)
    report: bool = True
    jobs: int = 1                               # trainings at a time, before any measurement (train_ahead)
