"""LiteRT (``ai-edge-litert``) with its default XNNPACK delegate, run on this CPU.

Each op is converted to its own ``.tflite`` flatbuffer by ``litert-torch``
(:func:`profilers.converters.to_tflite_bytes`) and run by the LiteRT
``Interpreter`` with a fixed thread count. The header says the timings come
from this host's CPU, not from a phone.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np
import torch.nn as nn

from edgenas.errors import BackendUnavailableError

from .base import DelegateCall, ExportedModelProfiler
from .converters import litert_torch_version, to_tflite_bytes


def litert_interpreter():
    """The ``Interpreter`` class of ``ai-edge-litert``."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise BackendUnavailableError("LiteRT is not installed: pip install ai-edge-litert") from None
    return Interpreter


def litert_version() -> str:
    litert_interpreter()
    from importlib.metadata import version

    return version("ai-edge-litert")


class LiteRTXnnpackProfiler(ExportedModelProfiler):
    name = "litert-xnnpack"

    def runtime_info(self) -> dict:
        return {"runtime": "litert", "version": litert_version(), "converter": f"litert-torch {litert_torch_version()}",
                "delegate": "XNNPACK (LiteRT default delegate, op resolver AUTO)", "threads": self.threads,
                "precision": self.precision,
                "where": "host CPU (the XNNPACK kernels phones run, timed on this machine, not on a phone)",
                "overhead_model": "one ReLU delegated to XNNPACK (the cost of one delegate call)"}

    def artifact(self, module: nn.Module, input_shape: Tuple[int, ...]) -> bytes:
        return to_tflite_bytes(module, input_shape)

    def load(self, content: bytes, input_shape: Tuple[int, ...]):
        """A runnable interpreter of the ``.tflite`` flatbuffer ``content``."""
        interpreter = litert_interpreter()(model_content=content, num_threads=self.threads)
        interpreter.allocate_tensors()
        detail = interpreter.get_input_details()[0]
        x = np.random.default_rng(0).standard_normal(tuple(detail["shape"]), dtype=np.float32)
        index = detail["index"]

        def run():
            interpreter.set_tensor(index, x)
            interpreter.invoke()

        return run

    def overhead(self, input_shape: Tuple[int, ...]):
        """The run cost of one delegate call: a ReLU model, which XNNPACK takes (an identity it would not)."""
        return self.measure(DelegateCall(), input_shape)
