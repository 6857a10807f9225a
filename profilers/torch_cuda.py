"""PyTorch eager (optionally CUDA graphs) on an NVIDIA GPU, timed with CUDA events.

Each run is bracketed by two ``torch.cuda.Event(enable_timing=True)`` on the
current stream and the host waits for the end event, so a timing is GPU time
of the kernels of one inference: **compute only**, the input already on the
device, no host transfer. With ``cuda_graphs=True`` the op is captured once
in a ``torch.cuda.CUDAGraph`` and replayed, which removes the per-kernel
launch cost that eager mode pays. Peak memory of one run comes from
``reset_peak_memory_stats`` / ``max_memory_allocated``.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch.nn as nn

from .base import Profiler
from .gpu_info import ClockLog, cuda_device_info, require_cuda


def cuda_event_timer(fn) -> float:
    """Run ``fn`` between two CUDA events and return the GPU time between them in nanoseconds."""
    import torch

    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    fn()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) * 1e6


class TorchCUDAProfiler(Profiler):
    name = "torch-cuda"

    def __init__(self, threads: int = 1, protocol=None, device: int = 0, cuda_graphs: bool = False,
                 precision: str = "fp32"):
        from edgenas.profiling.measure import TimingProtocol

        super().__init__(threads, protocol or TimingProtocol())
        if precision not in ("fp32", "fp16"):
            raise ValueError("torch-cuda precision is fp32 or fp16")
        self.device, self.cuda_graphs, self.precision = device, cuda_graphs, precision
        self._clocks = ClockLog(device)
        self.name = "torch-cuda" + ("-graphs" if cuda_graphs else "") + ("-fp16" if precision == "fp16" else "")

    def runtime_info(self) -> dict:
        torch = require_cuda()
        return {"runtime": "torch-cuda", "version": torch.__version__, "cuda": torch.version.cuda,
                "cudnn": torch.backends.cudnn.version(), "cudnn_benchmark": False,
                "mode": "cuda-graph replay" if self.cuda_graphs else "eager+inference_mode",
                "timed": "compute only: CUDA events around one run, input resident on the GPU, synchronised",
                "threads": self.threads, "precision": self.precision}

    def device_info(self) -> dict:
        self._clocks.read()
        return cuda_device_info(self.device)

    def run_stats(self) -> dict:
        return self._clocks.stats()

    def timer(self):
        return cuda_event_timer

    def _place(self, module: nn.Module, input_shape: Tuple[int, ...]):
        torch = require_cuda()
        torch.cuda.set_device(self.device)  # the timer's CUDA events are recorded on the current device's stream
        torch.backends.cudnn.benchmark = False
        dtype = torch.float16 if self.precision == "fp16" else torch.float32
        dev = torch.device("cuda", self.device)
        module = module.eval().to(dev, dtype)
        x = torch.randn(input_shape, generator=torch.Generator().manual_seed(0)).to(dev, dtype)
        return torch, module, x

    def prepare(self, module: nn.Module, input_shape: Tuple[int, ...]):
        torch, module, x = self._place(module, input_shape)

        def eager():
            with torch.inference_mode():
                return module(x)

        if not self.cuda_graphs:
            eager()
            torch.cuda.synchronize(self.device)
            return eager
        # Warm up on a side stream before capture, as torch.cuda.graphs' documentation asks.
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                eager()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph), torch.inference_mode():
            module(x)
        torch.cuda.synchronize(self.device)
        return graph.replay

    def peak_memory_bytes(self, module: nn.Module, input_shape: Tuple[int, ...]) -> Optional[int]:
        """Peak bytes allocated during one run above what was allocated before it (weights and input)."""
        torch, module, x = self._place(module, input_shape)
        torch.cuda.synchronize(self.device)
        torch.cuda.reset_peak_memory_stats(self.device)
        before = torch.cuda.memory_allocated(self.device)
        with torch.inference_mode():
            module(x)
        torch.cuda.synchronize(self.device)
        return int(torch.cuda.max_memory_allocated(self.device) - before)
