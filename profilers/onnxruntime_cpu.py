"""onnxruntime on the CPU: each op is its own ONNX micro-model, run in one sequential session."""
from __future__ import annotations

from typing import Tuple

import numpy as np
import torch.nn as nn

from edgenas.deploy.formats.lowering import OPSET, _ort, ort_session, to_onnx_bytes

from .base import ExportedModelProfiler


class OnnxRuntimeCPUProfiler(ExportedModelProfiler):
    name = "onnxruntime"

    def runtime_info(self) -> dict:
        return {"runtime": "onnxruntime", "version": _ort().__version__, "provider": "CPUExecutionProvider",
                "opset": OPSET, "threads": self.threads, "inter_op_threads": 1, "execution": "sequential",
                "graph_optimization": "all", "precision": self.precision}

    def artifact(self, module: nn.Module, input_shape: Tuple[int, ...]) -> bytes:
        return to_onnx_bytes(module, input_shape)

    def load(self, artifact: bytes, input_shape: Tuple[int, ...]):
        """A runnable session of the ONNX model ``artifact``."""
        session = ort_session(artifact, self.threads)
        feed = {session.get_inputs()[0].name: np.random.default_rng(0).standard_normal(input_shape, dtype=np.float32)}
        return lambda: session.run(None, feed)
