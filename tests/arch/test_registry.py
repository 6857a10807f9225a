import numpy as np
import pytest
import torch

from edgenas.errors import UnknownNameError
from edgenas.arch.model import build_network, build_op
from edgenas.arch.registry import OPS, OpRegistry
from edgenas.arch.space import PRESETS, get_space


def test_duplicate_name_is_an_error():
    reg = OpRegistry("test")
    reg.register("a")(lambda: torch.nn.Identity())
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a")(lambda: torch.nn.Identity())


def test_unknown_op_names_key_and_registry():
    with pytest.raises(UnknownNameError, match="'conv9'.*edgenas.arch.ops"):
        OPS.build("conv9")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_op_of_every_space_builds_and_keeps_its_shape(name):
    space = get_space(name)
    for key in space.op_keys():
        if key.input_shape[2] > 56:  # the 224 space's large stem/first layers: covered by smaller ones
            continue
        y = build_op(key)(torch.zeros(key.input_shape))
        assert y.shape[0] == 1


@pytest.mark.parametrize("name", ["fbnet-small", "fbnet-cifar"])
def test_networks_export_to_onnx_and_match(name):
    from profilers.onnxruntime_cpu import ort_session
    from edgenas.deploy.formats.lowering import to_onnx_bytes

    space = get_space(name)
    for arch in space.sample(3, seed=0):
        net = build_network(space, arch).eval()
        x = torch.randn(space.input_shape)
        sess = ort_session(to_onnx_bytes(net, space.input_shape), threads=1)
        got = sess.run(None, {"input": x.numpy()})[0]
        with torch.no_grad():
            want = net(x).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-5)


def test_an_unknown_name_error_crosses_a_process_intact():
    import pickle

    e = UnknownNameError("dataset", "cifar", ["digits", "mnist5k"], where="the export worker")
    again = pickle.loads(pickle.dumps(e))  # how a worker's error reaches the main process
    assert type(again) is UnknownNameError and str(again) == str(e) and again.known == ["digits", "mnist5k"]
