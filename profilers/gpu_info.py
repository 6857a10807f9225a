"""What a GPU table header records: the device, its clocks and the driver, as far as the host can tell."""
from __future__ import annotations

import shutil
import subprocess

from edgenas.errors import BackendUnavailableError

_SMI_FIELDS = ["name", "driver_version", "clocks.sm", "clocks.mem", "clocks.max.sm", "clocks.max.mem",
               "power.limit", "pstate"]


def require_cuda():
    """``torch`` with a usable CUDA device, or a one-line error naming what is missing."""
    import torch

    if not torch.cuda.is_available():
        build = torch.version.cuda or "a CPU-only build"
        raise BackendUnavailableError(f"no CUDA device is usable (torch {torch.__version__}, {build}): install a "
                                      f"CUDA build of torch on a machine with an NVIDIA GPU")
    return torch


def nvidia_smi(index: int = 0) -> dict:
    """Clocks and driver reported by ``nvidia-smi`` for GPU ``index`` (empty when it is not on PATH)."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return {}
    argv = [exe, f"--id={int(index)}", f"--query-gpu={','.join(_SMI_FIELDS)}", "--format=csv,noheader"]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    values = [v.strip() for v in out.strip().split(",")]
    return dict(zip(_SMI_FIELDS, values)) if len(values) == len(_SMI_FIELDS) else {}


def cuda_device_info(index: int = 0) -> dict:
    """The GPU as a table header describes it; clocks are those seen when the profile started."""
    torch = require_cuda()
    props = torch.cuda.get_device_properties(index)
    return {"kind": "cuda-gpu", "gpu": props.name, "index": index,
            "compute_capability": f"{props.major}.{props.minor}", "memory_bytes": int(props.total_memory),
            "multiprocessors": props.multi_processor_count, "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(), "nvidia_smi_at_start": nvidia_smi(index)}
