"""The contract every profiler backend must meet, run against each one registered (and the device runner).

A backend whose runtime or hardware is missing here is skipped with the
reason it gives (its one-line BackendUnavailableError); it is never faked.
"""
from __future__ import annotations

import json
import sys

import pytest

from edgenas.errors import BackendUnavailableError
from edgenas.profiling.measure import Timing
from edgenas.arch.model import build_op
from edgenas.profiling.profile import profile_space
from edgenas.tables.table import LatencyTable
from profilers import BACKENDS, get_profiler
from profilers.base import Profiler



def marks(name: str) -> list:
    if name.startswith("tensorrt"):
        return [pytest.mark.cuda, pytest.mark.tensorrt]
    return [pytest.mark.cuda] if "cuda" in name else []


CASES = [pytest.param(n, marks=marks(n), id=n) for n in sorted(BACKENDS)] + \
        [pytest.param("device-runner:onnxruntime", id="device-runner-onnxruntime"),
         pytest.param("device-runner:executorch", id="device-runner-executorch", marks=[pytest.mark.slow])]


def make(name: str, protocol) -> Profiler:
    if name.startswith("device-runner:"):
        from profilers.remote import RemoteProfiler
        from profilers.transport import LocalTransport

        return RemoteProfiler(LocalTransport(python=sys.executable), name.split(":", 1)[1], protocol=protocol)
    return get_profiler(name, protocol=protocol)


@pytest.fixture(params=CASES)
def profiler(request, fast_protocol):
    prof = make(request.param, fast_protocol)
    try:
        prof.runtime_info()
    except BackendUnavailableError as e:
        pytest.skip(f"{request.param}: {e}")
    return prof


def test_header_says_what_was_measured(profiler):
    info = profiler.runtime_info()
    for k in ("runtime", "threads", "precision"):
        assert k in info, k
    assert info["threads"] == profiler.threads
    assert profiler.name and isinstance(profiler.name, str)
    device = profiler.device_info()
    json.dumps(info), json.dumps(device)  # both go into a JSON header
    assert device["kind"]
    if marks(profiler.name):
        assert "compute only" in info["timed"] or "with host transfers" in info["timed"]


def test_measures_an_op_and_the_overhead(profiler, tiny_space, fast_protocol):
    key = next(k for k in tiny_space.op_keys() if not k.is_identity)
    t = profiler.measure(build_op(key), key.input_shape)
    assert isinstance(t, Timing) and t.runs >= fast_protocol.min_runs and t.median_ms > 0
    assert t.p10_ms <= t.median_ms <= t.p90_ms
    o = profiler.overhead(key.input_shape)
    assert isinstance(o, Timing) and o.median_ms >= 0


def test_prepare_then_time_is_what_validation_uses(profiler, tiny_space):
    from edgenas.arch.model import build_network

    arch = tiny_space.sample(1, seed=0)[0]
    run = profiler.prepare(build_network(tiny_space, arch).eval(), tiny_space.input_shape)
    a, b = profiler.time(run), profiler.time(run)
    assert a.median_ms > 0 and b.median_ms > 0


def test_profiles_a_space_into_a_table_that_resumes(profiler, tiny_space, tmp_path, fast_protocol):
    out = tmp_path / "t.json"
    table = profile_space(tiny_space, profiler, out, calibration_networks=2)
    loaded = LatencyTable.load(out, space=tiny_space, backend=profiler.name)
    assert not loaded.missing(tiny_space) and loaded.calibration.coef  # fitted (a power law, or a ratio)
    assert loaded.header["runtime"] == json.loads(json.dumps(profiler.runtime_info()))
    before = out.read_bytes()
    again = profile_space(tiny_space, profiler, out, calibration_networks=2)  # nothing missing: nothing measured
    assert again.entries == table.entries and len(json.loads(before)["entries"]) == len(again.entries)


@pytest.mark.parametrize("name", [n for n in sorted(BACKENDS) if marks(n)])
def test_gpu_backends_say_what_to_install_where_missing(name, fast_protocol):
    prof = get_profiler(name, protocol=fast_protocol)
    try:
        prof.runtime_info()
    except BackendUnavailableError as e:
        msg = str(e)
        assert "install" in msg and "\n" not in msg
    else:
        pytest.skip(f"{name} is available here")
