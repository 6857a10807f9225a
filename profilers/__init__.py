"""Measurement backends, looked up by name. Each lives in its own module behind :class:`Profiler`."""
from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

from edgenas.errors import UnknownNameError

from .base import Profiler


@dataclass(frozen=True)
class Backend:
    """A registered backend: the class that implements it, its options, and what it needs to run."""

    module: str
    cls: str
    options: dict = field(default_factory=dict)
    needs: Tuple[Tuple[str, str], ...] = ()   # (importable module, how to install it)
    gpu: bool = False                         # needs an NVIDIA GPU


_ORT = (("onnxruntime", "pip install onnxruntime"),)
_ORT_GPU = (("onnxruntime", "pip install onnxruntime-gpu"),)
_TRT = (("tensorrt", "pip install 'tensorrt>=10,<11'"),)
_LITERT = (("ai_edge_litert", "pip install ai-edge-litert"), ("litert_torch", "pip install litert-torch"))

# Modules are imported on demand so a missing runtime only matters to the backend that needs it. A variant
# (CUDA graphs, a precision) is its own name, so a table's backend name rebuilds exactly the profiler that
# measured it (``table validate``, the deployment measurements).
BACKENDS: Dict[str, Backend] = {
    "onnxruntime": Backend("profilers.onnxruntime_cpu", "OnnxRuntimeCPUProfiler", needs=_ORT),
    "torch": Backend("profilers.torch_cpu", "TorchCPUProfiler"),
    "executorch-xnnpack": Backend("profilers.executorch_xnnpack", "ExecuTorchXnnpackProfiler",
                                  needs=(("executorch", "pip install executorch"),)),
    "litert-xnnpack": Backend("profilers.litert_xnnpack", "LiteRTXnnpackProfiler", needs=_LITERT),
    "torch-cuda": Backend("profilers.torch_cuda", "TorchCUDAProfiler", gpu=True),
    "torch-cuda-graphs": Backend("profilers.torch_cuda", "TorchCUDAProfiler", {"cuda_graphs": True}, gpu=True),
    "torch-cuda-fp16": Backend("profilers.torch_cuda", "TorchCUDAProfiler", {"precision": "fp16"}, gpu=True),
    "onnxruntime-cuda": Backend("profilers.onnxruntime_cuda", "OnnxRuntimeCUDAProfiler", needs=_ORT_GPU, gpu=True),
    "onnxruntime-cuda-transfers": Backend("profilers.onnxruntime_cuda", "OnnxRuntimeCUDAProfiler",
                                          {"with_transfers": True}, needs=_ORT_GPU, gpu=True),
    "tensorrt": Backend("profilers.tensorrt_gpu", "TensorRTProfiler", needs=_TRT, gpu=True),
    "tensorrt-fp16": Backend("profilers.tensorrt_gpu", "TensorRTProfiler", {"precision": "fp16"}, needs=_TRT, gpu=True),
    "tensorrt-int8": Backend("profilers.tensorrt_gpu", "TensorRTProfiler", {"precision": "int8"}, needs=_TRT, gpu=True),
}


def get_profiler(name: str, **kwargs) -> Profiler:
    """Instantiate the backend ``name`` (``threads=``, ``protocol=`` and backend options)."""
    if name not in BACKENDS:
        raise UnknownNameError("backend", name, BACKENDS)
    b = BACKENDS[name]
    profiler = getattr(importlib.import_module(b.module), b.cls)(**{**b.options, **kwargs})
    if profiler.name not in BACKENDS:
        raise ValueError(f"backend {name!r} built a profiler named {profiler.name!r}, which is not registered")
    return profiler


def _nvidia_gpu() -> bool:
    return bool(shutil.which("nvidia-smi")) or os.path.exists("/proc/driver/nvidia/version")


def unusable(name: str) -> Optional[str]:
    """Why backend ``name`` cannot run here, in one line, or ``None`` when it looks usable.

    A cheap look (installed packages, a visible NVIDIA driver), without importing any runtime: the backend
    itself still checks everything when it starts, and says what is missing in one line.
    """
    if name not in BACKENDS:
        raise UnknownNameError("backend", name, BACKENDS)
    b = BACKENDS[name]
    missing = [install for module, install in b.needs if importlib.util.find_spec(module) is None]
    if b.gpu and not _nvidia_gpu():
        missing.insert(0, "needs an NVIDIA GPU")
    return "; ".join(missing) or None


__all__ = ["BACKENDS", "Backend", "Profiler", "get_profiler", "unusable"]
