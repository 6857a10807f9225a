"""Shared by the tests of the morphism searches (NASH, LEMONADE, their workers): a tiny space at the digits' shape."""
from __future__ import annotations

from edgenas.arch.space import FBNET_CANDIDATES, SearchSpace

# the tiny space's layout at the digits' shape (28x28, 10 classes), with every FBNet candidate
DECL = {"input": {"channels": 1, "size": 28}, "num_classes": 10, "stem": {"out_ch": 4, "kernel": 3, "stride": 2},
        "stages": {"layers": [1, 2], "channels": [4, 8], "strides": [1, 2]}, "head": {"mid_ch": 16},
        "candidates": FBNET_CANDIDATES}
SPACE = SearchSpace.from_dict("tiny28", DECL)
