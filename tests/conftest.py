"""Shared fixtures: a tiny search space and a fast timing protocol keep the suite quick."""
from __future__ import annotations

import atexit
import copy
import os
import shutil
import tempfile

import pytest

# fitted surrogates are cached between processes (edgenas.bench.surrogate); the tests keep theirs to themselves,
# and remove them at the end
os.environ["EDGENAS_CACHE"] = tempfile.mkdtemp(prefix="edgenas-test-cache-")
atexit.register(shutil.rmtree, os.environ["EDGENAS_CACHE"], ignore_errors=True)

from edgenas.profiling.measure import TimingProtocol
from edgenas.arch.space import FBNET_CANDIDATES, SearchSpace

TINY_DECLARATION = {
    "input": {"channels": 1, "size": 8},
    "num_classes": 3,
    "stem": {"out_ch": 4, "kernel": 3, "stride": 1},
    "stages": {"layers": [1, 1], "channels": [4, 8], "strides": [1, 2]},
    "head": {"mid_ch": 16},
    "candidates": {k: FBNET_CANDIDATES[k] for k in ("k3_e1", "k5_e3", "k3_e1_g2", "skip")},
}

FAST = TimingProtocol(warmup_runs=1, warmup_s=0.0, min_runs=3, min_time_s=0.0, max_runs=20, max_time_s=0.5,
                      max_spread=10.0, retries=0)


@pytest.fixture(autouse=True)
def _no_pause_between_state_retries(monkeypatch):
    """A network timed in another machine state is retaken after a pause (edgenas.profiling.network): the
    retries stay, the seconds of waiting go, so a loaded test machine does not slow the suite."""
    monkeypatch.setattr("edgenas.profiling.network.STATE_PAUSE_S", 0.0)


@pytest.fixture
def one_torch_thread():
    """Small convolutions on a loaded machine run far faster on one thread than on two that wait for each other."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny_decl():
    return copy.deepcopy(TINY_DECLARATION)


@pytest.fixture
def tiny_space():
    return SearchSpace.from_dict("tiny", copy.deepcopy(TINY_DECLARATION))


@pytest.fixture
def fast_protocol():
    return FAST


@pytest.fixture(scope="session")
def _tiny_table_master(tmp_path_factory):
    from edgenas.profiling.profile import profile_space
    from profilers import get_profiler

    path = tmp_path_factory.mktemp("tables") / "tiny.json"
    space = SearchSpace.from_dict("tiny", copy.deepcopy(TINY_DECLARATION))
    profile_space(space, get_profiler("onnxruntime", protocol=FAST), path, calibration_networks=4,
                  op_latency="in_network")  # not auto: the fixture must not depend on the machine's noise
    return path


@pytest.fixture
def tiny_table(_tiny_table_master, tmp_path):
    """A private copy of a fully profiled table of the tiny space (onnxruntime, fast protocol)."""
    path = tmp_path / "tiny.json"
    shutil.copy(_tiny_table_master, path)
    return path


@pytest.fixture(scope="session")
def tiny28_table(tmp_path_factory):
    """A synthetic table of the tiny28 space (morph_helpers.SPACE), for the morphism searches' tests."""
    from _synthetic_table import synthetic_table
    from morph_helpers import SPACE

    path = tmp_path_factory.mktemp("table") / "tiny28.json"
    synthetic_table(SPACE, path)
    return str(path)


@pytest.fixture(scope="session")
def tiny28_cost(tiny28_table):
    from edgenas.tables.cost import CostModel
    from edgenas.tables.table import LatencyTable
    from morph_helpers import SPACE

    return CostModel(SPACE, LatencyTable.load(tiny28_table, space=SPACE))


@pytest.fixture(scope="session")
def tiny28_budget(tiny28_cost):
    """Halfway between the fastest and the slowest architecture: a budget that binds."""
    import numpy as np

    slow = tuple(int(c) for c in np.nanargmax(tiny28_cost.matrix["latency_ms"], 1))
    return (tiny28_cost.fastest()[1] + float(tiny28_cost.predict(slow).latency_ms[0])) / 2


@pytest.fixture
def fake_adb(tmp_path, monkeypatch):
    """A fake ``adb`` (and ``getprop``) on PATH; returns (adb path, log path). Serial FAKE0001 is connected."""
    from device_helpers import FAKES

    log = tmp_path / "adb.log"
    monkeypatch.setenv("FAKE_ADB_LOG", str(log))
    monkeypatch.setenv("FAKE_ADB_SERIAL", "FAKE0001")
    monkeypatch.delenv("FAKE_ADB_DROP_AFTER", raising=False)
    monkeypatch.setenv("PATH", f"{FAKES}{os.pathsep}{os.environ.get('PATH', '')}")
    return FAKES / "adb", log


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """An sshd on 127.0.0.1 (a free port) accepting a generated key; skips with the reason where it cannot run."""
    from device_helpers import Sshd

    server = Sshd(tmp_path_factory.mktemp("sshd"))
    reason = server.unavailable() or server.start()
    if reason:
        server.stop()
        pytest.skip(reason)
    yield server
    server.stop()
