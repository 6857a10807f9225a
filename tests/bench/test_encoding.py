"""Architecture encodings: shape, round trip, the registry."""
import numpy as np
import pytest

from edgenas.arch.space import get_space
from edgenas.bench.encoding import OneHotEncoding, encoder_for
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
