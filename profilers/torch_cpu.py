"""PyTorch eager on the CPU, under ``torch.inference_mode`` with a fixed thread count."""
from __future__ import annotations

from typing import Tuple

import torch
import torch.nn as nn

from edgenas.profiling.measure import Timing

from .base import Profiler


class TorchCPUProfiler(Profiler):
    name = "torch"

    def runtime_info(self) -> dict:
        return {"runtime": "torch", "version": torch.__version__, "mode": "eager+inference_mode",
                "threads": self.threads, "interop_threads": 1, "precision": self.precision}

    def prepare(self, module: nn.Module, input_shape: Tuple[int, ...]):
        x = torch.randn(input_shape, generator=torch.Generator().manual_seed(0))
        module = module.eval()

        def run():
            with torch.inference_mode():
                return module(x)

        return run

    def time(self, run, protocol=None) -> Timing:
        # Every timing path (ops, calibration and validation networks) goes through here.
        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            return super().time(run, protocol)
        finally:
            torch.set_num_threads(previous)
