"""Measurement backends, looked up by name. Each lives in its own module behind :class:`Profiler`."""
from __future__ import annotations

import importlib
from typing import Dict, Tuple, Union

from edgenas.errors import UnknownNameError

from .base import Profiler

# name -> (module, class[, options]). Modules are imported on demand so a missing
# runtime only matters to the backend that needs it. A variant (CUDA graphs, a
# precision) is its own name, so a table's backend name rebuilds exactly the
# profiler that measured it (``table validate``).
BACKENDS: Dict[str, Union[Tuple[str, str], Tuple[str, str, dict]]] = {
    "onnxruntime": ("profilers.onnxruntime_cpu", "OnnxRuntimeCPUProfiler"),
    "torch": ("profilers.torch_cpu", "TorchCPUProfiler"),
    "executorch-xnnpack": ("profilers.executorch_xnnpack", "ExecuTorchXnnpackProfiler"),
    "litert-xnnpack": ("profilers.litert_xnnpack", "LiteRTXnnpackProfiler"),
    "torch-cuda": ("profilers.torch_cuda", "TorchCUDAProfiler"),
    "torch-cuda-graphs": ("profilers.torch_cuda", "TorchCUDAProfiler", {"cuda_graphs": True}),
    "torch-cuda-fp16": ("profilers.torch_cuda", "TorchCUDAProfiler", {"precision": "fp16"}),
    "onnxruntime-cuda": ("profilers.onnxruntime_cuda", "OnnxRuntimeCUDAProfiler"),
    "onnxruntime-cuda-transfers": ("profilers.onnxruntime_cuda", "OnnxRuntimeCUDAProfiler", {"with_transfers": True}),
    "tensorrt": ("profilers.tensorrt_gpu", "TensorRTProfiler"),
    "tensorrt-fp16": ("profilers.tensorrt_gpu", "TensorRTProfiler", {"precision": "fp16"}),
    "tensorrt-int8": ("profilers.tensorrt_gpu", "TensorRTProfiler", {"precision": "int8"}),
}


def get_profiler(name: str, **kwargs) -> Profiler:
    """Instantiate the backend ``name`` (``threads=``, ``protocol=`` and backend options)."""
    if name not in BACKENDS:
        raise UnknownNameError("backend", name, BACKENDS)
    module, cls, *options = BACKENDS[name]
    profiler = getattr(importlib.import_module(module), cls)(**{**(options[0] if options else {}), **kwargs})
    if profiler.name not in BACKENDS:
        raise ValueError(f"backend {name!r} built a profiler named {profiler.name!r}, which is not registered")
    return profiler


__all__ = ["BACKENDS", "Profiler", "get_profiler"]
