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
from .lowering import executorch_available, executorch_modules as _modules, lower_to_pte, native_stderr_silenced, \
    set_xnnpack_threads
from .onnx import ATOL, RTOL, compare
from ...fileio import PathLike, atomic_write_bytes
from ...profiling.measure import Timing, TimingProtocol, measure

__all__ = ["executorch_available", "lower_to_pte", "export_executorch", "load_program", "time_program"]


def load_program(data_or_path, threads: Optional[int] = None):
    """The ``forward`` method of a program in ExecuTorch's host runtime; ``threads`` sizes the XNNPACK
    threadpool first (it must be set before loading: a loaded delegate keeps the pool it saw)."""
    _modules()
    from executorch.runtime import Runtime

    if threads is not None:
        set_xnnpack_threads(threads)
    with native_stderr_silenced():  # the runtime's CPU probe prints a warning from C++
        program = Runtime.get().load_program(data_or_path)
        return program.load_method("forward")


def time_program(method, input_shape: Sequence[int], protocol: TimingProtocol) -> Timing:
    """Latency of one ``forward`` of a loaded program under the shared timing protocol."""
    x = torch.randn(tuple(input_shape), generator=torch.Generator().manual_seed(0))
    return measure(lambda: method.execute([x]), protocol)


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
        method = load_program(data)
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
