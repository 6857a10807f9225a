"""The profiler protocol every measurement backend implements.

A backend turns a module and an input shape into a zero-argument callable that
runs one synchronised inference (:meth:`Profiler.prepare`); timing itself is
the shared :func:`edgenas.measure.measure`, so every backend follows one
protocol. :meth:`runtime_info` goes into the table header: a table measured one
way never mixes with another.
"""
from __future__ import annotations

import os
import platform
from abc import ABC, abstractmethod
from typing import Callable, Tuple

import torch.nn as nn

from edgenas.measure import Timing, TimingProtocol, measure


class Profiler(ABC):
    """Base class of the measurement backends. Subclasses set ``name`` and implement two methods."""

    name: str = ""
    precision: str = "fp32"

    def __init__(self, threads: int = 1, protocol: TimingProtocol = TimingProtocol()):
        if threads < 1:
            raise ValueError("threads must be >= 1")
        self.threads = threads
        self.protocol = protocol

    @abstractmethod
    def runtime_info(self) -> dict:
        """Runtime name and version and every setting that changes timings."""

    @abstractmethod
    def prepare(self, module: nn.Module, input_shape: Tuple[int, ...]) -> Callable[[], object]:
        """A callable that runs ``module`` once on a fixed input of ``input_shape`` and waits for it."""

    def artifact(self, module: nn.Module, input_shape: Tuple[int, ...]) -> object:
        """The picklable, expensive part of :meth:`prepare` (an exported model), which may run in another
        process (:mod:`edgenas.prefetch`). Default: the module itself."""
        return module

    def load(self, artifact: object, input_shape: Tuple[int, ...]) -> Callable[[], object]:
        """:meth:`prepare` from what :meth:`artifact` returned."""
        return self.prepare(artifact, input_shape)

    def measure(self, module: nn.Module, input_shape: Tuple[int, ...]) -> Timing:
        return measure(self.prepare(module.eval(), input_shape), self.protocol)

    def measure_artifact(self, artifact: object, input_shape: Tuple[int, ...]) -> Timing:
        return measure(self.load(artifact, input_shape), self.protocol)

    def overhead(self, input_shape: Tuple[int, ...]) -> Timing:
        """Cost of running a model that computes nothing (an identity) on ``input_shape``."""
        return self.measure(nn.Identity(), input_shape)

    def device_info(self) -> dict:
        return host_device_info(self.threads)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host_device_info(threads: int) -> dict:
    """The host as a table header describes it."""
    try:
        affinity = sorted(os.sched_getaffinity(0))
    except AttributeError:
        affinity = []
    return {"kind": "host-cpu", "cpu": _cpu_model(), "machine": platform.machine(),
            "cores": os.cpu_count(), "affinity": affinity, "threads": threads,
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version()}
