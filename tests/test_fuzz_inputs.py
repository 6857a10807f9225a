"""Property: a randomly damaged table or space declaration gives a valid result or one typed error.

Random mutations (a value replaced by NaN, infinity, a negative, a string, a fraction, a huge number, null,
a container; a key deleted or one added) of valid inputs go through the loaders. Each either loads into
something that works (a table predicts finite costs and saves as strict JSON; a space builds its network) or
raises one :class:`EdgeNASError`; no other exception, and no non-finite number in what is written.
"""
import copy
import json
import math
import os

import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import TINY_DECLARATION
from edgenas.arch.declaration import largest
from edgenas.arch.model import build_network
from edgenas.arch.space import SearchSpace
from edgenas.errors import EdgeNASError
from edgenas.tables.cost import CostModel
from edgenas.tables.table import LatencyTable

# EDGENAS_FUZZ_EXAMPLES=5000 for a long local campaign; CI runs the default 60.
SETTINGS = settings(max_examples=int(os.environ.get("EDGENAS_FUZZ_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.too_slow])

ODD_VALUES = st.sampled_from([math.nan, math.inf, -math.inf, -1, -1.0, -1e-9, 0, 0.0, 1, 2, 3, 4, 5, 16.7, 10**6,
                              10**12, 1e308, "2", "", "skip", None, True, False, [], {}, [1, 2], {"x": 1}])
VALUES = ODD_VALUES | st.integers(-100, 10**5) | st.floats(allow_nan=True, allow_infinity=True)


def _places(doc, path=()):
    """Every place of a JSON document: (path to its container, key or index)."""
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for k, v in items:
        yield path, k
        yield from _places(v, path + (k,))


def _at(doc, path):
    for k in path:
        doc = doc[k]
    return doc


def _fresh(value):
    """A copy: the lists and objects of ODD_VALUES are shared, and a later mutation must not change them."""
    return copy.deepcopy(value)


def mutate(data, doc):
    """``doc`` with one to three random mutations, drawn from ``data``."""
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 3))):
        places = list(_places(doc))
        if not places:
            break
        path, key = places[data.draw(st.integers(0, len(places) - 1))]
        container = _at(doc, path)
        action = data.draw(st.sampled_from(["set", "set", "set", "delete", "add"]))
        if action == "delete":
            del container[key]
        elif action == "add" and isinstance(container, dict):
            container[data.draw(st.sampled_from(["dilation", "extra", "padding"]))] = _fresh(data.draw(VALUES))
        else:
            container[key] = _fresh(data.draw(VALUES))
    return doc


def _strict(text: str):
    """Parse JSON refusing NaN and infinities, as a strict reader would."""
    def refuse(token):
        raise AssertionError(f"non-finite number {token} written")
    return json.loads(text, parse_constant=refuse)


@SETTINGS
@given(data=st.data())
def test_a_damaged_table_loads_into_finite_costs_or_raises_one_typed_error(_tiny_table_master, tmp_path_factory, data):
    doc = mutate(data, json.loads(_tiny_table_master.read_text()))
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "table.json"
    path.write_text(json.dumps(doc))  # NaN and Infinity as a hand-edited file may hold them
    try:
        table = LatencyTable.load(path)
        space = table.space()
        p = CostModel(space, table).predict(space.sample(16, seed=0))
    except EdgeNASError:
        return
    for values in (p.latency_ms, p.memory_bytes, p.flops):
        assert all(math.isfinite(v) for v in values)
    table.save(folder / "again.json")
    _strict((folder / "again.json").read_text())


@SETTINGS
@given(data=st.data())
def test_a_damaged_space_builds_or_raises_one_typed_error(data):
    decl = mutate(data, TINY_DECLARATION)
    try:
        space = SearchSpace.from_dict("fuzzed", decl)
        keys = space.op_keys()
    except EdgeNASError:
        return
    assert keys and space.num_layers >= 1
    params, macs = largest(decl, decl["candidates"])
    if params < 10**6 and macs < 10**8:  # small enough to build here: it runs, at the declared shape
        net = build_network(space, tuple(space.sample(1, seed=0)[0])).eval()
        with torch.no_grad():
            out = net(torch.zeros(space.input_shape))
        assert out.shape == (1, space.num_classes) and torch.isfinite(out).all()
