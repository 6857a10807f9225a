"""A profiler that times ops on another device through a :class:`~profilers.transport.Transport`.

On first use it copies ``device_runner.py`` and the timing protocol
(``edgenas/profiling/measure.py``, as ``edgenas_measure.py``) to the device and checks
that the runtime loads there. Each op is then converted on the host
(:mod:`profilers.converters`), pushed into its own folder, timed by the runner
under the table's protocol and read back. ``prepare`` pushes, ``time`` runs,
so :func:`edgenas.profiling.validate.validate_table` works unchanged.

The header's device entry is the transport's fingerprint (model, SoC,
governor, ...); temperatures are readings, not settings, and go to the
table's ``stats``. A dropped device raises :class:`DeviceError` after the
table has saved every op measured so far: rerunning resumes.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Optional, Tuple

import torch.nn as nn

from edgenas.errors import DeviceError
import edgenas.profiling.measure as _protocol
from edgenas.profiling.measure import Timing, TimingProtocol

from .base import Profiler
from .converters import CONVERTERS, write_model
from .device_runner import EXIT_MODEL_FAILED, EXIT_NO_RUNTIME
from .transport import Transport, check_name, check_path

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "device_runner.py"
PROTOCOL = Path(_protocol.__file__)  # edgenas/profiling/measure.py


class RemoteRun:
    """A model already on the device (``folder/file``), ready to be timed by :meth:`RemoteProfiler.time`."""

    def __init__(self, folder: str, name: str, file: str = ""):
        self.folder, self.name, self.file = folder, name, file

    def __call__(self):
        raise TypeError("a remote model is timed on its device: use RemoteProfiler.time(run)")


class RemoteProfiler(Profiler):
    """Times ops with ``runtime`` (onnxruntime, executorch, litert) on the device behind ``transport``."""

    def __init__(self, transport: Transport, runtime: str = "onnxruntime", threads: int = 1,
                 protocol: TimingProtocol = TimingProtocol(), cooldown_s: float = 0.0,
                 python: Optional[str] = None, workdir: Optional[str] = None, timeout_s: float = 900.0):
        super().__init__(threads, protocol)
        if runtime not in CONVERTERS:
            raise DeviceError(f"unknown device runtime {runtime!r}; known: {', '.join(sorted(CONVERTERS))}")
        self.transport, self.runtime, self.cooldown_s = transport, runtime, float(cooldown_s)
        self.python = python or transport.default_python
        self.workdir = check_path(workdir or transport.default_workdir)
        self.timeout_s = timeout_s
        self.name = f"remote-{runtime}"
        self._ready: Optional[dict] = None
        self._fingerprint: Optional[dict] = None
        self._count = 0
        self.temperatures: list = []

    # ---- setup ---------------------------------------------------------------------------------
    def _runner_argv(self, *extra: str) -> list:
        return [self.python, f"{self.workdir}/device_runner.py", "--runtime", self.runtime, *extra]

    def setup(self) -> dict:
        """Connect, copy the runner and check the runtime once; the runner's ``--check`` answer."""
        if self._ready is None:
            self.transport.check()
            self.transport.push(str(RUNNER), self.workdir, "device_runner.py")
            self.transport.push(str(PROTOCOL), self.workdir, "edgenas_measure.py")
            proc = self.transport.run(self._runner_argv("--check"), timeout=300)
            err = proc.stderr.decode(errors="replace").strip()
            if proc.returncode == EXIT_NO_RUNTIME:
                raise DeviceError(f"{self.transport.name}: {err.removeprefix('edgenas-runner: ')}; install it there "
                                  f"or choose another runtime")
            if proc.returncode != 0:
                raise DeviceError(f"{self.transport.name}: the device runner failed to start with {self.python!r} "
                                  f"(exit {proc.returncode}): {err.splitlines()[-1] if err else 'no message'}")
            self._ready = self._runner_json(proc.stdout, "--check")
        return self._ready

    def _runner_json(self, data, what: str) -> dict:
        """The runner's JSON answer; :class:`DeviceError` when it is truncated or garbled (a dropped link)."""
        try:
            doc = json.loads(data)
        except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
            doc, why = None, f"{type(e).__name__}: {e}"
        else:
            why = f"a JSON {type(doc).__name__}, not an object"
        if not isinstance(doc, dict):
            raise DeviceError(f"{self.transport.name}: unreadable runner output ({what}; {why}); rerun to resume")
        return doc

    def runtime_info(self) -> dict:
        ready = self.setup()
        return {"runtime": self.runtime, "module": ready["module"], "runner_version": ready["runner_version"],
                "python": ready["device"].get("python"), "threads": self.threads, "precision": self.precision,
                "cooldown_s": self.cooldown_s, "where": f"on the device, through {self.transport.name}"}

    def device_info(self) -> dict:
        if self._fingerprint is None:
            self.setup()
            self._fingerprint = {"kind": "remote", **self.transport.fingerprint()}
        return self._fingerprint

    def run_stats(self) -> dict:
        temps = [t for reading in self.temperatures for t in reading]
        return {"device_temperature_c": [min(temps), max(temps)] if temps else None, "cooldown_s": self.cooldown_s}

    # ---- measuring -----------------------------------------------------------------------------
    def prepare(self, module: nn.Module, input_shape: Tuple[int, ...]) -> RemoteRun:
        self.setup()
        self._count += 1
        digest = hashlib.sha1(f"{type(module).__name__}{input_shape}{self._count}{time.time()}".encode()).hexdigest()
        name = check_name(f"m{self._count:05d}-{digest[:10]}")
        folder = f"{self.workdir}/models/{name}"
        with tempfile.TemporaryDirectory() as tmp:
            path = write_model(self.runtime, module, input_shape, tmp, name)
            self.transport.push(path, folder, os.path.basename(path))
        return RemoteRun(folder, name, os.path.basename(path))

    def _protocol_args(self, p: TimingProtocol, reference: Optional[RemoteRun]) -> list:
        paired = ["--reference", f"{reference.folder}/{reference.file}"] if reference else []
        return [*paired, "--threads", str(self.threads), "--warmup", str(p.warmup_runs),
                "--warmup-time", repr(p.warmup_s),
                "--min-runs", str(p.min_runs), "--min-time", repr(p.min_time_s), "--max-runs", str(p.max_runs),
                "--max-time", repr(p.max_time_s), "--max-spread", repr(p.max_spread),
                "--max-median-error", repr(p.max_median_error), "--retries", str(p.retries),
                "--cooldown", repr(self.cooldown_s)]

    def time(self, run, protocol=None) -> Timing:
        if not isinstance(run, RemoteRun):
            raise TypeError("RemoteProfiler.time takes what its prepare() returned")
        protocol = protocol or self.protocol
        reference = self.paired_reference(protocol)
        out = f"{run.folder}.json"
        proc = self.transport.run(self._runner_argv("--models", run.folder, "--out", out,
                                                    *self._protocol_args(protocol, reference)), timeout=self.timeout_s)
        err = proc.stderr.decode(errors="replace").strip()
        if proc.returncode == EXIT_NO_RUNTIME:
            raise DeviceError(f"{self.transport.name}: {err.removeprefix('edgenas-runner: ')}")
        if proc.returncode not in (0, EXIT_MODEL_FAILED):
            raise DeviceError(f"{self.transport.name}: the device runner stopped (exit {proc.returncode}): "
                              f"{err.splitlines()[-1] if err else 'no message'}; rerun to resume")
        result = self._runner_json(self.transport.read(out), out)
        entries = list(result.get("results", {}).values())
        if len(entries) != 1:
            raise DeviceError(f"{self.transport.name}: the runner timed {len(entries)} models in {run.folder}, not 1")
        if "error" in entries[0]:
            raise DeviceError(f"{self.transport.name}: {self.runtime} could not run the model: {entries[0]['error']}")
        self.temperatures.extend(entries[0].get("temperature_c", []))
        return Timing.from_json(entries[0]["timing"])

    def measure(self, module: nn.Module, input_shape: Tuple[int, ...]) -> Timing:
        run = self.prepare(module.eval(), input_shape)
        timing = self.time(run)  # a failed timing leaves the model: the device may be gone, the rerun resumes
        self.release(run)
        return timing

    def release(self, run: RemoteRun) -> None:
        """Remove ``run``'s model folder and timing file from the device."""
        self.transport.remove(run.folder, f"{run.folder}.json")
