"""ONNX export of a trained network: one file, opset :data:`edgenas.deploy.formats.lowering.OPSET`, a dynamic batch axis, checked.

Checks, in order, before the file is written (so a failed export never
replaces a good file): ``onnx.checker`` full check, strict shape inference
with type checks, and onnxruntime's output against PyTorch's on several batch
sizes within ``rtol``/``atol`` (torch.onnx's own tests use rtol 1e-3). An op
that fails to export is reported with the op and the layer holding it; a
mismatch names the batch size, the output element and the first layer whose
own export disagrees.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from ...errors import ExportError
from ...fileio import PathLike, atomic_write_bytes
from .base import ExportFormat, ExportInputs
from .lowering import OPSET, native_stderr_silenced, to_onnx_bytes

__all__ = ["RTOL", "ATOL", "Parity", "export_onnx", "compare", "onnx_parity", "locate_failure",
           "native_stderr_silenced", "ort_gpu_providers", "OnnxFormat", "ONNX"]

RTOL, ATOL = 1e-3, 1e-5
BATCH_SIZES = (1, 4)


@dataclass
class Parity:
    """How one exported program agreed with PyTorch on one batch."""

    batch_size: int
    max_abs_diff: float
    max_rel_diff: float
    ok: bool
    worst_index: Tuple[int, ...]
    reference: float
    got: float

    def to_json(self) -> dict:
        return asdict(self)


def compare(got: np.ndarray, want: np.ndarray, batch_size: int, rtol: float = RTOL, atol: float = ATOL) -> Parity:
    """Elementwise ``|got - want| <= atol + rtol * |want|`` (numpy's ``allclose`` rule), with the worst element."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return Parity(batch_size, float("inf"), float("inf"), False, (), float("nan"), float("nan"))
    diff = np.abs(got - want)
    excess = diff - (atol + rtol * np.abs(want))
    worst = np.unravel_index(int(np.argmax(excess)), diff.shape) if diff.size else ()
    rel = diff / np.maximum(np.abs(want), 1e-12)
    return Parity(batch_size, float(diff.max(initial=0.0)), float(rel.max(initial=0.0)),
                  bool((excess <= 0).all()), tuple(int(i) for i in worst),
                  float(want[worst]) if diff.size else float("nan"), float(got[worst]) if diff.size else float("nan"))


def _session(data: bytes, providers=("CPUExecutionProvider",)):
    from .lowering import ort_session

    return ort_session(data, threads=1, providers=providers)


def _inputs(input_shape: Sequence[int], batch_sizes: Sequence[int], sample: Optional[torch.Tensor], seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    for b in batch_sizes:
        if sample is not None and len(sample) >= b:
            yield b, sample[:b].float().contiguous()
        else:
            yield b, torch.randn((b, *input_shape[1:]), generator=g)


def onnx_parity(module: nn.Module, data: bytes, input_shape: Sequence[int], batch_sizes: Sequence[int] = BATCH_SIZES,
                sample: Optional[torch.Tensor] = None, rtol: float = RTOL, atol: float = ATOL,
                providers=("CPUExecutionProvider",)) -> List[Parity]:
    """onnxruntime against PyTorch on each batch size (``sample`` images first, else seeded noise)."""
    sess = _session(data, providers)
    name = sess.get_inputs()[0].name
    out = []
    module = module.eval()
    for b, x in _inputs(input_shape, batch_sizes, sample):
        with torch.no_grad():
            want = module(x).numpy()
        got = sess.run(None, {name: x.numpy()})[0]
        out.append(compare(got, want, b, rtol, atol))
    return out


def _check_model(data: bytes) -> None:
    import onnx

    try:
        proto = onnx.load_from_string(data)
        onnx.checker.check_model(proto, full_check=True)
        onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True, data_prop=True)
    except Exception as e:  # onnx raises ValidationError / InferenceError and C++ errors
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ExportError(f"the exported ONNX model fails onnx.checker/shape inference: {first}") from None


def _to_onnx(module: nn.Module, shape: Tuple[int, ...], dynamic_batch: bool = False) -> bytes:
    with native_stderr_silenced():
        return to_onnx_bytes(module, shape, dynamic_batch=dynamic_batch)


_OP = re.compile(r"(aten::[A-Za-z0-9_.]+|prim::[A-Za-z0-9_]+|onnx::[A-Za-z0-9_]+)")


def _op_name(err: BaseException) -> str:
    m = _OP.search(str(err))
    if m:
        return m.group(1)
    m = re.search(r"operator '?([A-Za-z0-9_:.]+)'?", str(err))
    return m.group(1) if m else f"unknown op ({type(err).__name__})"


def _capture_inputs(model: nn.Module, x: torch.Tensor) -> Dict[str, torch.Tensor]:
    """The input each named submodule receives on ``x`` (first call only)."""
    seen: Dict[str, torch.Tensor] = {}
    handles = []
    for name, mod in model.named_modules():
        if not name:
            continue

        def hook(m, args, name=name):
            if name not in seen and args and isinstance(args[0], torch.Tensor):
                seen[name] = args[0].detach().clone()

        handles.append(mod.register_forward_pre_hook(hook))
    try:
        with torch.no_grad():
            model.eval()(x)
    finally:
        for h in handles:
            h.remove()
    return seen


def locate_failure(model: nn.Module, x: torch.Tensor, fails: Callable[[nn.Module, torch.Tensor], bool]) -> Optional[str]:
    """The deepest named submodule for which ``fails(module, its input)`` holds, descending from the top.

    Used to say which layer holds an op that does not export, or whose
    exported output disagrees with PyTorch.
    """
    inputs = _capture_inputs(model, x)
    found, parent, prefix = None, model, ""
    while True:
        nxt = None
        for name, child in parent.named_children():
            full = f"{prefix}{name}"
            if full in inputs and fails(child, inputs[full]):
                nxt = (full, child)
                break
        if nxt is None:
            return found
        found, parent, prefix = f"{nxt[0]} ({type(nxt[1]).__name__})", nxt[1], nxt[0] + "."


def _export_fails(module: nn.Module, x: torch.Tensor) -> bool:
    try:
        _to_onnx(module, tuple(x.shape))
        return False
    except Exception:
        return True


def _mismatch_fails(rtol: float, atol: float):
    def fails(module: nn.Module, x: torch.Tensor) -> bool:
        try:
            data = _to_onnx(module, tuple(x.shape))
            sess = _session(data)
            with torch.no_grad():
                want = module.eval()(x).numpy()
            got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
            return not compare(got, want, len(x), rtol, atol).ok
        except Exception:
            return True
    return fails


def export_onnx(module: nn.Module, input_shape: Sequence[int], path: Optional[PathLike] = None, *,
                batch_sizes: Sequence[int] = BATCH_SIZES, sample: Optional[torch.Tensor] = None,
                rtol: float = RTOL, atol: float = ATOL) -> dict:
    """Export ``module`` to ONNX, check it, compare it with PyTorch and write it to ``path`` (atomically).

    Returns a description (opset, batch axis, file size, parity per batch size).
    Raises :class:`ExportError` naming the op and layer of an export failure,
    or where the outputs disagree; nothing is written then.
    """
    if len(set(batch_sizes)) < 2:
        raise ValueError("ONNX parity needs at least two batch sizes")
    module = module.eval()
    shape = tuple(int(s) for s in input_shape)
    try:
        data = _to_onnx(module, shape, dynamic_batch=True)
    except Exception as e:
        x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
        where = locate_failure(module, x, _export_fails) or "the network itself"
        raise ExportError(f"ONNX export failed at op {_op_name(e)} in layer {where}: "
                          f"{str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}") from None
    _check_model(data)
    parity = onnx_parity(module, data, shape, batch_sizes, sample, rtol, atol)
    bad = next((p for p in parity if not p.ok), None)
    if bad is not None:
        x = next(xb for b, xb in _inputs(shape, [bad.batch_size], sample) if b == bad.batch_size)
        where = locate_failure(module, x, _mismatch_fails(rtol, atol)) or "no single layer (the error builds up)"
        raise ExportError(f"onnxruntime disagrees with PyTorch at batch size {bad.batch_size}, output "
                          f"{list(bad.worst_index)}: {bad.got:.6g} vs {bad.reference:.6g} (max abs diff "
                          f"{bad.max_abs_diff:.3g}; allowed atol {atol:g} + rtol {rtol:g}); first disagreeing "
                          f"layer: {where}")
    if path is not None:
        atomic_write_bytes(path, data)
    return {"opset": OPSET, "dynamic_axes": {"input": {"0": "batch"}, "output": {"0": "batch"}},
            "bytes": len(data), "checker": "full_check", "shape_inference": "strict",
            "rtol": rtol, "atol": atol, "parity": [p.to_json() for p in parity]}


def ort_gpu_providers() -> list:
    """onnxruntime's GPU execution providers present here (``CUDAExecutionProvider``, ``TensorrtExecutionProvider``)."""
    from .lowering import _ort

    return [p for p in ("TensorrtExecutionProvider", "CUDAExecutionProvider") if p in _ort().get_available_providers()]


def gpu_provider_parity(module: nn.Module, data: bytes, input_shape: Sequence[int],
                        sample: Optional[torch.Tensor] = None) -> dict:
    """Parity of an ONNX model under onnxruntime's CUDA / TensorRT execution providers, where present.

    Recorded, not enforced: GPU kernels (TF32, FP16 in TensorRT's provider) may
    legitimately differ beyond the FP32 CPU tolerance.
    """
    out = {}
    for provider in ort_gpu_providers():
        try:
            parity = onnx_parity(module, data, input_shape, sample=sample, providers=(provider, "CPUExecutionProvider"))
            out[provider] = [p.to_json() for p in parity]
        except Exception as e:  # a provider that is listed but cannot start (no driver) is reported, not fatal
            out[provider] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}
    return out


class OnnxFormat(ExportFormat):
    """``model.onnx``: a dynamic batch axis, checked by onnx.checker and against PyTorch in onnxruntime.
    Always written first: TensorRT engines are built from it."""

    name, file = "onnx", "model.onnx"
    timed_by = ("onnxruntime", "onnxruntime-cuda", "onnxruntime-cuda-transfers")

    def available(self) -> None:
        from .lowering import _ort

        _ort()

    def export(self, module: nn.Module, folder, inputs: ExportInputs, previous: Optional[dict] = None) -> dict:
        info = export_onnx(module, inputs.input_shape, folder / self.file, sample=inputs.sample)
        info["gpu_providers"] = gpu_provider_parity(module, (folder / self.file).read_bytes(), inputs.input_shape,
                                                    inputs.sample)
        return self.entry(folder, info)


ONNX = OnnxFormat()
