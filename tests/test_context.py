"""Ops timed between fixed neighbours (edgenas.context) and profiles that frame them."""
import json

import pytest
import torch.nn as nn

from edgenas.context import CONTEXTS, Framing, check_context, frame, neighbour, output_shape
from edgenas.errors import TableMismatchError
from edgenas.model import build_op
from edgenas.profile import framings, profile_space
from edgenas.table import LatencyTable
from profilers import get_profiler
from profilers.onnxruntime_cpu import OnnxRuntimeCPUProfiler


class RecordingProfiler(OnnxRuntimeCPUProfiler):
    """Keeps every module it exports, to show what a profile times."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.exported = []

    def artifact(self, module, input_shape):
        self.exported.append((module, input_shape))
        return super().artifact(module, input_shape)


def test_a_middle_op_sits_between_a_neighbour_on_each_shape(tiny_space):
    key = tiny_space.layer_key(1, 0)  # 4 -> 8 channels, stride 2
    op = build_op(key)
    f = Framing.of(op, key.input_shape, first=False, last=False)
    assert f.shapes == ((1, 4, 8, 8), (1, 8, 4, 4))
    timed = f.wrap(op)
    assert [type(m) for m in timed] == [nn.Sequential, type(op), nn.Sequential]
    assert output_shape(timed, key.input_shape) == (1, 8, 4, 4)
    assert f.subtracted({(1, 4, 8, 8): 2.0, (1, 8, 4, 4): 6.0}) == pytest.approx(4.0)


def test_the_stem_has_no_neighbour_before_it_and_the_head_none_after(tiny_space):
    stem, head = tiny_space.fixed_keys()
    f = framings(tiny_space, [stem, head], "neighbours")
    assert f[stem].before is None and f[stem].after == (1, 4, 8, 8)
    assert f[head].before == head.input_shape and f[head].after is None
    assert f[head].subtracted({head.input_shape: 3.0}) == pytest.approx(1.5)


def test_only_the_last_op_may_end_in_a_flat_output(tiny_space):
    head = tiny_space.head_key()
    with pytest.raises(ValueError, match="only the last op"):
        Framing.of(build_op(head), head.input_shape, first=False, last=False)


def test_isolated_ops_are_not_framed_and_unknown_contexts_are_refused(tiny_space):
    assert set(framings(tiny_space, tiny_space.op_keys(), "isolated").values()) == {None}
    assert set(CONTEXTS) == {"isolated", "neighbours"}
    with pytest.raises(ValueError, match="not one of"):
        check_context("between")


def test_a_frame_is_two_neighbours_that_keep_the_shape():
    shape = (1, 8, 4, 4)
    assert output_shape(frame(shape), shape) == shape
    assert len(frame(shape)) == 2 and isinstance(neighbour(shape)[0], nn.Conv2d)


def test_a_framed_profile_times_each_op_between_neighbours_and_subtracts_half_frames(tiny_space, tmp_path,
                                                                                     fast_protocol):
    prof = RecordingProfiler(protocol=fast_protocol)
    t = profile_space(tiny_space, prof, tmp_path / "t.json", calibration_networks=2, workers=0)
    assert t.op_context == "neighbours" and "neighbour" in t.header["latency"]
    layer = tiny_space.layer_key(0, 0)
    timed = [m for m, s in prof.exported if isinstance(m, nn.Sequential) and len(m) == 3 and s == layer.input_shape]
    assert timed, "a middle layer was exported without its neighbours"
    e = t.entries[layer]
    half_frames = 0.5 * (t.overheads[(1, 4, 8, 8)].median_ms + t.overheads[(1, 4, 8, 8)].median_ms)
    assert e.latency_ms == pytest.approx(max(0.0, e.timing.median_ms - half_frames))
    # the op's own costs, not its neighbours': a skip that keeps the shape costs nothing
    skip = tiny_space.layer_key(0, tiny_space.candidate_names.index("skip"))
    assert t.entries[skip].cost.flops == 0


def test_a_table_resumes_only_in_its_own_context_and_old_tables_read_as_isolated(tiny_space, tiny_table,
                                                                                 fast_protocol):
    before = tiny_table.read_bytes()
    with pytest.raises(TableMismatchError, match="op_context"):
        profile_space(tiny_space, get_profiler("onnxruntime", protocol=fast_protocol), tiny_table,
                      op_context="isolated")
    assert tiny_table.read_bytes() == before
    d = json.loads(before)
    del d["op_context"]
    assert LatencyTable.from_json(d).op_context == "isolated"


def test_the_cli_offers_the_contexts_the_library_knows():
    import cli

    option = next(p for p in cli.profile.params if p.name == "op_context")
    assert tuple(option.type.choices) == tuple(reversed(CONTEXTS)) and option.default == "neighbours"
