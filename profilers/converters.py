"""Serialise one ``torch.nn.Module`` to the file format of each runtime: ONNX, ExecuTorch ``.pte``, LiteRT ``.tflite``.

Every converter takes the module and its input shape and returns bytes, so a
profiler can run the model in-process and a remote profiler can push the same
bytes to a device. A converter whose package is missing raises
:class:`BackendUnavailableError` naming what to install. The ONNX and ``.pte`` lowerings live in
:mod:`edgenas.deploy.formats.lowering`, shared with the exporters; LiteRT's conversion is here.
"""
from __future__ import annotations

import os
import tempfile
import warnings
from typing import Callable, Dict, Tuple

import torch
import torch.nn as nn

from edgenas.errors import BackendUnavailableError, ExportError
from edgenas.deploy.formats.lowering import to_onnx_bytes, to_pte_bytes

Shape = Tuple[int, ...]


def _example(input_shape: Shape) -> Tuple[torch.Tensor]:
    return (torch.randn(input_shape, generator=torch.Generator().manual_seed(0)),)


def litert_torch_version() -> str:
    try:
        import litert_torch
    except ImportError:
        raise BackendUnavailableError("converting PyTorch to LiteRT needs litert-torch: pip install litert-torch "
                                      "(or profile ready .tflite files on a device with the device runner)") from None
    return litert_torch.__version__


def to_tflite_bytes(module: nn.Module, input_shape: Shape) -> bytes:
    """A LiteRT flatbuffer converted by ``litert_torch.convert`` (fp32, the NCHW signature of the module)."""
    litert_torch_version()
    import litert_torch

    os.environ.setdefault("LITERT_TORCH_SHOW_PROGRESS", "n")  # its progress lines would drown ours
    module = module.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            edge = litert_torch.convert(module, _example(input_shape))
            content = edge.model_content()
    except Exception as e:
        raise ExportError(f"LiteRT conversion of {type(module).__name__} failed: {type(e).__name__}: {e}") from None
    return bytes(content)


# runtime name (as the device runner knows it) -> (file suffix, converter)
CONVERTERS: Dict[str, Tuple[str, Callable[[nn.Module, Shape], bytes]]] = {
    "onnxruntime": (".onnx", to_onnx_bytes),
    "executorch": (".pte", to_pte_bytes),
    "litert": (".tflite", to_tflite_bytes),
}


def write_model(runtime: str, module: nn.Module, input_shape: Shape, folder: str, stem: str) -> str:
    """Convert ``module`` for ``runtime`` and write it as ``folder/stem<suffix>``; return the path."""
    suffix, convert = CONVERTERS[runtime]
    path = os.path.join(folder, stem + suffix)
    data = convert(module, input_shape)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # on disk before it replaces the old file: a crash leaves one or the other
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
