"""Architecture encodings: shape, round trip, the registry; the layer arguments of the surrogate."""
from types import SimpleNamespace

import numpy as np
import pytest

from edgenas.arch.space import get_space
from edgenas.bench.encoding import OneHotEncoding, encoder_for, layer_args
from edgenas.errors import UnknownNameError


def test_one_hot_has_one_bit_per_layer_and_decodes_to_the_architecture():
    space = get_space("fbnet-small")
    enc = encoder_for(space)
    assert isinstance(enc, OneHotEncoding)
    archs = np.random.default_rng(0).integers(0, space.num_candidates, size=(50, space.num_layers))
    rows = enc.encode(archs)
    assert rows.shape == (50, enc.width) == (50, space.num_layers * space.num_candidates)
    assert set(np.unique(rows)) == {0.0, 1.0}
    assert (rows.reshape(50, space.num_layers, -1).sum(2) == 1).all()
    np.testing.assert_array_equal(enc.decode(rows), archs)
    assert not np.array_equal(enc.encode(archs[:1]), enc.encode(archs[1:2]))


def test_an_unknown_encoding_names_the_known_ones():
    with pytest.raises(UnknownNameError, match="one-hot"):
        encoder_for(get_space("fbnet-small"), "path")


def test_layer_args_give_each_layer_its_candidates_sizes_and_zero_for_skip():
    space = get_space("fbnet-small")   # arguments in name order: expansion, groups, kernel; then "is a block"
    names = space.candidate_names
    arch = [names.index(n) for n in ("k5_e6", "k3_e1_g2", "skip", "k3_e3", "k5_e1", "k3_e1", "k5_e3", "skip")]
    rows = layer_args(space, [arch])
    assert rows.shape == (1, space.num_layers * 4)
    np.testing.assert_array_equal(rows.reshape(space.num_layers, 4)[:3], [[6, 1, 5, 1], [1, 2, 3, 1], [0, 0, 0, 0]])
    # an argument that is not a number (an op registered with an activation's name) counts by its rank
    cand = lambda op, **args: SimpleNamespace(op=op, args=tuple(sorted(args.items())))  # noqa: E731
    acts = SimpleNamespace(num_layers=2, candidates=[cand("conv", act="relu", kernel=3),
                                                     cand("conv", act="hswish", kernel=5), cand("skip")])
    np.testing.assert_array_equal(layer_args(acts, [[0, 2], [1, 0]]), [[2, 3, 1, 0, 0, 0], [1, 5, 1, 2, 3, 1]])
