"""Lowering: a ``torch.nn.Module`` to the bytes each runtime loads, and the runtime hooks profilers and exporters share.

ONNX bytes (:func:`to_onnx_bytes`, the one path every ONNX user in edgenas goes through), an ExecuTorch
program lowered to XNNPACK (:func:`lower_to_pte`, :func:`to_pte_bytes`), TensorRT's ONNX parser
(:func:`parse_onnx`), an onnxruntime session (:func:`ort_session`) and ExecuTorch's threadpool size
(:func:`set_xnnpack_threads`, :func:`load_pte_method`), and the CUDA device and TensorRT checks
(:func:`require_cuda`, :func:`cuda_device`, :func:`require_tensorrt`). ``profilers/`` builds its artifacts here and the exporters in
:mod:`edgenas.deploy.formats` check and write them, so a profiled op and an exported model are lowered
the same way. Imports nothing of edgenas but :mod:`edgenas.errors`, and nothing of ``profilers/``.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import warnings
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn

from ...errors import BackendUnavailableError, ExportError

OPSET = 17


def to_onnx_bytes(module: nn.Module, input_shape: Tuple[int, ...], dynamic_batch: bool = False) -> bytes:
    """Serialise ``module`` (eval mode) to an ONNX model with opset :data:`OPSET`.

    Uses the TorchScript exporter: it takes about 30 ms for one op where the
    dynamo exporter takes seconds, and profiling exports one model per op.
    """
    module = module.eval()
    buf = io.BytesIO()
    axes = {"input": {0: "batch"}, "output": {0: "batch"}} if dynamic_batch else None
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.zeros(input_shape),), buf, dynamo=False, opset_version=OPSET,
                          input_names=["input"], output_names=["output"], dynamic_axes=axes)
    return buf.getvalue()


@contextlib.contextmanager
def native_stderr_silenced():
    """Swallow what C++ code writes to file descriptor 2 (the TorchScript exporter dumps its graph on failure)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (embedded); nothing to silence
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _ort():
    try:
        import onnxruntime
    except ImportError:
        raise BackendUnavailableError("onnxruntime is not installed: pip install onnxruntime") from None
    return onnxruntime


def ort_session(model: bytes, threads: int, providers=("CPUExecutionProvider",)):
    """A session with fixed intra/inter-op threads and sequential execution."""
    ort = _ort()
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(model, so, providers=list(providers))


INSTALL = "pip install executorch"


def executorch_available() -> None:
    """Raise :class:`BackendUnavailableError` (saying what to install) when ExecuTorch is not installed.

    Only looks the packages up (importing ExecuTorch takes seconds and prints
    warnings of its optional parts); :func:`executorch_modules` imports them when needed.
    """
    import importlib.util

    for name in ("executorch.exir", "executorch.backends.xnnpack", "executorch.runtime"):
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise BackendUnavailableError(f"ExecuTorch is not installed ({name} is missing): {INSTALL}")


def executorch_modules():
    """``(to_edge_transform_and_lower, XnnpackPartitioner)``, imported quietly (torchao's optional CUDA
    kernels announce on stderr that they cannot load on a CPU machine)."""
    import logging

    executorch_available()
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()), native_stderr_silenced():
            warnings.simplefilter("ignore")
            from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
            from executorch.exir import to_edge_transform_and_lower
    except ImportError as e:
        raise BackendUnavailableError(f"ExecuTorch is not usable here ({e}); {INSTALL}") from None
    finally:
        logging.disable(previous)
    return to_edge_transform_and_lower, XnnpackPartitioner


def lower_to_pte(module: nn.Module, input_shape: Sequence[int]) -> Tuple[bytes, int]:
    """Serialise ``module`` to an ExecuTorch program lowered to XNNPACK: ``(bytes, delegated call count)``."""
    to_edge_transform_and_lower, XnnpackPartitioner = executorch_modules()
    x = torch.zeros(tuple(input_shape))
    with warnings.catch_warnings():
        # torch's own pytree code trips its LeafSpec deprecation a few times per export: not the user's to fix
        warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=FutureWarning)
        with torch.no_grad():
            exported = torch.export.export(module.eval(), (x,))
        edge = to_edge_transform_and_lower(exported, partitioner=[XnnpackPartitioner()])
        graph = edge.exported_program().graph_module.graph
        delegated = sum(1 for n in graph.nodes if n.op == "call_function" and "call_delegate" in str(n.target))
        return edge.to_executorch().buffer, delegated


def executorch_version() -> str:
    try:
        from executorch.version import __version__
    except ImportError:
        raise BackendUnavailableError("ExecuTorch is not installed: pip install executorch") from None
    return __version__


def to_pte_bytes(module: nn.Module, input_shape: Tuple[int, ...]) -> bytes:
    """An ExecuTorch program with every op XNNPACK supports delegated to XNNPACK (fp32): the ``.pte`` file
    a phone loads, lowered as the exporter lowers Pareto models (:func:`lower_to_pte`); a failure is an
    :class:`ExportError` naming the module.
    """
    executorch_version()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return lower_to_pte(module, input_shape)[0]
    except BackendUnavailableError:
        raise
    except Exception as e:  # the exporter raises many types; the message is what helps
        raise ExportError(f"ExecuTorch export of {type(module).__name__} failed: {type(e).__name__}: {e}") from None


def set_xnnpack_threads(threads: int) -> None:
    """Size ExecuTorch's shared threadpool (XNNPACK runs its kernels on it).

    Resetting the pool while a loaded program holds it crashes the process, so
    this is called before loading, and only when the size changes.
    """
    from executorch.extension.pybindings import portable_lib

    if portable_lib._threadpool_get_thread_count() != threads:
        portable_lib._unsafe_reset_threadpool(threads)


def load_pte_method(data_or_path, threads: Optional[int] = None):
    """``(program, forward method)`` of a ``.pte`` in ExecuTorch's host runtime. ``threads`` sizes the XNNPACK
    threadpool first (a loaded delegate keeps the pool it saw); keep the program alive while the method runs
    (the method reads the program's buffer)."""
    executorch_version()
    from executorch.runtime import Runtime

    if threads is not None:
        set_xnnpack_threads(threads)
    with native_stderr_silenced():  # the runtime's CPU probe prints a warning from C++
        program = Runtime.get().load_program(data_or_path)
        return program, program.load_method("forward")


def require_cuda():
    """``torch`` with a usable CUDA device, or a one-line :class:`BackendUnavailableError` naming what is missing."""
    if not torch.cuda.is_available():
        build = torch.version.cuda or "a CPU-only build"
        raise BackendUnavailableError(f"no CUDA device is usable (torch {torch.__version__}, {build}): install a "
                                      f"CUDA build of torch on a machine with an NVIDIA GPU")
    return torch


def cuda_device(index: Optional[int] = None) -> dict:
    """The CUDA device ``index`` (default: the current one) as torch sees it: name, compute capability, memory,
    multiprocessors. The one source of a GPU's identity: table headers and TensorRT engine stamps both use it."""
    require_cuda()
    index = torch.cuda.current_device() if index is None else index
    props = torch.cuda.get_device_properties(index)
    return {"gpu": props.name, "index": index, "compute_capability": f"{props.major}.{props.minor}",
            "memory_bytes": int(props.total_memory), "multiprocessors": props.multi_processor_count}


TENSORRT_INSTALL = ("pip install 'tensorrt>=10,<11' (TensorRT 11 removes the FP16/INT8 builder flags and the INT8 "
                    "calibrator edgenas uses; TensorRT also needs an NVIDIA GPU with a CUDA driver)")


def require_tensorrt():
    """The ``tensorrt`` module when TensorRT and a CUDA GPU are usable, else :class:`BackendUnavailableError`."""
    try:
        import tensorrt
    except ImportError:
        raise BackendUnavailableError(f"TensorRT is not installed: {TENSORRT_INSTALL}") from None
    require_cuda()
    return tensorrt


def parse_onnx(trt, onnx_bytes: bytes, logger, source: str) -> tuple:
    """``(builder, network, parser)`` of TensorRT's ONNX parser on ``onnx_bytes``; :class:`ExportError` naming
    ``source`` when it rejects the model. Keep the parser until the engine is built: it owns the weights."""
    builder = trt.Builder(logger)
    major = int(str(trt.__version__).split(".")[0])
    # TensorRT 10 only has explicit batch (flag 0); 8.x must ask for it
    flags = 0 if major >= 10 else 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_bytes):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ExportError(f"TensorRT's ONNX parser rejects {source}: {errors}")
    return builder, network, parser
