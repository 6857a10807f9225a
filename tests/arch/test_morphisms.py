"""Network morphisms on trained weights: exact moves keep the function, weights are inherited, bad moves refused."""
import numpy as np
import pytest
import torch

from edgenas.arch.model import build_network
from edgenas.arch.morphisms import Move, apply_moves, legal_moves, move_between, random_moves
from edgenas.arch.space import FBNET_CANDIDATES, SearchSpace, get_space
from edgenas.errors import ArchitectureError

SPACE = get_space("fbnet-small")   # residual layers (0, 2, 4, 6) and layers changing channels or stride (1, 3, 5, 7)
NAMES = SPACE.candidate_names
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def trained_like(space, arch, seed=0):
    """A network with non-trivial weights and BatchNorm statistics, as training leaves them (not a fresh init)."""
    torch.manual_seed(seed)
    net = build_network(space, arch)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(0.5 + torch.rand(n, generator=g))
                m.bias.copy_(0.3 * torch.randn(n, generator=g))
                m.running_mean.copy_(0.3 * torch.randn(n, generator=g))
                m.running_var.copy_(0.5 + 1.5 * torch.rand(n, generator=g))
    return net.eval()


def inputs(space, n=6, seed=1):
    return torch.randn(n, space.input_channels, space.input_size, space.input_size,
                       generator=torch.Generator().manual_seed(seed))


def uniform(name):
    return (NAMES.index(name),) * SPACE.num_layers


def exact_cases():
    """Every exact move from the architectures that use one candidate in every layer."""
    return [(name, m) for name in NAMES for m in legal_moves(SPACE, uniform(name), exact_only=True)]


def test_the_exact_moves_cover_every_kind_and_both_positions():
    kinds = {(m.kind, m.layer % 2) for _, m in exact_cases()}   # even layers are residual in fbnet-small
    assert {("insert", 0), ("insert", 1), ("kernel", 0), ("kernel", 1), ("expansion", 0), ("expansion", 1),
            ("groups", 0), ("groups", 1)} <= kinds


@pytest.mark.parametrize("start", NAMES)
def test_every_exact_move_keeps_the_output_within_1e5(start):
    parent = trained_like(SPACE, uniform(start), seed=NAMES.index(start))
    x = inputs(SPACE)
    with torch.no_grad():
        want = parent(x)
    moves = legal_moves(SPACE, parent.arch, exact_only=True)
    assert moves or start == "k5_e6"   # the largest candidate everywhere has nowhere exact to grow
    for move in moves:
        child = apply_moves(parent, SPACE, [move]).eval()
        with torch.no_grad():
            got = child(x)
        assert (got - want).abs().max().item() <= 1e-5, str(move)
        assert child.arch[move.layer] == NAMES.index(move.target)


def test_a_chain_of_exact_moves_is_exact_and_the_child_has_the_shape_build_network_gives():
    rng = np.random.default_rng(0)
    parent = trained_like(SPACE, SPACE.parse("skip-skip-k3_e1-skip-k3_e1_g2-skip-skip-skip"))
    x = inputs(SPACE)
    arch, moves = random_moves(SPACE, parent.arch, 6, rng, exact_only=True)
    assert len(moves) == 6 and all(m.exact for m in moves)
    child = apply_moves(parent, SPACE, moves).eval()
    assert child.arch == arch
    with torch.no_grad():
        assert (child(x) - parent(x)).abs().max().item() <= 1e-5
    fresh = build_network(SPACE, arch)
    assert {k: v.shape for k, v in child.state_dict().items()} == {k: v.shape for k, v in fresh.state_dict().items()}


def test_the_parent_is_left_unchanged():
    parent = trained_like(SPACE, uniform("k3_e1"))
    before = {k: v.clone() for k, v in parent.state_dict().items()}
    apply_moves(parent, SPACE, [move_between(SPACE, 0, NAMES.index("k3_e1"), NAMES.index("k5_e1"))])
    assert all(torch.equal(before[k], v) for k, v in parent.state_dict().items())


def test_the_child_inherits_the_parents_weights_not_a_fresh_initialisation():
    parent = trained_like(SPACE, uniform("k3_e3"), seed=3)
    layer = 2
    grow_kernel = move_between(SPACE, layer, NAMES.index("k3_e3"), NAMES.index("k5_e3"))
    grow_hidden = move_between(SPACE, layer, NAMES.index("k3_e3"), NAMES.index("k3_e6"))
    for move in (grow_kernel, grow_hidden):
        child = apply_moves(parent, SPACE, [move])
        p, c = parent.state_dict(), child.state_dict()
        untouched = [k for k in p if not k.startswith(f"layers.{layer}.")]
        assert all(torch.equal(p[k], c[k]) for k in untouched)   # stem, head, other layers: the parent's
        old, new = parent.layers[layer].body, child.layers[layer].body
        if move is grow_kernel:
            assert torch.equal(new[1][0].weight[:, :, 1:4, 1:4], old[1][0].weight)   # the 3x3 in the 5x5's centre
            assert new[1][0].weight[:, :, 0].abs().sum() == 0
        else:
            hidden = old[0][0].out_channels
            assert torch.equal(new[0][0].weight[:hidden], old[0][0].weight)
            assert torch.equal(new[0][1].running_var[hidden:], old[0][1].running_var.repeat(1))  # copied stats
            assert new[2][0].weight[:, hidden:].abs().sum() == 0                                   # zero outgoing
        fresh = build_network(SPACE, child.arch).state_dict()
        assert not torch.equal(fresh["stem.0.weight"], c["stem.0.weight"])


def test_groups_2_to_1_folds_the_shuffle_into_block_diagonal_weights():
    parent = trained_like(SPACE, uniform("k3_e1_g2"), seed=5)
    child = apply_moves(parent, SPACE, [move_between(SPACE, 2, NAMES.index("k3_e1_g2"), NAMES.index("k3_e1"))])
    w = child.layers[2].body[0][0].weight[:, :, 0, 0]   # 16x16, dense now: half of it is zero
    assert (w == 0).sum().item() == w.numel() // 2
    assert len(child.layers[2].body) == 3                # no shuffle left


def test_pruning_keeps_the_channels_that_contribute():
    """e6 -> e3 on a block whose every other hidden channel has zero outgoing weights drops exactly those."""
    parent = trained_like(SPACE, uniform("k3_e6"), seed=7)
    with torch.no_grad():
        parent.layers[2].body[2][0].weight[:, 1::2] = 0.0
    x = inputs(SPACE)
    move = move_between(SPACE, 2, NAMES.index("k3_e6"), NAMES.index("k3_e3"))
    assert not move.exact
    child = apply_moves(parent, SPACE, [move]).eval()
    with torch.no_grad():
        assert (child(x) - parent(x)).abs().max().item() <= 1e-5


@pytest.mark.parametrize("source,target,layer", [("k3_e6", "k3_e3", 2), ("k5_e3", "k3_e3", 3), ("k3_e3", "skip", 2),
                                                 ("k3_e3", "skip", 3), ("k3_e1", "k3_e1_g2", 4),
                                                 ("skip", "k3_e1", 3)])
def test_approximate_moves_are_marked_and_change_the_output(source, target, layer):
    parent = trained_like(SPACE, uniform(source), seed=11)
    move = move_between(SPACE, layer, NAMES.index(source), NAMES.index(target))
    assert move is not None and not move.exact
    x = inputs(SPACE)
    child = apply_moves(parent, SPACE, [move]).eval()
    upto = lambda net: net.layers[:layer + 1](net.stem(x))  # noqa: E731  (the moved layer's output)
    with torch.no_grad():
        want = upto(parent)
        assert (upto(child) - want).abs().max().item() > 1e-2 * want.abs().max().item()


def test_which_moves_exist_and_which_are_exact():
    i = NAMES.index
    assert move_between(SPACE, 0, i("skip"), i("k3_e1")).exact          # residual: the new block adds zero
    assert not move_between(SPACE, 1, i("skip"), i("k3_e1")).exact      # 12 -> 16 channels: e1 keeps x's positive half
    assert move_between(SPACE, 1, i("skip"), i("k3_e3")).exact          # ReLU(x) - ReLU(-x)
    assert not move_between(SPACE, 1, i("skip"), i("k3_e1_g2")).exact
    assert move_between(SPACE, 3, i("k3_e3"), i("k3_e6")).exact
    assert move_between(SPACE, 0, i("k3_e1"), i("k5_e3")) is None       # two changes at once: two moves
    assert move_between(SPACE, 0, i("k3_e1_g2"), i("k3_e3")) is None
    assert move_between(SPACE, 0, i("k3_e1"), i("k3_e1")) is None
    moves = legal_moves(SPACE, uniform("k3_e1"))
    assert {m.target for m in moves if m.layer == 0} == {"k5_e1", "k3_e3", "k3_e6", "k3_e1_g2", "skip"}


def test_bad_moves_and_foreign_parents_are_refused():
    parent = trained_like(SPACE, uniform("k3_e1"))
    with pytest.raises(ArchitectureError, match="no morphism"):
        apply_moves(parent, SPACE, [Move(0, "k3_e1", "k5_e3", "kernel", True)])
    with pytest.raises(ArchitectureError, match="starts from k5_e1"):
        apply_moves(parent, SPACE, [Move(0, "k5_e1", "k3_e1", "kernel", False)])
    with pytest.raises(ArchitectureError, match="does not fit"):
        apply_moves(parent, SPACE, [Move(9, "k3_e1", "k5_e1", "kernel", True)])
    other = SearchSpace.from_dict("other", {**get_space("fbnet-small").declaration,
                                            "head": {"mid_ch": 64}, "candidates": FBNET_CANDIDATES})
    with pytest.raises(ArchitectureError, match="does not fit space 'other'"):
        apply_moves(parent, other, [move_between(other, 0, 0, 4)])
