"""TensorRT: an engine per op, built from its ONNX model, timed with the TensorRT runtime and CUDA events.

Build: ``trt.Builder`` → ``create_network`` → ``trt.OnnxParser.parse`` →
``build_serialized_network`` with FP32, FP16 (``BuilderFlag.FP16``) or INT8
(``BuilderFlag.INT8``). Run: ``trt.Runtime.deserialize_cuda_engine`` →
``create_execution_context``, device buffers bound with
``set_tensor_address``, ``execute_async_v3`` on a dedicated CUDA stream of the profiler (not the
legacy default stream), timed with CUDA events on that stream: **compute only**, no host transfer.

Needs TensorRT 10 (``pip install 'tensorrt>=10,<11'``): TensorRT 11 removes the
FP16/INT8 builder flags this module sets.

INT8 here is for latency only: no calibration data is used; every tensor gets a
fixed dynamic range so the builder can choose INT8 kernels, as ``trtexec
--int8`` does without a calibration cache. Accuracy of such an engine means
nothing; its speed is what a calibrated engine of the same graph runs at.
"""
from __future__ import annotations

from typing import Tuple

import torch.nn as nn

from edgenas.errors import BackendUnavailableError, ExportError
from edgenas.deploy.formats.lowering import parse_onnx, require_tensorrt, to_onnx_bytes

from .base import Profiler
from .gpu_info import ClockLog, cuda_device_info

PRECISIONS = ("fp32", "fp16", "int8")
INT8_RANGE = 4.0
TRT_RANGE = "tensorrt>=10,<11"


def build_engine(onnx_bytes: bytes, precision: str, workspace_bytes: int = 1 << 30) -> bytes:
    """A serialised TensorRT engine for ``onnx_bytes`` at ``precision``."""
    trt = require_tensorrt()
    builder, network, parser = parse_onnx(trt, onnx_bytes, trt.Logger(trt.Logger.ERROR), "the ONNX model")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
    try:
        if precision == "fp16":
            config.set_flag(trt.BuilderFlag.FP16)
        elif precision == "int8":
            config.set_flag(trt.BuilderFlag.INT8)
            config.set_flag(trt.BuilderFlag.FP16)  # layers without an INT8 kernel fall back to FP16, not FP32
            for i in range(network.num_inputs):
                network.get_input(i).set_dynamic_range(-INT8_RANGE, INT8_RANGE)
            for i in range(network.num_layers):
                layer = network.get_layer(i)
                for j in range(layer.num_outputs):
                    layer.get_output(j).set_dynamic_range(-INT8_RANGE, INT8_RANGE)
    except AttributeError as e:  # TensorRT 11 removed the precision flags and dynamic ranges
        raise BackendUnavailableError(f"TensorRT {getattr(trt, '__version__', '?')} cannot build a {precision} "
                                      f"engine the way edgenas does ({e}); install {TRT_RANGE}") from None
    engine = builder.build_serialized_network(network, config)
    if engine is None:
        raise ExportError(f"TensorRT could not build a {precision} engine")
    return bytes(engine)


class TensorRTProfiler(Profiler):
    name = "tensorrt"

    def __init__(self, threads: int = 1, protocol=None, device: int = 0, precision: str = "fp32"):
        from edgenas.profiling.measure import TimingProtocol

        super().__init__(threads, protocol or TimingProtocol())
        if precision not in PRECISIONS:
            raise ValueError(f"TensorRT precision is one of {', '.join(PRECISIONS)}")
        self.device, self.precision = device, precision
        self._stream = None  # the dedicated CUDA stream engines run and are timed on; made on first prepare
        self._clocks = ClockLog(device)
        self.name = "tensorrt" if precision == "fp32" else f"tensorrt-{precision}"

    def runtime_info(self) -> dict:
        trt = require_tensorrt()
        return {"runtime": "tensorrt", "version": trt.__version__, "api": "execute_async_v3",
                "timed": "compute only: CUDA events on the execution stream, device buffers, synchronised",
                "threads": self.threads, "precision": self.precision}

    def device_info(self) -> dict:
        self._clocks.read()
        return cuda_device_info(self.device)

    def run_stats(self) -> dict:
        return self._clocks.stats()

    def prepare(self, module: nn.Module, input_shape: Tuple[int, ...]):
        trt = require_tensorrt()
        import torch

        torch.cuda.set_device(self.device)
        runtime = trt.Runtime(trt.Logger(trt.Logger.ERROR))
        engine = runtime.deserialize_cuda_engine(build_engine(to_onnx_bytes(module, input_shape), self.precision))
        context = engine.create_execution_context()
        buffers = []  # keep the tensors alive as long as the context uses their addresses
        for i in range(engine.num_io_tensors):
            tname = engine.get_tensor_name(i)
            shape = tuple(engine.get_tensor_shape(tname))
            dtype = torch.from_numpy(trt.nptype(engine.get_tensor_dtype(tname))(0).reshape(1)).dtype
            buf = torch.randn(shape, device="cuda").to(dtype)
            buffers.append(buf)
            context.set_tensor_address(tname, buf.data_ptr())
        if self._stream is None:
            self._stream = torch.cuda.Stream(self.device)
        stream = self._stream
        stream.wait_stream(torch.cuda.current_stream(self.device))  # the buffers are filled on the current stream

        def run():
            if not context.execute_async_v3(stream.cuda_stream):
                raise ExportError("TensorRT execute_async_v3 failed")

        run._keep = (runtime, engine, context, buffers)  # noqa: SLF001
        return run

    def time(self, run, protocol=None):
        """Time on the profiler's own stream: the timer's CUDA events are recorded on the stream TensorRT runs on."""
        import torch

        if self._stream is None:
            raise TypeError("TensorRTProfiler.time takes what its prepare() returned")
        with torch.cuda.device(self.device), torch.cuda.stream(self._stream):
            return super().time(run, protocol)

    def timer(self):
        from .torch_cuda import cuda_event_timer

        return cuda_event_timer
