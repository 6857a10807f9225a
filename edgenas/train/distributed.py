"""Scale-out under ``torchrun``: one process per worker, DistributedDataParallel, gloo on CPU, NCCL on GPU.

:func:`setup` reads the ``torchrun`` environment (``WORLD_SIZE``, ``RANK``,
``LOCAL_RANK``); without it everything degrades to a single process and no
collective is called. Only the main process writes files.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn

from .loop import EpochResult


@dataclass
class DistContext:
    """This process's place in the job and the device it computes on."""

    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def wrap(self, model: nn.Module, find_unused_parameters: bool = False) -> nn.Module:
        """``model`` wrapped in DistributedDataParallel when there is more than one process."""
        if not self.active:
            return model
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DDP(model, device_ids=ids, find_unused_parameters=find_unused_parameters)

    def average_grads_of(self, tensor: torch.Tensor) -> None:
        """Average ``tensor``'s gradient over the processes as it is computed (for parameters outside DDP)."""
        if not self.active:
            return

        def hook(grad: torch.Tensor) -> torch.Tensor:
            grad = grad.clone()
            dist.all_reduce(grad)
            return grad / self.world

        tensor.register_hook(hook)

    def reduce_result(self, r: EpochResult) -> EpochResult:
        """The epoch's loss and accuracy over every process's share of the data."""
        if not self.active:
            return r
        t = torch.tensor([r.loss * r.samples, r.accuracy * r.samples, float(r.samples)], dtype=torch.float64,
                         device=self.device)
        dist.all_reduce(t)
        n = max(t[2].item(), 1.0)
        return EpochResult(t[0].item() / n, t[1].item() / n, int(t[2].item()))

    def broadcast_object(self, obj):
        """``obj`` as the main process holds it."""
        if not self.active:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def spread(self, tensor: torch.Tensor) -> float:
        """Largest difference of ``tensor`` between any two processes (0.0 when they hold the same values)."""
        if not self.active:
            return 0.0
        hi, lo = tensor.detach().clone().double(), tensor.detach().clone().double()
        dist.all_reduce(hi, op=dist.ReduceOp.MAX)
        dist.all_reduce(lo, op=dist.ReduceOp.MIN)
        return float((hi - lo).abs().max())

    def close(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()


def setup(device: str = "auto") -> DistContext:
    """Join the ``torchrun`` job if there is one; pick the device (``auto``: CUDA when present, else CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    dev = torch.device(f"cuda:{local}") if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(dev)
    owns = False
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
        owns = True
    return DistContext(rank, world, dev, owns)
