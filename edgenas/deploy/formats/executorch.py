"""ExecuTorch export for phones: a ``.pte`` program with the XNNPACK delegate, checked in the host runtime.

``torch.export.export`` captures the network, ``to_edge_transform_and_lower``
hands every subgraph XNNPACK supports to its delegate, ``to_executorch``
serialises the program. The program is then loaded in ExecuTorch's own
runtime on this host (``executorch.runtime.Runtime``) and its output compared
with PyTorch's within the ONNX tolerances. The program has a static input
shape (batch 1, what a phone app feeds); parity is checked on several inputs.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn as nn

from ...errors import ExportError
from .base import ExportFormat, ExportInputs
from .lowering import executorch_available, executorch_modules as _modules, load_pte_method, lower_to_pte
from .onnx import ATOL, RTOL, compare
from ...fileio import PathLike, atomic_write_bytes

__all__ = ["executorch_available", "lower_to_pte", "export_executorch", "load_program", "ExecuTorchFormat",
           "EXECUTORCH"]


def load_program(data_or_path, threads: Optional[int] = None):
    """The ``forward`` method of a program in ExecuTorch's host runtime (``threads``: the XNNPACK threadpool)."""
    _modules()
    return load_pte_method(data_or_path, threads)[1]


def export_executorch(module: nn.Module, input_shape: Sequence[int], path: Optional[PathLike] = None, *,
                      sample: Optional[torch.Tensor] = None, checks: int = 3, rtol: float = RTOL,
                      atol: float = ATOL) -> dict:
    """Export to ``.pte`` (XNNPACK), compare with PyTorch in the ExecuTorch runtime, write ``path`` atomically.

    Raises :class:`ExportError` when lowering fails or the outputs disagree; nothing is written then.
    """
    _modules()
    shape = tuple(int(s) for s in input_shape)
    module = module.eval()
    try:
        data, delegated = lower_to_pte(module, shape)
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ExportError(f"ExecuTorch export failed ({type(e).__name__}): {first}") from None
    try:
        _program, method = load_pte_method(data)  # the method reads the program's buffer: keep it
    except Exception as e:
        raise ExportError(f"the ExecuTorch runtime cannot load the exported program: {e}") from None
    g = torch.Generator().manual_seed(1)
    parity = []
    for i in range(checks):
        x = (sample[i:i + 1].float().contiguous() if sample is not None and len(sample) > i
             else torch.randn(shape, generator=g))
        with torch.no_grad():
            want = module(x).numpy()
        got = method.execute([x])[0].numpy()
        p = compare(got, want, 1, rtol, atol)
        parity.append(p)
        if not p.ok:
            raise ExportError(f"ExecuTorch (XNNPACK) disagrees with PyTorch on check input {i}, output "
                              f"{list(p.worst_index)}: {p.got:.6g} vs {p.reference:.6g} (max abs diff "
                              f"{p.max_abs_diff:.3g}; allowed atol {atol:g} + rtol {rtol:g})")
    if path is not None:
        atomic_write_bytes(path, data)
    from importlib.metadata import version

    return {"runtime": "executorch", "version": version("executorch"),
            "delegate": "XnnpackPartitioner", "delegated_calls": delegated, "input_shape": list(shape),
            "bytes": len(data), "rtol": rtol, "atol": atol, "parity": [p.to_json() for p in parity]}


class ExecuTorchFormat(ExportFormat):
    """``model.pte``: XNNPACK-delegated, checked against PyTorch in ExecuTorch's runtime."""

    name, file = "executorch", "model.pte"
    timed_by = ("executorch-xnnpack",)

    def available(self) -> None:
        executorch_available()

    def export(self, module: nn.Module, folder, inputs: ExportInputs, previous: Optional[dict] = None) -> dict:
        return self.entry(folder, export_executorch(module, inputs.input_shape, folder / self.file,
                                                    sample=inputs.sample))


EXECUTORCH = ExecuTorchFormat()
