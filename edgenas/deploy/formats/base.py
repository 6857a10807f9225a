"""The export format contract: each format exports a trained module to its files, checked against PyTorch.

A format (one object per module: :mod:`.onnx`, :mod:`.executorch`, :mod:`.tensorrt`, registered by name in
:mod:`.registry`) says which files it writes, whether they are still current for a manifest entry (so a rerun
resumes), and which profiler backends run its artifact (``timed_by``): a deployed model is measured by the
table's own backend, so only a format of that backend has a measured latency (:mod:`edgenas.deploy.measure`).
"""
from __future__ import annotations

import abc
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Tuple

import numpy as np
import torch

__all__ = ["ExportInputs", "ExportFormat", "file_sha"]


def file_sha(path: Path) -> str:
    """The short SHA-256 a manifest records for an exported file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


@dataclass(frozen=True)
class ExportInputs:
    """What every format may need besides the module: the input shape, test images to compare outputs on,
    calibration images (never test images) and the TensorRT precisions asked for."""

    input_shape: Tuple[int, ...]
    sample: Optional[torch.Tensor] = None
    calibration: Optional[np.ndarray] = None
    trt_precisions: Sequence[str] = ("fp32", "fp16", "int8")


class ExportFormat(abc.ABC):
    """One export format. Subclasses set the class attributes and implement :meth:`available` and :meth:`export`."""

    name: str = ""
    file: str = ""                       # the file it writes in a model's folder
    timed_by: Tuple[str, ...] = ()       # profiler backends (profilers.BACKENDS) that run this format's artifact
    for_baselines: bool = True           # exported for the MobileNetV2 baselines too

    def available(self) -> None:
        """Raise :class:`BackendUnavailableError` saying what to install when this format cannot be written here."""

    @abc.abstractmethod
    def export(self, module: torch.nn.Module, folder: Path, inputs: ExportInputs,
               previous: Optional[dict] = None) -> dict:
        """Write this format's files for ``module`` into ``folder`` after checking them against PyTorch; return the
        manifest entry. ``previous`` is the entry of an earlier run for the same weights (parts of it may be kept).
        A failed check raises :class:`ExportError` and writes nothing."""

    def current(self, folder: Path, entry: Optional[dict], inputs: ExportInputs) -> bool:
        """Whether ``entry`` (from the manifest) still describes the file in ``folder``."""
        path = folder / self.file
        return bool(entry) and path.is_file() and entry.get("sha256") == file_sha(path)

    def entry(self, folder: Path, info: dict) -> dict:
        """The manifest entry of a single-file format: what ``export`` found, the file's name and its SHA-256."""
        return {**info, "file": self.file, "sha256": file_sha(folder / self.file)}

    def not_timed(self, backend: str) -> Optional[str]:
        """Why a table of ``backend`` gives this format no measured latency; ``None`` when it runs it."""
        if backend in self.timed_by:
            return None
        runs = " or ".join(self.timed_by) or "no registered backend"
        return f"the table's backend {backend} does not run {self.file}; a table of {runs} would time it"
