"""NASH: hill climbing with network morphisms (Elsken et al. 2017, "Simple and efficient architecture search
for CNNs"), registered as ``nash``.

The search starts from a small trained network: ``start`` is the first table's fastest architecture
(default), an architecture string, or an ``edgenas train`` run folder whose trained weights are used;
it trains ``start_epochs`` briefly from there. Each step draws ``children`` children of the current
network, each by ``morphisms`` random moves (:mod:`edgenas.arch.morphisms`; with ``shrink`` also the
approximate shrinking ones, without it only the function-preserving ones, as NASH; with ``grow_first``
the shrinking ones only once no growing child is new and within the budgets), keeping only
children that are new architectures predicted within every budget by the tables' cost models (a
child over a budget is redrawn, never trained). Each child inherits its parent's weights and trains
``epochs`` epochs in one cosine cycle (SGDR, :func:`edgenas.train.brief.train_briefly`) on the
weight split; the best of parent and children by accuracy on the validation split (FBNet's arch
split) becomes the next parent, so a step never lowers it. The search stops after ``steps`` steps,
before a step once ``max_minutes`` of training time is spent, or when no new feasible child can be
drawn.

Every trained network is a member checkpoint in ``members/`` (:mod:`edgenas.search.members`), the
run's journal: all randomness comes from the request's seed (the moves of step ``s`` from a
generator seeded by ``(seed, s)``, each child's initialisation and data order from its own seed), so
a rerun replays the same decisions, loads the networks already trained and ends as an uninterrupted
run. Time is counted from the members' recorded training time, so a time budget ends a resumed run
at the same step too. The result is the Pareto set of every trained network (validation error
against each table's latency), the last parent selected, each member's weights named in the
result's sources.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import List, Tuple

import numpy as np

from ...arch.morphisms import apply_moves, random_moves
from ...arch.space import Architecture
from ...errors import ConfigError
from ..contract import SearchOutcome, SearchRequest, option
from ..members import Member
from ..morph_run import RESUME_NEUTRAL, MorphRun, MorphStrategy, MorphTrainingConfig, network_seed

__all__ = ["NASHConfig", "NASH"]

DRAWS_PER_CHILD = 50   # tries to draw a new architecture within the budgets before giving up on a child


@dataclass
class NASHConfig(MorphTrainingConfig):
    steps: int = option(5, "Hill-climbing steps.")
    children: int = option(4, "Children per step (NASH: 8).")
    morphisms: int = option(2, "Random morphisms per child (NASH: up to 5).")
    shrink: bool = option(True, "Also draw the approximate shrinking moves (smaller kernel or expansion, a block "
                                "removed); NASH itself grows only, which a latency budget soon stops.")
    grow_first: bool = option(True, "With shrink: draw growing (exact) moves first and shrinking ones only when "
                                    "no growing child is new and within the budgets, so that the climb reaches "
                                    "the budget before it trades capacity between layers (off: both alike).")

    RESUME_NEUTRAL = ("steps",) + RESUME_NEUTRAL   # a rerun may climb further, or on other threads and workers

    def validate(self) -> None:
        for ok, msg in [(self.steps >= 0, f"steps must be >= 0, got {self.steps}"),
                        (self.children >= 1, f"children must be >= 1, got {self.children}"),
                        (self.morphisms >= 1, f"morphisms must be >= 1, got {self.morphisms}")] + self.checks():
            if not ok:
                raise ConfigError(msg)


class _Climb(MorphRun):
    """One NASH run: the members trained so far and the climb from the start network."""

    def draw_children(self, step: int, parent: Member, trained: set) -> List[Tuple[Architecture, list]]:
        """Up to ``children`` new feasible architectures, each with the moves that make it from ``parent``."""
        rng = np.random.default_rng([self.request.seed, step])
        parent_arch = self.space.parse(parent.arch)
        drawn: List[Tuple[Architecture, list]] = []
        for _ in range(self.cfg.children):
            for attempt in range(DRAWS_PER_CHILD):
                growing_only = not self.cfg.shrink or (self.cfg.grow_first and attempt < DRAWS_PER_CHILD // 2)
                arch, moves = random_moves(self.space, parent_arch, self.cfg.morphisms, rng, exact_only=growing_only)
                text = self.space.format(arch)
                if text not in trained and all(text != self.space.format(a) for a, _ in drawn) \
                        and self.feasible(arch):
                    drawn.append((arch, moves))
                    break
        return drawn

    def climb(self) -> Tuple[Member, List[dict], str]:
        cfg, space, progress = self.cfg, self.space, self.request.progress
        progress("start", 0, 1)
        parent, net = self.start()
        progress("start", 1, 1, val_acc=parent.val_acc)
        history: List[dict] = [self.row(0, parent, [])]
        progress("steps", 0, cfg.steps, val_acc=parent.val_acc)
        stop = "steps"
        for step in range(1, cfg.steps + 1):
            if self.out_of_time():
                stop = "time"
                break
            plan = self.draw_children(step, parent, {m.arch for m in self.members})
            if not plan:
                stop = "no new child within the budgets"
                break
            planned = [(Member(f"s{step:03d}c{c:02d}", space.format(arch), 0.0, 0.0, 0.0, step, parent.id,
                               [str(m) for m in moves], all(m.exact for m in moves)),
                        functools.partial(apply_moves, net, space, moves),
                        network_seed(self.request.seed, step, c), cfg.epochs)
                       for c, (arch, moves) in enumerate(plan)]
            best, best_net, children = parent, net, []
            for child, child_net in self.train_members(planned):
                children.append(child)
                if child.val_acc > best.val_acc:
                    best, best_net = child, child_net
            parent, net = best, best_net
            history.append(self.row(step, parent, children))
            progress("steps", step, cfg.steps, val_acc=parent.val_acc,
                     latency_ms=self.predicted(parent.arch)[self.spec.targets[0].key])
        return parent, history, stop

    def row(self, step: int, kept: Member, children: List[Member]) -> dict:
        return {"step": step, "parent": kept.arch, "parent_id": kept.id, "val_acc": kept.val_acc,
                "latency_ms": {t.name: self.predicted(kept.arch)[t.key] for t in self.spec.targets},
                "children": [{"id": m.id, "arch": m.arch, "val_acc": m.val_acc, "exact": m.exact} for m in children],
                "train_s_total": self.spent}


class NASH(MorphStrategy):
    """Hill climbing from a small trained network: each step trains a few children made by random morphisms
    (inheriting the parent's weights) briefly, and the best within the budgets becomes the next parent.
    Rerunning the same command resumes from the networks already trained (members/)."""

    name = "nash"
    summary = "NASH: hill climbing with network morphisms, children inherit their parent's weights (Elsken et al.)"
    Config = NASHConfig

    def run(self, request: SearchRequest) -> SearchOutcome:
        climb = _Climb(request)
        with climb.session():
            last, history, stop = climb.climb()
        from ..plot import SEARCH_PLOT, plot_climb  # matplotlib only when writing

        t = request.spec.targets[0]
        plot_climb(history, request.out / SEARCH_PLOT, t.name, t.max_latency_ms,
                   title=f"NASH on {request.space.name} / {climb.dataset}: {len(climb.members)} networks trained")
        return climb.outcome(last.arch, history, {"stopped_by": stop})
