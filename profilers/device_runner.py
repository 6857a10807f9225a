#!/usr/bin/env python3
"""Device-side runner: time every model in a folder with one runtime and write the timings as JSON.

Copied to a phone or board next to ``edgenas_measure.py`` (a copy of
``edgenas/profiling/measure.py``, the one timing protocol), it needs nothing else than
Python, numpy and its runtime::

    python3 device_runner.py --runtime onnxruntime --models DIR --out timings.json \\
        [--threads 1] [--warmup 3] [--min-runs 10] [--min-time 0.3] [--cooldown 0]

Runtimes: ``onnxruntime`` (``*.onnx``), ``executorch`` (``*.pte``, XNNPACK
programs, through ``executorch.runtime``), ``litert`` (``*.tflite``, through
``ai_edge_litert`` or ``tflite_runtime``, XNNPACK by default). The output is
rewritten atomically after every model, so a device that drops mid-run keeps
what was timed. ``--check`` only reports the runtime and exits.

Exit codes: 0 done, 2 bad arguments, 3 runtime not installed, 4 a model failed.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import sys
import time

RUNNER_VERSION = 1
SUFFIX = {"onnxruntime": ".onnx", "executorch": ".pte", "litert": ".tflite"}
EXIT_BAD_ARGS, EXIT_NO_RUNTIME, EXIT_MODEL_FAILED = 2, 3, 4


def _fail(code: int, message: str):
    sys.stderr.write(f"edgenas-runner: {message}\n")
    sys.exit(code)


def _protocol_module():
    """The shared timing protocol: the copy shipped beside this file, or edgenas's own on a host."""
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    try:
        import edgenas_measure as m
    except ImportError:
        try:
            import importlib

            m = importlib.import_module("edgenas.profiling.measure")  # the package exports a function of that name
        except ImportError as e:
            _fail(EXIT_NO_RUNTIME, f"the timing protocol needs numpy and edgenas_measure.py beside the runner ({e})")
    return m


# ---- runtimes: load(path, threads) -> (zero-argument run, version) -------------------------------
def _onnxruntime(path, threads):
    import numpy as np
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    session = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    inp = session.get_inputs()[0]
    shape = [d if isinstance(d, int) and d > 0 else 1 for d in inp.shape]  # a symbolic dim ('batch'): 1
    feed = {inp.name: np.random.default_rng(0).standard_normal(shape, dtype=np.float32)}
    return (lambda: session.run(None, feed)), ort.__version__


def _executorch(path, threads):
    import torch
    from executorch.extension.pybindings import portable_lib
    from executorch.runtime import Runtime

    try:
        from executorch.version import __version__ as version
    except ImportError:
        version = "unknown"
    if portable_lib._threadpool_get_thread_count() != threads:  # before loading, never after
        portable_lib._unsafe_reset_threadpool(threads)
    method = Runtime.get().load_program(path).load_method("forward")
    meta = method.metadata.input_tensor_meta(0)
    inputs = [torch.randn(tuple(meta.sizes()), generator=torch.Generator().manual_seed(0))]
    return (lambda: method.execute(inputs)), version


def _litert(path, threads):
    import numpy as np

    try:
        from ai_edge_litert.interpreter import Interpreter
        from importlib.metadata import version as _v

        version = "ai-edge-litert " + _v("ai-edge-litert")
    except ImportError:
        from tflite_runtime.interpreter import Interpreter

        import tflite_runtime

        version = "tflite-runtime " + getattr(tflite_runtime, "__version__", "unknown")
    interp = Interpreter(model_path=path, num_threads=threads)
    interp.allocate_tensors()
    detail = interp.get_input_details()[0]
    x = np.random.default_rng(0).standard_normal(tuple(detail["shape"]), dtype=np.float32)

    def run():
        interp.set_tensor(detail["index"], x)
        interp.invoke()

    return run, version


RUNTIMES = {"onnxruntime": (_onnxruntime, "onnxruntime"), "executorch": (_executorch, "executorch.runtime"),
            "litert": (_litert, "ai_edge_litert")}


def check_runtime(name: str) -> str:
    """Import the runtime or exit with code 3 and a one-line message."""
    modules = {"onnxruntime": ["onnxruntime"], "executorch": ["executorch.runtime", "torch"],
               "litert": ["ai_edge_litert.interpreter", "tflite_runtime.interpreter"]}[name]
    errors = []
    for mod in modules:
        try:
            __import__(mod)
            if name != "executorch":
                return mod
        except ImportError as e:
            errors.append(f"{mod}: {e}")
            if name == "executorch":
                break
    if name == "executorch" and not errors:
        return "executorch.runtime"
    _fail(EXIT_NO_RUNTIME, f"runtime {name!r} is not installed on this device ({'; '.join(errors)})")


# ---- device readings ------------------------------------------------------------------------------
def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def temperatures_c() -> list:
    """Every thermal zone's temperature in °C (Linux and Android; empty elsewhere)."""
    out = []
    for zone in sorted(glob.glob("/sys/class/thermal/thermal_zone*/temp")):
        v = _read(zone)
        if v.lstrip("-").isdigit():
            out.append(round(int(v) / 1000.0, 1))
    return out


def device_facts() -> dict:
    cpu = ""
    for line in _read("/proc/cpuinfo").splitlines():
        if line.lower().startswith(("model name", "hardware")):
            cpu = line.split(":", 1)[1].strip()
            break
    return {"machine": platform.machine(), "system": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(), "cpu": cpu or platform.processor(), "cores": os.cpu_count(),
            "governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
            "model": _read("/proc/device-tree/model").rstrip("\x00")}


def _write_json(path: str, obj) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Time every model of a folder with one runtime (edgenas device runner).")
    p.add_argument("--runtime", required=True, choices=sorted(RUNTIMES))
    p.add_argument("--models", help="Folder of models (*.onnx, *.pte or *.tflite, by runtime).")
    p.add_argument("--out", help="Timings JSON to write.")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warmup", type=int, default=3, help="Warm-up runs (at least).")
    p.add_argument("--warmup-time", type=float, default=0.02, help="Warm-up seconds (at least).")
    p.add_argument("--min-runs", type=int, default=10)
    p.add_argument("--min-time", type=float, default=0.3, help="Seconds of timed runs (at least).")
    p.add_argument("--max-runs", type=int, default=20000)
    p.add_argument("--max-time", type=float, default=3.0)
    p.add_argument("--max-spread", type=float, default=0.10)
    p.add_argument("--max-median-error", type=float, default=0.01)
    p.add_argument("--retries", type=int, default=2)
    p.add_argument("--cooldown", type=float, default=0.0, help="Seconds to sleep before each model.")
    p.add_argument("--reference", help="A model file timed in alternating chunks with each model (paired timing).")
    p.add_argument("--check", action="store_true", help="Only check that the runtime loads; print it as JSON.")
    args = p.parse_args(argv)
    if not args.check and not (args.models and args.out):
        p.error("--models and --out are required unless --check")
    if args.threads < 1 or args.min_runs < 1 or args.cooldown < 0:
        p.error("--threads and --min-runs must be >= 1, --cooldown >= 0")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    module = check_runtime(args.runtime)
    if args.check:
        print(json.dumps({"runtime": args.runtime, "module": module, "runner_version": RUNNER_VERSION,
                          "device": device_facts()}))
        return 0
    m = _protocol_module()
    protocol = m.TimingProtocol(warmup_runs=args.warmup, warmup_s=args.warmup_time, min_runs=args.min_runs,
                                min_time_s=args.min_time, max_runs=args.max_runs, max_time_s=args.max_time,
                                max_spread=args.max_spread, max_median_error=args.max_median_error,
                                retries=args.retries, reference=bool(args.reference))
    if not os.path.isdir(args.models):
        _fail(EXIT_BAD_ARGS, f"models folder {args.models!r} does not exist")
    if args.reference and not os.path.isfile(args.reference):
        _fail(EXIT_BAD_ARGS, f"reference model {args.reference!r} does not exist")
    names = sorted(n for n in os.listdir(args.models) if n.endswith(SUFFIX[args.runtime]))
    load = RUNTIMES[args.runtime][0]
    out = {"format": "edgenas-device-timings", "runner_version": RUNNER_VERSION, "runtime": args.runtime,
           "runtime_version": None, "threads": args.threads, "protocol": protocol.to_json(),
           "cooldown_s": args.cooldown, "device": device_facts(), "results": {}}
    failed = []
    reference = load(args.reference, args.threads)[0] if args.reference else None
    for name in names:
        if args.cooldown:
            time.sleep(args.cooldown)
        before = temperatures_c()
        try:
            run, out["runtime_version"] = load(os.path.join(args.models, name), args.threads)
            timing = m.measure(run, protocol, reference=reference).to_json()
            out["results"][name] = {"timing": timing, "temperature_c": [before, temperatures_c()]}
        except Exception as e:  # a model the runtime cannot load or run: record it and go on
            failed.append(name)
            out["results"][name] = {"error": f"{type(e).__name__}: {e}"}
        _write_json(args.out, out)
    _write_json(args.out, out)
    if failed:
        _fail(EXIT_MODEL_FAILED, f"{len(failed)} of {len(names)} models failed: "
                                 + "; ".join(f"{n}: {out['results'][n]['error']}" for n in failed[:3]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
