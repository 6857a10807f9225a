"""Measurement backends, looked up by name. Each lives in its own module behind :class:`Profiler`."""
from __future__ import annotations

import importlib
from typing import Dict, Tuple

from edgenas.errors import UnknownNameError

from .base import Profiler

# name -> (module, class). Modules are imported on demand so a missing runtime
# only matters to the backend that needs it.
BACKENDS: Dict[str, Tuple[str, str]] = {
    "onnxruntime": ("profilers.onnxruntime_cpu", "OnnxRuntimeCPUProfiler"),
    "torch": ("profilers.torch_cpu", "TorchCPUProfiler"),
    "executorch-xnnpack": ("profilers.executorch_xnnpack", "ExecuTorchXnnpackProfiler"),
    "litert-xnnpack": ("profilers.litert_xnnpack", "LiteRTXnnpackProfiler"),
    "torch-cuda": ("profilers.torch_cuda", "TorchCUDAProfiler"),
    "onnxruntime-cuda": ("profilers.onnxruntime_cuda", "OnnxRuntimeCUDAProfiler"),
    "tensorrt": ("profilers.tensorrt_gpu", "TensorRTProfiler"),
}


def get_profiler(name: str, **kwargs) -> Profiler:
    """Instantiate the backend ``name`` (``threads=``, ``protocol=`` and backend options)."""
    if name not in BACKENDS:
        raise UnknownNameError("backend", name, BACKENDS)
    module, cls = BACKENDS[name]
    return getattr(importlib.import_module(module), cls)(**kwargs)


__all__ = ["BACKENDS", "Profiler", "get_profiler"]
