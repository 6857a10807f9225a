"""NNI 3.0's multi-trial strategies on an edgenas problem, run in NNI's own venv (never imported by edgenas).

Driven by benchmarks/compare_strategies.py as a subprocess that serves one search per line of stdin (a JSON
object: strategy, layers, candidates, seed, ...): NNI's strategy runs in-process on its
SequentialExecutionEngine over a model space of one categorical choice per layer; each model it submits is sent
to the harness as one JSON line on stdout ({"arch": [candidate indices]}), and the harness answers on stdin with
the reward it computed from the shared estimator and latency table ({"reward": r}) or {"stop": true} once the
budget of distinct architectures is spent; the worker then writes {"done": why} and waits for the next search.
The harness counts the evaluations and keeps the sequence; this worker only searches.
"""
from __future__ import annotations

import argparse
import faulthandler
import json
import logging
import os
import signal
import sys
import warnings


class Stop(Exception):
    """The harness has spent the evaluation budget."""


def main() -> None:
    argparse.ArgumentParser(description="Runs the searches the harness asks for on stdin; no options.").parse_args()
    # the protocol owns the real stdout; anything NNI or torch prints goes to stderr
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    warnings.filterwarnings("ignore")
    faulthandler.register(signal.SIGUSR1)   # kill -USR1 PID prints where it is (to stderr)

    import numpy as np
    import torch

    import nni
    from nni.mutable import MutableList, ensure_frozen
    from nni.nas.evaluator import FunctionalEvaluator
    from nni.nas.execution import SequentialExecutionEngine
    from nni.nas.space import BaseModelSpace, SimplifiedModelSpace, current_model, model_context
    from nni.nas.strategy import PolicyBasedRL, RegularizedEvolution

    logging.getLogger("nni").setLevel(logging.ERROR)  # after the import, which installs NNI's handlers (per-model
    # INFO lines would count against NNI's overhead)
    torch.set_num_threads(1)

    @nni.trace
    class ChainSpace(BaseModelSpace):
        """One choice of candidate index per layer; a frozen model is just the chosen indices."""

        def __init__(self, layers: int, candidates: int):
            self.layers, self.candidates = layers, candidates
            self.choices = MutableList([nni.choice(f"layer{i}", list(range(candidates))) for i in range(layers)])
            if current_model() is not None:
                self.arch = [int(c) for c in ensure_frozen(self.choices)]

        def leaf_mutables(self, is_leaf):
            yield from self.choices.leaf_mutables(is_leaf)

        def check_contains(self, sample):
            for choice in self.choices:
                exc = choice.check_contains(sample)
                if exc is not None:
                    return exc
            return None

        def freeze(self, sample):
            with model_context(sample):
                return ChainSpace(self.layers, self.candidates)

    def evaluate(model):
        proto.write(json.dumps({"arch": model.arch}) + "\n")
        reply = json.loads(sys.stdin.readline() or '{"stop": true}')
        if reply.get("stop"):
            raise Stop()
        nni.report_final_result(float(reply["reward"]))

    # one search per command line, so that NNI's imports (tens of seconds) are paid once for many runs:
    # {"strategy": "evolution"|"rl", "layers", "candidates", "seed", "max_models", "population", "sample"}
    while True:
        line = sys.stdin.readline()
        if not line:
            break
        run = json.loads(line)
        # NNI 3.0's PolicyBasedRL takes no seed: seed the generators its PPO policy draws from
        np.random.seed(run["seed"])
        torch.manual_seed(run["seed"])
        space = SimplifiedModelSpace.from_model(ChainSpace(run["layers"], run["candidates"]),
                                                FunctionalEvaluator(evaluate))
        if run["strategy"] == "evolution":
            strategy = RegularizedEvolution(population_size=run["population"], sample_size=run["sample"],
                                            seed=run["seed"])
        else:
            strategy = PolicyBasedRL()
        try:
            strategy(space, SequentialExecutionEngine(max_model_count=run["max_models"]))
            proto.write(json.dumps({"done": "strategy finished"}) + "\n")
        except Stop:
            proto.write(json.dumps({"done": "budget"}) + "\n")


if __name__ == "__main__":
    main()
