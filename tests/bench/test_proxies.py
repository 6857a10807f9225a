"""Zero-cost proxies (edgenas.bench.proxies) on the tiny space."""
import math

import torch

from edgenas.bench.proxies import naswot, synflow


def _images(n=16, seed=0):
    return torch.randn((n, 1, 8, 8), generator=torch.Generator().manual_seed(seed))


def test_synflow_is_deterministic_and_grows_with_the_blocks_on_the_path(tiny_space):
    # candidates: 0 k3_e1, 1 k5_e3, 2 k3_e1_g2, 3 skip; layer 0 is residual (4 -> 4 channels, stride 1)
    big, small = synflow(tiny_space, [1, 1], _images()), synflow(tiny_space, [3, 1], _images())
    assert big == synflow(tiny_space, [1, 1], _images(seed=5))   # no data is read, only the shape
    assert math.isfinite(big) and big > small


def test_naswot_separates_distinct_images_and_is_singular_for_copies(tiny_space):
    distinct = naswot(tiny_space, [1, 1], _images())
    assert math.isfinite(distinct) and distinct == naswot(tiny_space, [1, 1], _images())
    copies = _images(1).repeat(16, 1, 1, 1)   # every pair agrees on every unit: K is all one value
    assert naswot(tiny_space, [1, 1], copies) == float("-inf")
