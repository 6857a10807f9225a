"""The profiler protocol every measurement backend implements.

A backend turns a module and an input shape into a zero-argument callable that
runs one synchronised inference (:meth:`Profiler.prepare`); timing itself is
the shared :func:`edgenas.profiling.measure.measure`, so every backend follows one
protocol. :meth:`runtime_info` goes into the table header: a table measured one
way never mixes with another.
"""
from __future__ import annotations

import os
import platform
from abc import ABC, abstractmethod
from typing import Callable, Optional, Tuple

import torch.nn as nn

from edgenas.profiling.measure import Timer, Timing, TimingProtocol, measure


class Profiler(ABC):
    """Base class of the measurement backends. Subclasses set ``name`` and implement two methods."""

    name: str = ""
    precision: str = "fp32"

    def __init__(self, threads: int = 1, protocol: TimingProtocol = TimingProtocol()):
        if threads < 1:
            raise ValueError("threads must be >= 1")
        self.threads = threads
        self.protocol = protocol
        # The fixed model every timing is paired with when ``protocol.reference`` is set (see use_reference).
        self.reference: Optional[Callable[[], object]] = None

    @abstractmethod
    def runtime_info(self) -> dict:
        """Runtime name and version and every setting that changes timings."""

    @abstractmethod
    def prepare(self, module: nn.Module, input_shape: Tuple[int, ...]) -> Callable[[], object]:
        """A callable that runs ``module`` once on a fixed input of ``input_shape`` and waits for it."""

    def timer(self) -> Optional[Timer]:
        """The clock around one run; ``None`` means the host's (GPU backends read device events)."""
        return None

    def time(self, run: Callable[[], object], protocol: Optional[TimingProtocol] = None) -> Timing:
        """Time a prepared callable under this profiler's protocol (or ``protocol``) and clock, paired with the
        reference model when the protocol asks for one."""
        protocol = protocol or self.protocol
        return measure(run, protocol, self.timer(), reference=self.paired_reference(protocol))

    def paired_reference(self, protocol: TimingProtocol):
        """The reference model to pair with under ``protocol`` (``None`` when it does not pair)."""
        if protocol.reference and self.reference is None:
            raise TypeError("this profiler's protocol pairs every timing with a reference model: call "
                            "use_reference() first (edgenas.profiling.reference.attach_reference does it for a table)")
        return self.reference if protocol.reference else None

    def __getstate__(self) -> dict:
        # A profiler is pickled to the export worker (edgenas.profiling.prefetch), which never times: the loaded
        # reference model (a runtime session) stays in this process.
        return {**self.__dict__, "reference": None}

    def use_reference(self, module: nn.Module, input_shape: Tuple[int, ...]) -> None:
        """Make ``module`` the reference model that timings are paired with (``protocol.reference``)."""
        self.reference = self.prepare(module.eval(), input_shape)

    def measure(self, module: nn.Module, input_shape: Tuple[int, ...]) -> Timing:
        return self.time(self.prepare(module.eval(), input_shape))

    def release(self, run: Callable[[], object]) -> None:
        """Free what :meth:`prepare` made for ``run`` outside this process (a model pushed to a device).
        Local backends hold nothing there: the default does nothing."""

    def peak_memory_bytes(self, artifact: object, input_shape: Tuple[int, ...]) -> Optional[int]:
        """Measured peak memory of one run of what :meth:`artifact` returned (the module, for backends that do
        not override it) where the runtime can say (CUDA); ``None`` elsewhere."""
        return None

    # Profiling exports op i+1 while op i is timed when ``prefetch`` is set: :meth:`artifact` then runs in a
    # worker process (edgenas.profiling.prefetch), so the profiler must pickle and the artifact must be plain data.
    prefetch: bool = False

    def artifact(self, module: nn.Module, input_shape: Tuple[int, ...]) -> object:
        """The expensive, backend-specific preparation of ``module`` (an exported model). Default: the module."""
        return module

    def measure_artifact(self, artifact: object, input_shape: Tuple[int, ...]) -> Timing:
        """:meth:`measure` of what :meth:`artifact` returned."""
        return self.measure(artifact, input_shape)

    def overhead(self, input_shape: Tuple[int, ...]) -> Timing:
        """Cost of running a model that computes nothing (an identity) on ``input_shape``.

        Backends that hand a model to a delegate override this with the
        cheapest model the delegate takes (see :class:`DelegateCall`), so that
        the fixed cost of one delegate call is subtracted from every op.
        """
        return self.measure(nn.Identity(), input_shape)

    def device_info(self) -> dict:
        return host_device_info(self.threads)

    def run_stats(self) -> dict:
        """Readings of the last profile that are not settings (device temperatures); kept in the table's stats."""
        return {}


class DelegateCall(nn.Module):
    """The cheapest op a delegate (XNNPACK) accepts: one ReLU over the input.

    An identity model is not delegated at all, so its run cost misses what a
    delegate call itself costs; every op of a table pays that call, a whole
    network pays it once. A ReLU reads and writes the input once, which is
    small beside the call for the inputs of a search space.
    """

    def forward(self, x):
        return x.relu()



class ExportedModelProfiler(Profiler):
    """A backend that runs an exported model (ONNX, ``.pte``, ``.tflite``): :meth:`artifact` exports the
    module to bytes, :meth:`load` makes the bytes runnable. Exports are plain data, so a profile prepares
    them in a worker process ahead of the timing (``prefetch``)."""

    prefetch = True

    @abstractmethod
    def artifact(self, module: nn.Module, input_shape: Tuple[int, ...]) -> bytes:
        """The module exported to this runtime's format."""

    @abstractmethod
    def load(self, artifact: bytes, input_shape: Tuple[int, ...]) -> Callable[[], object]:
        """A callable that runs the exported model once on a fixed input and waits for it."""

    def prepare(self, module: nn.Module, input_shape: Tuple[int, ...]) -> Callable[[], object]:
        return self.load(self.artifact(module, input_shape), input_shape)

    def measure_artifact(self, artifact: bytes, input_shape: Tuple[int, ...]) -> Timing:
        return self.time(self.load(artifact, input_shape))

def cpu_model() -> str:
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
    return {"kind": "host-cpu", "cpu": cpu_model(), "machine": platform.machine(),
            "cores": os.cpu_count(), "affinity": affinity, "threads": threads,
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version()}
