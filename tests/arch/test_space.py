import json

import numpy as np
import pytest

from edgenas.errors import ArchitectureError, SpaceError, UnknownNameError
from edgenas.arch.space import PRESETS, SearchSpace, get_space


def test_fbnet_224_matches_the_paper():
    s = get_space("fbnet-224")
    assert s.num_layers == 22 and s.num_candidates == 9
    assert [l.out_ch for l in s.layers][:5] == [16, 24, 24, 24, 24]
    assert s.layers[-1].out_ch == 352 and s.layers[-1].input_hw == 7
    assert sum(l.stride == 2 for l in s.layers) == 4
    assert s.candidate_names == ("k3_e1", "k3_e1_g2", "k3_e3", "k3_e6", "k5_e1", "k5_e1_g2", "k5_e3", "k5_e6", "skip")
    assert s.head_key().kwargs == {"in_ch": 352, "mid_ch": 1504, "num_classes": 1000}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_architecture_string_round_trips(name):
    s = get_space(name)
    for arch in s.sample(20, seed=3):
        text = s.format(arch)
        assert s.parse(text) == tuple(arch)
        assert s.format(s.parse(text)) == text


def test_sampling_is_seeded():
    s = get_space("fbnet-small")
    assert np.array_equal(s.sample(5, 1), s.sample(5, 1))
    assert not np.array_equal(s.sample(5, 1), s.sample(5, 2))


@pytest.mark.parametrize("text, fragment", [("k3_e1-k3_e1", "has 2 layers"),
                                            ("k3_e1-k3_e1-k3_e1-k3_e1-k3_e1-k3_e1-k3_e1-k7_e9", "unknown op 'k7_e9'")])
def test_malformed_architecture_is_named(text, fragment):
    with pytest.raises(ArchitectureError, match=fragment):
        get_space("fbnet-small").parse(text)


def test_out_of_range_choice_is_refused():
    with pytest.raises(ArchitectureError):
        get_space("fbnet-small").check((0,) * 7 + (9,))


def test_unknown_space_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match="fbnet-224"):
        get_space("resnet")


def test_space_from_a_json_file(tmp_path, tiny_decl):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(tiny_decl))
    s = get_space(str(path))
    assert s.name == "mine" and s.num_layers == 2 and s.num_candidates == 4


def test_malformed_space_file(tmp_path, tiny_decl):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SpaceError, match="not valid JSON"):
        get_space(str(bad))
    del tiny_decl["stages"]["strides"]
    with pytest.raises(SpaceError, match="malformed"):
        SearchSpace.from_dict("x", tiny_decl)
    with pytest.raises(SpaceError, match="does not exist"):
        get_space(str(tmp_path / "missing.json"))


def test_op_keys_are_values_and_distinct(tiny_space):
    keys = tiny_space.op_keys()
    assert len(keys) == len(set(keys))
    # stem + 2 layers x 4 candidates + head; a key hashes by value, not by identity
    assert len(keys) == 1 + 8 + 1
    assert tiny_space.layer_key(0, 0) == get_space_copy(tiny_space).layer_key(0, 0)


def get_space_copy(space):
    return SearchSpace.from_dict(space.name, space.declaration)


def test_fingerprint_changes_with_the_space(tiny_decl):
    a = SearchSpace.from_dict("a", tiny_decl)
    tiny_decl["head"]["mid_ch"] = 32
    assert a.fingerprint != SearchSpace.from_dict("a", tiny_decl).fingerprint
