"""onnxruntime's CUDA execution provider, each op its own ONNX model, timed on the host clock.

Input and output are bound on the GPU with ``IOBinding`` (``OrtValue`` on
``cuda``), and ``run_with_iobinding`` returns when the GPU work is done, so a
timing is **compute plus the runtime's launch cost, no host transfer**. The
header says so; ``with_transfers=True`` feeds a host array instead and
includes both copies.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np
import torch.nn as nn

from edgenas.errors import BackendUnavailableError
from edgenas.deploy.formats.lowering import OPSET, to_onnx_bytes

from .base import Profiler
from .gpu_info import ClockLog, nvidia_smi
from .onnxruntime_cpu import _ort, ort_session

PROVIDER = "CUDAExecutionProvider"


def require_ort_cuda():
    ort = _ort()
    if PROVIDER not in ort.get_available_providers():
        raise BackendUnavailableError(f"onnxruntime {ort.__version__} has no {PROVIDER} (available: "
                                      f"{', '.join(ort.get_available_providers())}): pip install onnxruntime-gpu "
                                      f"on a machine with an NVIDIA GPU")
    return ort


class OnnxRuntimeCUDAProfiler(Profiler):
    name = "onnxruntime-cuda"

    def __init__(self, threads: int = 1, protocol=None, device: int = 0, with_transfers: bool = False):
        from edgenas.profiling.measure import TimingProtocol

        super().__init__(threads, protocol or TimingProtocol())
        self.device, self.with_transfers = device, with_transfers
        self._clocks = ClockLog(device)
        self.name = "onnxruntime-cuda-transfers" if with_transfers else "onnxruntime-cuda"

    def runtime_info(self) -> dict:
        ort = require_ort_cuda()
        timed = ("with host transfers: a host array in, the output copied back" if self.with_transfers else
                 "compute only: input and output bound on the GPU (IOBinding), synchronous run")
        return {"runtime": "onnxruntime", "version": ort.__version__, "provider": PROVIDER, "device_id": self.device,
                "opset": OPSET, "timed": timed, "threads": self.threads, "precision": self.precision}

    def device_info(self) -> dict:
        require_ort_cuda()
        self._clocks.read()
        return {"kind": "cuda-gpu", "index": self.device, "nvidia_smi": nvidia_smi(self.device)}

    def run_stats(self) -> dict:
        return self._clocks.stats()

    def prepare(self, module: nn.Module, input_shape: Tuple[int, ...]):
        ort = require_ort_cuda()
        providers = [(PROVIDER, {"device_id": self.device}), "CPUExecutionProvider"]
        session = ort_session(to_onnx_bytes(module, input_shape), self.threads, providers=providers)
        if PROVIDER not in session.get_providers():
            raise BackendUnavailableError(f"onnxruntime could not create a {PROVIDER} session")
        x = np.random.default_rng(0).standard_normal(input_shape, dtype=np.float32)
        in_name, out_name = session.get_inputs()[0].name, session.get_outputs()[0].name
        if self.with_transfers:
            return lambda: session.run(None, {in_name: x})
        binding = session.io_binding()
        binding.bind_ortvalue_input(in_name, ort.OrtValue.ortvalue_from_numpy(x, "cuda", self.device))
        binding.bind_output(out_name, "cuda", self.device)

        def run():
            session.run_with_iobinding(binding)

        return run
