"""What a GPU table header records: the device, its clocks and the driver, as far as the host can tell."""
from __future__ import annotations

import shutil
import subprocess

from edgenas.deploy.formats.lowering import cuda_device, require_cuda

__all__ = ["STABLE_FIELDS", "VOLATILE_FIELDS", "require_cuda", "nvidia_smi", "ClockLog", "cuda_device_info"]

# Settings (they change what a timing means, and must match for a table to resume) ...
STABLE_FIELDS = ["name", "driver_version", "clocks.max.sm", "clocks.max.mem", "power.limit"]
# ... and readings (they drift during a profile; kept in the table's stats, never compared).
VOLATILE_FIELDS = ["clocks.sm", "clocks.mem", "pstate", "temperature.gpu"]


def nvidia_smi(index: int = 0, fields=tuple(STABLE_FIELDS)) -> dict:
    """``fields`` of GPU ``index`` as ``nvidia-smi`` reports them (empty when it is not on PATH)."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return {}
    argv = [exe, f"--id={int(index)}", f"--query-gpu={','.join(fields)}", "--format=csv,noheader"]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    values = [v.strip() for v in out.strip().split(",")]
    return dict(zip(fields, values)) if len(values) == len(fields) else {}


class ClockLog:
    """The clocks seen while profiling: read when the header is written and when the stats are."""

    def __init__(self, index: int = 0):
        self.index, self.readings = index, []

    def read(self) -> None:
        reading = nvidia_smi(self.index, tuple(VOLATILE_FIELDS))
        if reading:
            self.readings.append(reading)

    def stats(self) -> dict:
        self.read()
        return {"gpu_clocks_seen": self.readings}


def cuda_device_info(index: int = 0) -> dict:
    """The GPU as a table header describes it; clocks are those seen when the profile started."""
    torch = require_cuda()
    return {"kind": "cuda-gpu", **cuda_device(index), "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(), "nvidia_smi": nvidia_smi(index)}
