"""Search strategies, looked up by name: each a :class:`~edgenas.search.contract.Strategy` in its own module.

The registry names the module and class and a one-line summary, so listing the
strategies (``edgenas search --help``) imports none of them, and a strategy's
heavy imports cost nothing to the others.
"""
from __future__ import annotations

import importlib
from typing import Dict, List, Tuple

from ...errors import UnknownNameError

__all__ = ["STRATEGIES", "get_strategy", "names", "summary"]

# name -> (module, class, one-line summary)
STRATEGIES: Dict[str, Tuple[str, str, str]] = {
    "bananas": ("edgenas.search.strategies.bananas", "Bananas",
                "BANANAS: Bayesian optimisation with an MLP ensemble, Thompson sampling, mutation of the best"),
    "dnas": ("edgenas.search.strategies.dnas", "DNASStrategy",
             "FBNet's differentiable search: a Gumbel-softmax supernet with a latency-aware loss"),
    "enas": ("edgenas.search.strategies.enas", "ENASStrategy",
             "ENAS: a REINFORCE controller and a shared supernet trained in turns, MnasNet's reward"),
    "evolution": ("edgenas.search.strategies.evolution", "RegularizedEvolution",
                  "regularized (aging) evolution: tournament, one-layer mutation, the oldest removed"),
    "lemonade": ("edgenas.search.strategies.lemonade", "Lemonade",
                 "LEMONADE: Lamarckian multi-objective evolution with network morphisms and a KDE over cheap "
                 "objectives"),
    "nash": ("edgenas.search.strategies.nash", "NASH",
             "NASH: hill climbing with network morphisms, children inherit their parent's weights (Elsken et al.)"),
    "neural-architect": ("edgenas.search.strategies.neural_architect", "NeuralArchitect",
                         "Neural Architect: RL over one-layer transformations, reward from performance networks "
                         "(accuracy, training time) and the table's latency"),
    "nsga2": ("edgenas.search.strategies.nsga2", "NSGA2Strategy",
              "NSGA-II (pymoo): a Pareto set of accuracy against latency and memory, budgets as constraints"),
    "rl": ("edgenas.search.strategies.rl", "RLStrategy",
           "a REINFORCE-trained controller (NASNet/ENAS) with MnasNet's reward ACC·(LAT/T)^w"),
    "random": ("edgenas.search.strategies.random_search", "RandomStrategy",
               "uniform random architectures: the baseline every strategy must beat"),
}


def names() -> List[str]:
    """The registered strategy names, sorted."""
    return sorted(STRATEGIES)


def summary(name: str) -> str:
    return STRATEGIES[name][2]


def get_strategy(name: str) -> type:
    """The strategy class registered as ``name``; an unknown name raises :class:`UnknownNameError`."""
    try:
        module, cls, _ = STRATEGIES[name]
    except KeyError:
        raise UnknownNameError("strategy", name, STRATEGIES) from None
    return getattr(importlib.import_module(module), cls)
