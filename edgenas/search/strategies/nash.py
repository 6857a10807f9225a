"""NASH: hill climbing with network morphisms (Elsken et al. 2017, "Simple and efficient architecture search
for CNNs"), registered as ``nash``.

The search starts from a small trained network: ``start`` is the first table's fastest architecture
(default), an architecture string, or an ``edgenas train`` run folder whose trained weights are used;
it trains ``start_epochs`` briefly from there. Each step draws ``children`` children of the current
network, each by ``morphisms`` random moves (:mod:`edgenas.arch.morphisms`; with ``shrink`` also the
approximate shrinking ones, without it only the function-preserving ones, as NASH), keeping only
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

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from ...arch.model import Network, build_network
from ...arch.morphisms import apply_moves, random_moves
from ...arch.space import Architecture, SearchSpace
from ...errors import ConfigError
from ...train.brief import train_briefly
from ...train.data import Splits, check_fits_space, load_images, make_splits
from ...train.loop import TrainConfig
from ..contract import SearchOutcome, SearchRequest, Strategy, option
from ..problem import ObjectiveSpec
from ..members import Member, MemberStore, load_trained_run
from ..run import pareto_front, record_point
from ..runstore import EvalRecord

__all__ = ["NASHConfig", "NASH"]

DRAWS_PER_CHILD = 50   # tries to draw a new architecture within the budgets before giving up on a child


@dataclass
class NASHConfig:
    steps: int = option(5, "Hill-climbing steps.")
    max_minutes: Optional[float] = option(None, "Stop before a step once this much training time is spent.")
    children: int = option(4, "Children per step (NASH: 8).")
    morphisms: int = option(2, "Random morphisms per child (NASH: up to 5).")
    shrink: bool = option(True, "Also draw the approximate shrinking moves (smaller kernel or expansion, a block "
                                "removed); NASH itself grows only, which a latency budget soon stops.")
    epochs: int = option(2, "Epochs each child trains: one cosine cycle from lr to zero (SGDR).")
    start: str = option("fastest", "'fastest' (the first table's fastest architecture), an architecture, or an "
                                   "'edgenas train' run folder whose trained network starts the climb.")
    start_epochs: int = option(4, "Epochs the start network trains before the first step.")
    batch_size: int = option(128, "Batch size.")
    lr: float = option(0.05, "Learning rate at the start of each cosine cycle (SGD, Nesterov momentum).")
    momentum: float = option(0.9, "Momentum.")
    weight_decay: float = option(5e-4, "Weight decay.")
    max_batches: Optional[int] = option(None, "Batches per epoch (smoke runs).")
    threads: Optional[int] = option(None, "Torch threads (default: torch's).")

    RESUME_NEUTRAL = ("steps", "max_minutes", "threads")   # a rerun may climb further, or on other threads

    def validate(self) -> None:
        checks = [
            (self.steps >= 0, f"steps must be >= 0, got {self.steps}"),
            (self.max_minutes is None or self.max_minutes > 0, f"max_minutes must be positive, got {self.max_minutes}"),
            (self.children >= 1, f"children must be >= 1, got {self.children}"),
            (self.morphisms >= 1, f"morphisms must be >= 1, got {self.morphisms}"),
            (self.epochs >= 1 and self.start_epochs >= 0,
             f"epochs must be >= 1 and start_epochs >= 0, got {self.epochs} and {self.start_epochs}"),
            (self.batch_size >= 2, f"batch_size must be >= 2, got {self.batch_size}"),
            (self.lr > 0 and self.momentum >= 0 and self.weight_decay >= 0,
             "lr must be positive, momentum and weight_decay >= 0"),
            (self.max_batches is None or self.max_batches >= 1, f"max_batches must be >= 1, got {self.max_batches}"),
            (self.threads is None or self.threads >= 1, f"threads must be >= 1, got {self.threads}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ConfigError(msg)

    def train_config(self, epochs: int, seed: int) -> TrainConfig:
        return TrainConfig(epochs=epochs, batch_size=self.batch_size, lr=self.lr, momentum=self.momentum,
                           weight_decay=self.weight_decay, seed=seed)


def _child_seed(seed: int, step: int, child: int) -> int:
    return (seed * 1_000_003 + step * 1_009 + child) % (2 ** 63)


def _over_budget(spec: ObjectiveSpec, costs: Dict[str, float]) -> Dict[str, float]:
    """The budgets ``costs`` exceeds: key -> predicted value."""
    return {key: costs[key] for key, budget in spec.constraints if costs[key] > budget}


def _start(cfg: NASHConfig, space: SearchSpace, spec: ObjectiveSpec) -> Tuple[Architecture, Optional[Network]]:
    """The start architecture, with its trained network when ``start`` is a train run folder; refused when it
    does not fit the space or is predicted over a budget."""
    trained = None
    if cfg.start == "fastest":
        arch = tuple(int(c) for c in spec.targets[0].cost.fastest()[0])
    elif Path(cfg.start).is_dir():
        text, trained = load_trained_run(Path(cfg.start), space)
        arch = space.parse(text)
    else:
        arch = space.parse(cfg.start)
    over = _over_budget(spec, {k: float(v[0]) for k, v in spec.costs(np.asarray([arch])).items()})
    if over:
        shown = ", ".join(f"{k} {v:.4g}" for k, v in over.items())
        raise ConfigError(f"the start network {space.format(arch)} is predicted over the budget ({shown}); start "
                          f"from a smaller one (start=fastest)")
    return arch, trained


class _Climb:
    """One NASH run: the data, the members trained so far, the current parent."""

    def __init__(self, request: SearchRequest):
        self.request, self.cfg, self.spec, self.space = request, request.config, request.spec, request.space
        self.splits: Splits = make_splits(load_images(request.dataset or "mnist5k"), seed=request.seed)
        check_fits_space(self.splits, self.space)
        self.store = MemberStore(request.out, self.space)
        self.members: List[Member] = []
        self.costs: Dict[str, Dict[str, float]] = {}
        self.spent = 0.0

    # ---- costs and budgets -------------------------------------------------------------------------------
    def predicted(self, arch: Architecture) -> Dict[str, float]:
        key = self.space.format(arch)
        if key not in self.costs:
            self.costs[key] = {k: float(v[0]) for k, v in self.spec.costs(np.asarray([arch])).items()}
        return self.costs[key]

    def feasible(self, arch: Architecture) -> bool:
        return not _over_budget(self.spec, self.predicted(arch))

    # ---- members -----------------------------------------------------------------------------------------
    def train_or_load(self, member: Member, make_net, seed: int, epochs: int) -> Tuple[Member, Network]:
        """The member from its checkpoint, else ``make_net()`` trained briefly and checkpointed."""
        loaded = self.store.load(member.id, member.arch)
        if loaded is None:
            torch.manual_seed(seed)
            net = make_net()
            split = self.splits
            result = train_briefly(net, split.weight, split.arch, self.cfg.train_config(epochs, seed),
                                   max_batches=self.cfg.max_batches)
            member.val_acc, member.val_loss, member.train_s = result.val_acc, result.val_loss, result.seconds
            self.store.save(member, net)
            loaded = member, net
        self.members.append(loaded[0])
        self.spent += loaded[0].train_s
        return loaded

    def start(self) -> Tuple[Member, Network]:
        arch, trained = _start(self.cfg, self.space, self.spec)
        member = Member("s000c00", self.space.format(arch), 0.0, 0.0, 0.0)
        return self.train_or_load(member, lambda: trained if trained is not None else build_network(self.space, arch),
                                  _child_seed(self.request.seed, 0, 0), self.cfg.start_epochs)

    def draw_children(self, step: int, parent: Member, trained: set) -> List[Tuple[Architecture, list]]:
        """Up to ``children`` new feasible architectures, each with the moves that make it from ``parent``."""
        rng = np.random.default_rng([self.request.seed, step])
        parent_arch = self.space.parse(parent.arch)
        drawn: List[Tuple[Architecture, list]] = []
        for _ in range(self.cfg.children):
            for _ in range(DRAWS_PER_CHILD):
                arch, moves = random_moves(self.space, parent_arch, self.cfg.morphisms, rng,
                                           exact_only=not self.cfg.shrink)
                text = self.space.format(arch)
                if text not in trained and all(text != self.space.format(a) for a, _ in drawn) \
                        and self.feasible(arch):
                    drawn.append((arch, moves))
                    break
        return drawn

    # ---- the climb ---------------------------------------------------------------------------------------
    def run(self) -> Tuple[Member, List[dict], str]:
        cfg, space, progress = self.cfg, self.space, self.request.progress
        progress("start", 0, 1)
        parent, net = self.start()
        progress("start", 1, 1, val_acc=parent.val_acc)
        history: List[dict] = [self.row(0, parent, [])]
        progress("steps", 0, cfg.steps, val_acc=parent.val_acc)
        stop = "steps"
        for step in range(1, cfg.steps + 1):
            if cfg.max_minutes is not None and self.spent >= 60.0 * cfg.max_minutes:
                stop = "time"
                break
            plan = self.draw_children(step, parent, {m.arch for m in self.members})
            if not plan:
                stop = "no new child within the budgets"
                break
            best, best_net, children = parent, net, []
            for c, (arch, moves) in enumerate(plan):
                progress("children", c, len(plan))
                member = Member(f"s{step:03d}c{c:02d}", space.format(arch), 0.0, 0.0, 0.0, step, parent.id,
                                [str(m) for m in moves], all(m.exact for m in moves))
                child, child_net = self.train_or_load(member, lambda: apply_moves(net, space, moves),
                                                      _child_seed(self.request.seed, step, c), cfg.epochs)
                children.append(child)
                if child.val_acc > best.val_acc:
                    best, best_net = child, child_net
            progress("children", len(plan), len(plan))
            parent, net = best, best_net
            history.append(self.row(step, parent, children))
            progress("steps", step, cfg.steps, val_acc=parent.val_acc,
                     latency_ms=self.predicted(space.parse(parent.arch))[self.spec.targets[0].key])
        return parent, history, stop

    def row(self, step: int, kept: Member, children: List[Member]) -> dict:
        return {"step": step, "parent": kept.arch, "parent_id": kept.id, "val_acc": kept.val_acc,
                "latency_ms": {t.name: self.predicted(self.space.parse(kept.arch))[t.key] for t in self.spec.targets},
                "children": [{"id": m.id, "arch": m.arch, "val_acc": m.val_acc, "exact": m.exact} for m in children],
                "train_s_total": self.spent}


class NASH(Strategy):
    """Hill climbing from a small trained network: each step trains a few children made by random morphisms
    (inheriting the parent's weights) briefly, and the best within the budgets becomes the next parent.
    Rerunning the same command resumes from the networks already trained (members/)."""

    name = "nash"
    summary = "NASH: hill climbing with network morphisms, children inherit their parent's weights (Elsken et al.)"
    Config = NASHConfig
    uses_estimator = False

    @classmethod
    def check(cls, config: NASHConfig, space: SearchSpace, spec: ObjectiveSpec) -> None:
        _start(config, space, spec)

    def run(self, request: SearchRequest) -> SearchOutcome:
        climb = _Climb(request)
        threads_before = torch.get_num_threads()
        if request.config.threads:
            torch.set_num_threads(request.config.threads)
        try:
            last, history, stop = climb.run()
        finally:
            torch.set_num_threads(threads_before)
        space = request.space
        records = [EvalRecord(m.arch, space.parse(m.arch), {"error": m.error, **climb.predicted(space.parse(m.arch))},
                              m.step, 0) for m in climb.members]
        front = [record_point(r) for r in pareto_front(request.spec, records)]
        in_front = {p.arch for p in front}
        selected = last.arch if last.arch in in_front else min(front, key=lambda p: p.error).arch if front else None
        return SearchOutcome(
            front=front, evaluated=len(climb.members), history=history, selected=selected,
            points=[record_point(r) for r in records],
            details={"stopped_by": stop, "train_s_total": climb.spent, "validation": "arch split",
                     "members": [{"id": m.id, "arch": m.arch, "val_acc": m.val_acc, "parent": m.parent,
                                  "moves": m.moves, "exact": m.exact, "train_s": m.train_s} for m in climb.members]},
            sources={"weights": {m.arch: climb.store.relpath(m.id) for m in climb.members}})
