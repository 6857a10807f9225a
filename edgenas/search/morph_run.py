"""What the morphism searches (NASH, LEMONADE) share: their training options, the data, the networks trained so
far (trained here, or loaded from the run folder's ``members/`` journal on a rerun), predicted costs and
budgets, the start network, and the outcome (the Pareto set of every trained network).

Seeds: each network has its own seed (:func:`network_seed`), which fixes its fresh parts (a block
inserted by a morphism) and its data order, so a network trained again after a crash is the network
an uninterrupted run trained.

Parallel training: the children of a step (NASH) or generation (LEMONADE) are independent, so
:meth:`MorphRun.train_members` makes them all here (the morphisms, under each child's seed) and trains them
``workers`` at a time in worker processes, or as Ray tasks (``--ray``), through the one
:class:`~edgenas.train.workers.TaskPool`; each is checkpointed as it finishes, and they join the members in
their planned order, so the run's decisions do not depend on which finished first. A worker trains on
``threads`` torch threads (default 1); a run in workers equals the run in this process on the same thread count
(a test checks it). ``max_minutes`` counts the members' training seconds, summed over workers.
"""
from __future__ import annotations

import functools
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch

from ..arch.model import Network, build_network
from ..arch.space import Architecture, SearchSpace
from ..errors import ConfigError
from ..train.brief import BriefResult, train_briefly
from ..train.data import Splits, check_fits_space, load_images, make_splits
from ..train.loop import TrainConfig
from ..train.workers import TaskPool
from .contract import SearchOutcome, SearchRequest, Strategy, option
from .members import Member, MemberStore, load_trained_run
from .problem import ObjectiveSpec
from .run import pareto_front, record_point
from .runstore import EvalRecord

__all__ = ["MorphTrainingConfig", "MorphRun", "ChildJob", "train_child", "network_seed", "over_budget",
           "start_network", "RESUME_NEUTRAL"]

RESUME_NEUTRAL = ("max_minutes", "threads", "workers")   # how fast a run trains, not what it computes


@dataclass
class MorphTrainingConfig:
    """How every network of a morphism search is trained (the options both strategies take)."""

    epochs: int = option(2, "Epochs each child trains: one cosine cycle from lr to zero (SGDR).")
    start: str = option("fastest", "'fastest' (the first table's fastest architecture), an architecture, or an "
                                   "'edgenas train' run folder whose trained network starts the search.")
    start_epochs: int = option(4, "Epochs the start network trains before the search.")
    batch_size: int = option(128, "Batch size.")
    lr: float = option(0.05, "Learning rate at the start of each cosine cycle (SGD, Nesterov momentum).")
    momentum: float = option(0.9, "Momentum.")
    weight_decay: float = option(5e-4, "Weight decay.")
    max_minutes: Optional[float] = option(None, "Stop before a step once this much training time is spent.")
    max_batches: Optional[int] = option(None, "Batches per epoch (smoke runs).")
    threads: Optional[int] = option(None, "Torch threads (default: torch's in this process, 1 in each worker).")
    workers: int = option(1, "Children trained at a time, in worker processes (or as Ray tasks with --ray); the "
                             "same result as one at a time on the same threads.")

    def checks(self) -> List[Tuple[bool, str]]:
        return [
            (self.epochs >= 1 and self.start_epochs >= 0,
             f"epochs must be >= 1 and start_epochs >= 0, got {self.epochs} and {self.start_epochs}"),
            (self.batch_size >= 2, f"batch_size must be >= 2, got {self.batch_size}"),
            (self.lr > 0 and self.momentum >= 0 and self.weight_decay >= 0,
             "lr must be positive, momentum and weight_decay >= 0"),
            (self.max_minutes is None or self.max_minutes > 0, f"max_minutes must be positive, got {self.max_minutes}"),
            (self.max_batches is None or self.max_batches >= 1, f"max_batches must be >= 1, got {self.max_batches}"),
            (self.threads is None or self.threads >= 1, f"threads must be >= 1, got {self.threads}"),
            (self.workers >= 1, f"workers must be >= 1, got {self.workers}"),
        ]

    def validate(self) -> None:
        for ok, msg in self.checks():
            if not ok:
                raise ConfigError(msg)

    def train_config(self, epochs: int, seed: int) -> TrainConfig:
        return TrainConfig(epochs=epochs, batch_size=self.batch_size, lr=self.lr, momentum=self.momentum,
                           weight_decay=self.weight_decay, seed=seed)


def network_seed(seed: int, step: int, child: int) -> int:
    """The seed of the ``child``-th network of ``step`` (step 0: the start) in a run seeded ``seed``."""
    return (seed * 1_000_003 + step * 1_009 + child) % (2 ** 63)


def over_budget(spec: ObjectiveSpec, costs: Dict[str, float]) -> Dict[str, float]:
    """The budgets ``costs`` exceeds: key -> predicted value."""
    return {key: costs[key] for key, budget in spec.constraints if costs[key] > budget}


def start_network(start: str, space: SearchSpace, spec: ObjectiveSpec) -> Tuple[Architecture, Optional[Network]]:
    """The start architecture, with its trained network when ``start`` is a train run folder; refused when it
    does not fit the space or is predicted over a budget."""
    trained = None
    if start == "fastest":
        arch = tuple(int(c) for c in spec.targets[0].cost.fastest()[0])
    elif Path(start).is_dir():
        text, trained = load_trained_run(Path(start), space)
        arch = space.parse(text)
    else:
        arch = space.parse(start)
    over = over_budget(spec, {k: float(v[0]) for k, v in spec.costs(np.asarray([arch])).items()})
    if over:
        shown = ", ".join(f"{k} {v:.4g}" for k, v in over.items())
        raise ConfigError(f"the start network {space.format(arch)} is predicted over the budget ({shown}); start "
                          f"from a smaller one (start=fastest)")
    return arch, trained


@functools.lru_cache(maxsize=2)
def run_splits(dataset: str, seed: int, threads: int) -> Splits:
    """The run's data split, computed on ``threads`` torch threads: its normalisation statistics differ in the last
    bits with the thread count, so a worker computes them on the thread count the run's own process had."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return make_splits(load_images(dataset), seed=seed)
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class ChildJob:
    """One network to train briefly, as plain data a worker process or Ray task receives."""

    space: SearchSpace
    arch: str
    state: Dict[str, torch.Tensor]   # its weights before the training (inherited through the morphisms)
    cfg: TrainConfig
    max_batches: Optional[int]
    dataset: str
    split_seed: int
    split_threads: int
    threads: Optional[int]           # None: keep this process's


def train_child(job: ChildJob) -> Tuple[BriefResult, Dict[str, torch.Tensor]]:
    """Train ``job``'s network briefly (:func:`~edgenas.train.brief.train_briefly`); its score and trained weights."""
    splits = run_splits(job.dataset, job.split_seed, job.split_threads)
    net = build_network(job.space, job.space.parse(job.arch))
    net.load_state_dict(job.state)
    before = torch.get_num_threads()
    if job.threads:
        torch.set_num_threads(job.threads)
    try:
        result = train_briefly(net, splits.weight, splits.arch, job.cfg, max_batches=job.max_batches)
    finally:
        torch.set_num_threads(before)
    return result, net.state_dict()


class MorphRun:
    """The state of one morphism search: data, members trained so far (in order), their predicted costs."""

    def __init__(self, request: SearchRequest):
        self.request, self.cfg, self.spec, self.space = request, request.config, request.spec, request.space
        self.dataset, self.split_threads = request.dataset or "mnist5k", torch.get_num_threads()
        self.splits = run_splits(self.dataset, request.seed, self.split_threads)
        check_fits_space(self.splits, self.space)
        self.pool: Optional[TaskPool] = None
        self.store = MemberStore(request.out, self.space)
        self.members: List[Member] = []
        self._costs: Dict[str, Dict[str, float]] = {}
        self.spent = 0.0   # training seconds of the members so far, as recorded when each was trained

    @contextmanager
    def session(self) -> Iterator[None]:
        """While the search runs: this process's torch threads, and the pool that trains the networks."""
        before = torch.get_num_threads()
        if self.cfg.threads and self.cfg.workers <= 1 and self.request.ray is None:
            torch.set_num_threads(self.cfg.threads)
        try:
            with TaskPool(self.cfg.workers, ray=self.request.ray, threads=self.cfg.threads or 1) as self.pool:
                yield
        finally:
            self.pool = None
            torch.set_num_threads(before)

    def out_of_time(self) -> bool:
        return self.cfg.max_minutes is not None and self.spent >= 60.0 * self.cfg.max_minutes

    # ---- costs and budgets -------------------------------------------------------------------------------
    def predicted(self, arch) -> Dict[str, float]:
        """Every cost the tables predict for ``arch`` (a tuple or its string)."""
        arch = self.space.parse(arch) if isinstance(arch, str) else tuple(arch)
        key = self.space.format(arch)
        if key not in self._costs:
            self._costs[key] = {k: float(v[0]) for k, v in self.spec.costs(np.asarray([arch])).items()}
        return self._costs[key]

    def feasible(self, arch) -> bool:
        return not over_budget(self.spec, self.predicted(arch))

    # ---- members -----------------------------------------------------------------------------------------
    def train_members(self, planned: List[Tuple[Member, Callable[[], Network], int, int]],
                      phase: Optional[str] = "children") -> List[Tuple[Member, Network]]:
        """Each ``(member, make_net, seed, epochs)`` from its checkpoint, else ``make_net()`` (called here, under
        ``seed``) trained briefly for ``epochs`` — in the pool, several at a time — and checkpointed as it
        finishes; all appended to :attr:`members` in the planned order. ``phase`` names the progress."""
        out: List[Optional[Tuple[Member, Network]]] = [self.store.load(m.id, m.arch) for m, _, _, _ in planned]
        todo = [i for i, done in enumerate(out) if done is None]
        jobs = []
        in_process = self.pool.in_process
        for i in todo:
            member, make_net, seed, epochs = planned[i]
            torch.manual_seed(seed)
            jobs.append((ChildJob(self.space, member.arch, make_net().state_dict(), self.cfg.train_config(epochs, seed),
                                  self.cfg.max_batches, self.dataset, self.request.seed, self.split_threads,
                                  None if in_process else (self.cfg.threads or 1)),))
        progress = self.request.progress if phase else (lambda *a, **k: None)
        progress(phase, len(planned) - len(todo), len(planned))
        for finished, (k, (result, state)) in enumerate(self.pool.map(train_child, jobs), start=1):
            member = planned[todo[k]][0]
            member.val_acc, member.val_loss, member.train_s = result.val_acc, result.val_loss, result.seconds
            net = build_network(self.space, self.space.parse(member.arch))
            net.load_state_dict(state)
            self.store.save(member, net)
            out[todo[k]] = member, net
            progress(phase, len(planned) - len(todo) + finished, len(planned))
        for member, _ in out:
            self.members.append(member)
            self.spent += member.train_s
        return out

    def start(self) -> Tuple[Member, Network]:
        arch, trained = start_network(self.cfg.start, self.space, self.spec)
        member = Member("s000c00", self.space.format(arch), 0.0, 0.0, 0.0)
        make = lambda: trained if trained is not None else build_network(self.space, arch)  # noqa: E731
        return self.train_members([(member, make, network_seed(self.request.seed, 0, 0), self.cfg.start_epochs)],
                                  phase=None)[0]

    # ---- the outcome -------------------------------------------------------------------------------------
    def records(self, members: Optional[List[Member]] = None) -> List[EvalRecord]:
        return [EvalRecord(m.arch, self.space.parse(m.arch), {"error": m.error, **self.predicted(m.arch)}, m.step, 0)
                for m in (self.members if members is None else members)]

    def outcome(self, selected: Optional[str], history: List[dict], details: dict) -> SearchOutcome:
        """The Pareto set of every trained network; ``selected`` (the strategy's pick, or None) if it is on it, else
        the most accurate there."""
        records = self.records()
        front = [record_point(r) for r in pareto_front(self.spec, records)]
        if selected is not None and selected not in {p.arch for p in front}:
            selected = min(front, key=lambda p: p.error).arch if front else None
        members = [{"id": m.id, "arch": m.arch, "val_acc": m.val_acc, "parent": m.parent, "moves": m.moves,
                    "exact": m.exact, "train_s": m.train_s} for m in self.members]
        return SearchOutcome(front=front, evaluated=len(self.members), history=history, selected=selected,
                             points=[record_point(r) for r in records],
                             details={**details, "train_s_total": self.spent, "validation": "arch split",
                                      "members": members},
                             sources={"weights": {m.arch: self.store.relpath(m.id) for m in self.members},
                                      # the data the members trained on (its test part unseen)
                                      "dataset": self.dataset, "split_seed": self.request.seed})


class MorphStrategy(Strategy):
    """What NASH and LEMONADE share as strategies: no accuracy estimator (every candidate is a trained network),
    children trained as Ray tasks with ``--ray``, and the start network checked before the run folder opens."""

    uses_estimator = False
    trains_on_ray = True

    @classmethod
    def check(cls, config: MorphTrainingConfig, space: SearchSpace, spec: ObjectiveSpec) -> None:
        start_network(config.start, space, spec)
