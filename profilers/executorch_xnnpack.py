"""ExecuTorch with the XNNPACK delegate, run on this CPU: the kernels Android and iOS phones run.

Each op is exported to its own ``.pte`` program (see :func:`edgenas.deploy.formats.lowering.to_pte_bytes`)
and executed through ``executorch.runtime.Runtime``. The header says the
timings come from this host's CPU, not from a phone.
"""
from __future__ import annotations

from typing import Tuple

import torch
import torch.nn as nn

from .base import DelegateCall, ExportedModelProfiler
from edgenas.deploy.formats.lowering import executorch_version, load_pte_method, to_pte_bytes



class ExecuTorchXnnpackProfiler(ExportedModelProfiler):
    name = "executorch-xnnpack"

    def runtime_info(self) -> dict:
        return {"runtime": "executorch", "version": executorch_version(), "delegate": "XnnpackPartitioner",
                "torch": torch.__version__, "threads": self.threads, "precision": self.precision,
                "where": "host CPU (the XNNPACK kernels phones run, timed on this machine, not on a phone)",
                "overhead_model": "one ReLU delegated to XNNPACK (the cost of one delegate call)"}

    def artifact(self, module: nn.Module, input_shape: Tuple[int, ...]) -> bytes:
        return to_pte_bytes(module, input_shape)

    def load(self, data: bytes, input_shape: Tuple[int, ...]):
        """A runnable method of the ``.pte`` program ``data``."""
        program, method = load_pte_method(data, threads=self.threads)
        inputs = [torch.randn(input_shape, generator=torch.Generator().manual_seed(0))]

        def run(_program=program):  # the method reads the program's buffer: keep it alive
            return method.execute(inputs)

        return run

    def overhead(self, input_shape: Tuple[int, ...]):
        """The run cost of one delegate call: a ReLU model, which XNNPACK takes (an identity it would not)."""
        return self.measure(DelegateCall(), input_shape)
