"""GPU backends beyond the conformance suite: CUDA graphs, measured peak memory, TensorRT precisions.

Every test here needs an NVIDIA GPU (and TensorRT for the last ones) and is
skipped with the reason where there is none. They were written against the
documented APIs and have not been run on a GPU in this repository yet.
"""
from __future__ import annotations

import pytest

from edgenas.errors import BackendUnavailableError
from edgenas.arch.model import build_network, build_op
from profilers import get_profiler

pytestmark = pytest.mark.cuda


def _or_skip(name, **kw):
    prof = get_profiler(name, **kw)
    try:
        prof.runtime_info()
    except BackendUnavailableError as e:
        pytest.skip(str(e))
    return prof


def _conv_key(space):
    return next(k for k in space.op_keys() if k.op == "ir")


def test_cuda_events_graphs_and_peak_memory(tiny_space, fast_protocol):
    eager = _or_skip("torch-cuda", protocol=fast_protocol)
    graphs = get_profiler("torch-cuda", protocol=fast_protocol, cuda_graphs=True)
    key = _conv_key(tiny_space)
    t_eager, t_graph = eager.measure(build_op(key), key.input_shape), graphs.measure(build_op(key), key.input_shape)
    assert t_eager.median_ms > 0 and t_graph.median_ms > 0
    assert graphs.runtime_info()["mode"] == "cuda-graph replay"
    peak = eager.peak_memory_bytes(build_op(key), key.input_shape)
    assert peak is not None and peak > 0
    assert eager.device_info()["kind"] == "cuda-gpu"


def test_cuda_fp16_network(tiny_space, fast_protocol):
    prof = _or_skip("torch-cuda", protocol=fast_protocol, precision="fp16")
    arch = tiny_space.sample(1, seed=0)[0]
    assert prof.measure(build_network(tiny_space, arch), tiny_space.input_shape).median_ms > 0


def test_onnxruntime_cuda_with_and_without_transfers(tiny_space, fast_protocol):
    compute = _or_skip("onnxruntime-cuda", protocol=fast_protocol)
    transfers = get_profiler("onnxruntime-cuda", protocol=fast_protocol, with_transfers=True)
    key = _conv_key(tiny_space)
    assert compute.measure(build_op(key), key.input_shape).median_ms > 0
    assert transfers.measure(build_op(key), key.input_shape).median_ms > 0
    assert "with host transfers" in transfers.runtime_info()["timed"]


@pytest.mark.tensorrt
@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_tensorrt_precisions(tiny_space, fast_protocol, precision):
    prof = _or_skip("tensorrt", protocol=fast_protocol, precision=precision)
    key = _conv_key(tiny_space)
    t = prof.measure(build_op(key), key.input_shape)
    assert t.median_ms > 0 and prof.runtime_info()["precision"] == precision
