"""TensorRT engines built from the exported ONNX with TensorRT's Python API: FP32, FP16 and INT8.

INT8 uses post-training calibration (``IInt8EntropyCalibrator2``) on a
calibration split of training images, never the test split. Every engine is
written with a stamp file beside it (``<engine>.json``: TensorRT version, GPU
name, compute capability, precision, the engine's SHA-256), and
:func:`load_engine` refuses an engine whose stamp does not match this
machine, since a serialized engine only runs on the TensorRT version and GPU
architecture that built it.

TensorRT needs an NVIDIA GPU with CUDA and ``pip install tensorrt``; where it
is missing :func:`tensorrt_available` raises
:class:`BackendUnavailableError` saying so, and nothing is built. This module
has not been run on this project's CPU-only machines.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ...errors import BackendUnavailableError, ExportError
from .base import ExportFormat, ExportInputs
from .lowering import cuda_device, parse_onnx, require_tensorrt
from ...fileio import PathLike, atomic_write_bytes, atomic_write_json

__all__ = ["PRECISIONS", "tensorrt_available", "machine_stamp", "build_engine", "load_engine",
           "run_engine", "TensorRTFormat", "TENSORRT"]

PRECISIONS = ("fp32", "fp16", "int8")


tensorrt_available = require_tensorrt  # the ``tensorrt`` module, or BackendUnavailableError saying what is missing


def machine_stamp(trt=None) -> dict:
    """What an engine is bound to: TensorRT version, GPU name and compute capability (of the current device)."""
    trt = trt or require_tensorrt()
    gpu = cuda_device()
    return {"tensorrt": trt.__version__, "gpu": gpu["gpu"], "compute_capability": gpu["compute_capability"]}


class _Calibrator:
    """Factory for an ``IInt8EntropyCalibrator2`` feeding fixed batches from device memory (torch CUDA tensors)."""

    @staticmethod
    def make(trt, images: np.ndarray, batch_size: int, input_name: str):
        import torch

        class Calibrator(trt.IInt8EntropyCalibrator2):
            def __init__(self):
                trt.IInt8EntropyCalibrator2.__init__(self)
                usable = len(images) - len(images) % batch_size
                self.batches = [torch.from_numpy(np.ascontiguousarray(images[i:i + batch_size])).cuda()
                                for i in range(0, usable, batch_size)]
                self.i = 0

            def get_batch_size(self):
                return batch_size

            def get_batch(self, names):
                if self.i >= len(self.batches):
                    return None
                self.i += 1
                return [int(self.batches[self.i - 1].data_ptr())]

            def read_calibration_cache(self):
                return None

            def write_calibration_cache(self, cache):
                return None

        return Calibrator()


def build_engine(onnx_path: PathLike, path: PathLike, precision: str, input_shape: Sequence[int], *,
                 max_batch: int = 16, calibration: Optional[np.ndarray] = None, workspace_bytes: int = 1 << 30) -> dict:
    """Build a serialized engine from the ONNX file for ``precision`` and write it with its stamp file."""
    if precision not in PRECISIONS:
        raise ExportError(f"unknown TensorRT precision {precision!r}; known: {', '.join(PRECISIONS)}")
    trt = tensorrt_available()
    builder, network, parser = parse_onnx(trt, Path(onnx_path).read_bytes(), trt.Logger(trt.Logger.WARNING),
                                          str(onnx_path))
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
    shape = tuple(int(s) for s in input_shape)
    name = network.get_input(0).name
    profile = builder.create_optimization_profile()
    profile.set_shape(name, (1, *shape[1:]), (1, *shape[1:]), (max_batch, *shape[1:]))
    config.add_optimization_profile(profile)
    calibrator = None
    if precision == "int8" and (calibration is None or len(calibration) < 8):
        raise ExportError("INT8 needs calibration images (at least 8) from the calibration split")
    try:
        if precision == "fp16":
            config.set_flag(trt.BuilderFlag.FP16)
        elif precision == "int8":
            config.set_flag(trt.BuilderFlag.INT8)
            batch = min(32, max_batch, len(calibration))
            calibrator = _Calibrator.make(trt, calibration.astype(np.float32), batch, name)
            config.int8_calibrator = calibrator
            calib_profile = builder.create_optimization_profile()
            calib_profile.set_shape(name, (batch, *shape[1:]), (batch, *shape[1:]), (batch, *shape[1:]))
            config.set_calibration_profile(calib_profile)
    except AttributeError as e:  # TensorRT 11 removed BuilderFlag.FP16/INT8, int8_calibrator and the calibrators
        raise BackendUnavailableError(f"TensorRT {getattr(trt, '__version__', '?')} cannot build a {precision} "
                                      f"engine the way edgenas does ({e}); install tensorrt>=10,<11") from None
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ExportError(f"TensorRT could not build a {precision} engine from {onnx_path} (see its log above)")
    data = bytes(serialized)
    stamp = {**machine_stamp(trt), "precision": precision, "max_batch": max_batch,
             "input_shape": list(shape), "sha256": hashlib.sha256(data).hexdigest()}
    atomic_write_bytes(path, data)
    atomic_write_json(str(path) + ".json", stamp)
    return {**stamp, "bytes": len(data), "file": Path(path).name}


def load_engine(path: PathLike):
    """Deserialize an engine after checking its stamp against this machine; refuse a foreign or altered one."""
    trt = tensorrt_available()
    path = Path(path)
    stamp_path = Path(str(path) + ".json")
    if not path.is_file() or not stamp_path.is_file():
        raise ExportError(f"engine {path} or its stamp {stamp_path.name} is missing")
    try:
        stamp = json.loads(stamp_path.read_text())
    except ValueError:
        raise ExportError(f"{stamp_path} is corrupt") from None
    here = machine_stamp(trt)
    diff = [f"{k} {stamp.get(k)!r} (here {v!r})" for k, v in here.items() if stamp.get(k) != v]
    if diff:
        raise ExportError(f"engine {path} was built for another machine: {', '.join(diff)}; rebuild it here "
                          f"(edgenas export --format tensorrt)")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != stamp.get("sha256"):
        raise ExportError(f"engine {path} does not match its stamp (altered or truncated); rebuild it")
    engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(data)
    if engine is None:
        raise ExportError(f"TensorRT could not deserialize {path}")
    return engine


def run_engine(engine, x: np.ndarray) -> np.ndarray:
    """One inference of ``x`` (NCHW float32) through ``engine`` on the current CUDA device."""
    import tensorrt as trt
    import torch

    ctx = engine.create_execution_context()
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    inp = next(n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT)
    outp = next(n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT)
    stream = torch.cuda.Stream()  # a dedicated stream, not the legacy default stream
    with torch.cuda.stream(stream):  # the copies and allocations below are ordered on it too
        xd = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).cuda()
        ctx.set_input_shape(inp, tuple(xd.shape))
        yd = torch.empty(tuple(ctx.get_tensor_shape(outp)), dtype=torch.float32, device="cuda")
        ctx.set_tensor_address(inp, int(xd.data_ptr()))
        ctx.set_tensor_address(outp, int(yd.data_ptr()))
        if not ctx.execute_async_v3(stream.cuda_stream):
            raise ExportError("TensorRT inference failed")
        stream.synchronize()
        return yd.cpu().numpy()


class TensorRTFormat(ExportFormat):
    """``model.<precision>.engine`` for each precision asked for, built from ``model.onnx`` (INT8 calibrated on
    the calibration images), each with its machine stamp. Engines of the precisions already built are kept."""

    name, file = "tensorrt", "model.<precision>.engine"
    timed_by = ("tensorrt", "tensorrt-fp16", "tensorrt-int8")
    for_baselines = False  # the baselines are compared on the table's target, not on a GPU

    def available(self) -> None:
        require_tensorrt()

    def current(self, folder: Path, entry: Optional[dict], inputs: ExportInputs) -> bool:
        return all(p in (entry or {}) and (folder / f"model.{p}.engine").is_file() for p in inputs.trt_precisions)

    def export(self, module, folder: Path, inputs: ExportInputs, previous: Optional[dict] = None) -> dict:
        engines = {}
        for prec in inputs.trt_precisions:
            path = folder / f"model.{prec}.engine"
            if prec in (previous or {}) and path.is_file():
                engines[prec] = previous[prec]
                continue
            engines[prec] = build_engine(folder / "model.onnx", path, prec, inputs.input_shape,
                                         calibration=inputs.calibration if prec == "int8" else None)
        return engines


TENSORRT = TensorRTFormat()
