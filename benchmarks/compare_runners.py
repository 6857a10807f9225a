"""How each strategy of the comparison is run on a problem, all counted the same way (compare_strategies.py).

Every run returns a :class:`Trace`: the distinct architectures it evaluated, in order, with their errors, plus the
wall time of the search and the time spent in the estimator. A strategy is stopped once it has evaluated ``n``
distinct architectures; a repeat is answered without counting (edgenas: by the run's journal; peers: by a cache
here).

- edgenas strategies, by registry name, through ``edgenas.search.setup.prepare`` and the strategy's own ``run``:
  the estimator of the request is replaced by the problem's shared one behind a meter that stops the run when a
  new architecture is asked for after ``n``; the sequence is read back from the run's journal.
- optuna 5 (NSGAIISampler, TPESampler): ask/tell, one categorical parameter per layer, objectives (error,
  latency), the budget as ``constraints_func``.
- NNI 3.0 (RegularizedEvolution, PolicyBasedRL): benchmarks/nni_worker.py in NNI's own venv; its models come here
  over a pipe and are answered with a reward. The venv (``EDGENAS_NNI_PYTHON``, default /work/nni-venv):
  ``pip install torch==2.13.0 nni==3.0 'pytorch-lightning<2.1' 'setuptools<81' 'tianshou<0.6' gym`` — PolicyBasedRL
  needs the last two.
"""
from __future__ import annotations

import atexit
import json
import os
import subprocess
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np

from compare_problems import Problem

HERE = Path(__file__).resolve().parent
NNI_PYTHON = os.environ.get("EDGENAS_NNI_PYTHON", "/work/nni-venv/bin/python")
PEERS = ("optuna-nsga2", "optuna-tpe", "nni-evolution", "nni-rl")


@dataclass
class Trace:
    archs: np.ndarray          # (distinct, layers) in the order first evaluated
    errors: np.ndarray
    wall_s: float              # the search, start to stop
    estimator_s: float         # of which in the estimator
    proposals: int             # architectures the strategy asked for, repeats included (where known)
    stopped: str               # "budget" or why it ended before
    cpu_s: float = float("nan")            # CPU time of the search, in every process it ran in
    estimator_cpu_s: float = float("nan")  # of which in the estimator


class BudgetReached(BaseException):
    """Raised inside a strategy when it asks for a new architecture after its budget. A BaseException, so that
    no ``except Exception`` of a strategy takes it for an estimator failure."""


class Metered:
    """The problem's estimator behind a meter: counts the architectures it is asked for (the journal asks only
    for new ones), times it, and refuses to go past ``limit``."""

    def __init__(self, inner, limit: int):
        self.inner, self.limit, self.count, self.seconds, self.cpu_seconds = inner, limit, 0, 0.0, 0.0
        self.chunk_size = inner.chunk_size

    def evaluate(self, archs):
        if self.count >= self.limit:
            raise BudgetReached()
        t, c = time.perf_counter(), time.process_time()
        errors = self.inner.evaluate(archs)
        self.seconds += time.perf_counter() - t
        self.cpu_seconds += time.process_time() - c
        self.count += len(archs)
        return errors

    def train_seconds(self, archs):
        """The estimator's training times (Neural Architect's second objective): the estimator's work, timed as
        such, not counted as evaluations."""
        t, c = time.perf_counter(), time.process_time()
        seconds = self.inner.train_seconds(archs)
        self.seconds += time.perf_counter() - t
        self.cpu_seconds += time.process_time() - c
        return seconds

    def describe(self):
        return self.inner.describe()

    def __getattr__(self, name):  # anything else a strategy reads from its estimator
        return getattr(self.inner, name)


# ---- edgenas strategies ---------------------------------------------------------------------------------------
def budget_options(strategy: str, n: int) -> Dict:
    """Options that let ``strategy`` run to at least ``n`` distinct evaluations (the meter stops it at ``n``)."""
    from edgenas.search.strategies import get_strategy

    names = {f.name: f for f in fields(get_strategy(strategy).Config)}
    if "evaluations" in names:           # rl, bananas, neural-architect: a budget of distinct evaluations
        return {"evaluations": n}
    if "cycles" in names:                # evolution: children after the population; repeats are not new
        return {"cycles": 20 * n}
    if "gens" in names:                  # nsga2, random: generations of pop
        pop = names["pop"].default
        return {"gens": 20 * (-(-n // pop)) + 1}
    raise ValueError(f"do not know how to give strategy {strategy!r} a budget of {n} evaluations "
                     f"(its options: {', '.join(names)}); pass it with --option {strategy}.NAME=VALUE")


def run_edgenas(strategy: str, problem: Problem, seed: int, n: int, out: Path, options: Optional[Dict] = None) -> Trace:
    from edgenas.search.runstore import SQLiteRunStore
    from edgenas.search.run import JOURNAL
    from edgenas.search.setup import prepare
    from edgenas.search.strategies import get_strategy

    config = {**budget_options(strategy, n), **(options or {})}
    request = prepare(strategy, [problem.table], out, config=config, estimator=problem.kind,
                      max_latency_ms=[problem.budget_ms], seed=seed)
    meter = Metered(problem.estimator, n)
    # the problem's estimator is the same for every seed (the oracle the setup builds is seeded by the run's seed;
    # the bench one would refit its surrogate per run): swap it in, and let the journal record what it is
    request = replace(request, estimator=meter, settings={**request.settings, "estimator": meter.describe()})
    stopped = "budget"
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        get_strategy(strategy)().run(request)
        stopped = "strategy finished"
    except BudgetReached:
        pass
    finally:
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if request.runner is not None:
            request.runner.close()
        if request.folder is not None:
            request.folder.close()
    store = SQLiteRunStore.open(Path(out) / JOURNAL)
    try:
        records = store.records()[:n]
    finally:
        store.close()
    archs = np.array([r.genes for r in records], dtype=np.int64).reshape(-1, problem.space.num_layers)
    errors = np.array([r.values["error"] for r in records])
    return Trace(archs, errors, wall, meter.seconds, len(records), stopped, cpu, meter.cpu_seconds)


# ---- peers: one evaluation at a time, repeats answered from a cache --------------------------------------------
class Budgeted:
    """Evaluates one architecture at a time for a peer, counting distinct ones; a new one past ``limit`` raises
    :class:`BudgetReached`."""

    def __init__(self, problem: Problem, limit: int):
        self.problem, self.limit = problem, limit
        self.cache: Dict[tuple, tuple] = {}
        self.order: List[tuple] = []
        self.seconds, self.cpu_seconds, self.proposals = 0.0, 0.0, 0

    def __call__(self, arch) -> tuple:
        key = tuple(int(c) for c in arch)
        self.proposals += 1
        if key not in self.cache:
            if len(self.order) >= self.limit:
                raise BudgetReached()
            t, c = time.perf_counter(), time.process_time()
            error = float(self.problem.estimator.evaluate(np.array([key]))[0])
            self.seconds += time.perf_counter() - t
            self.cpu_seconds += time.process_time() - c
            # latency is a table look-up, not an estimate: it counts as the strategy's own work, as in edgenas
            self.cache[key] = (error, float(self.problem.latency(np.array([key]))[0]))
            self.order.append(key)
        return self.cache[key]

    def trace(self, wall: float, stopped: str, cpu: float) -> Trace:
        archs = np.array(self.order, dtype=np.int64).reshape(-1, self.problem.space.num_layers)
        return Trace(archs, np.array([self.cache[k][0] for k in self.order]), wall, self.seconds, self.proposals,
                     stopped, cpu, self.cpu_seconds)


def run_optuna(sampler: str, problem: Problem, seed: int, n: int, max_proposals: int) -> Trace:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    budget = problem.budget_ms

    def constraints(trial):   # <= 0 is feasible
        return [trial.user_attrs["latency_ms"] / budget - 1.0]

    if sampler == "nsga2":
        s = optuna.samplers.NSGAIISampler(seed=seed, constraints_func=constraints)
    else:
        s = optuna.samplers.TPESampler(seed=seed, constraints_func=constraints)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=s)
    names = list(problem.space.candidate_names)
    index = {c: i for i, c in enumerate(names)}
    ev = Budgeted(problem, n)
    stopped = f"{max_proposals} proposals"
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        while ev.proposals < max_proposals:
            trial = study.ask()
            arch = [index[trial.suggest_categorical(f"layer{i}", names)] for i in range(problem.space.num_layers)]
            error, latency = ev(arch)
            trial.set_user_attr("latency_ms", latency)
            study.tell(trial, [error, latency])
    except BudgetReached:
        stopped = "budget"
    return ev.trace(time.perf_counter() - t0, stopped, time.process_time() - c0)


def reward(kind: str, problem: Problem, error: float, latency: float) -> float:
    """A scalar for NNI's single-objective strategies. "constrained": the accuracy when within the budget, else
    minus the relative excess (every infeasible one below every feasible one: edgenas evolution's ranking).
    "mnasnet-hard": ACC x (LAT/T)^w with w = 0 within the budget and -1 above (edgenas rl's default reward)."""
    t = problem.budget_ms
    if kind == "constrained":
        return 1.0 - error if latency <= t else -(latency / t - 1.0)
    return (1.0 - error) * (1.0 if latency <= t else t / latency)


class NNIWorker:
    """benchmarks/nni_worker.py in NNI's venv, started once and kept for every NNI run of the harness."""

    def __init__(self, python: str, log: Path):
        self.python, self.log, self.proc = python, Path(log), None

    def _start(self):
        if self.proc is None or self.proc.poll() is not None:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            self.proc = subprocess.Popen([self.python, str(HERE / "nni_worker.py")], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=open(self.log, "a"), text=True, bufsize=1)
            atexit.register(self.close)
        return self.proc

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def run(self, strategy: str, problem: Problem, seed: int, n: int, max_proposals: int) -> Trace:
        kind = "constrained" if strategy == "evolution" else "mnasnet-hard"
        proc = self._start()
        # population and tournament as edgenas evolution's defaults (NNI's are 100 and 25), mutation NNI's own
        proc.stdin.write(json.dumps({"strategy": strategy, "seed": seed, "layers": problem.space.num_layers,
                                     "candidates": problem.space.num_candidates, "max_models": max_proposals,
                                     "population": 50, "sample": 10}) + "\n")
        ev = Budgeted(problem, n)
        stopped, t0, c0 = None, None, None
        for line in proc.stdout:
            msg = json.loads(line)
            if "done" in msg:
                stopped = stopped or msg["done"]
                break
            if t0 is None:   # from the first model: NNI's imports are not search overhead
                t0, c0 = time.perf_counter(), time.process_time() + _cpu_of(proc.pid)
            try:
                error, latency = ev(msg["arch"])
                proc.stdin.write(json.dumps({"reward": reward(kind, problem, error, latency)}) + "\n")
            except BudgetReached:
                stopped = "budget"
                proc.stdin.write('{"stop": true}\n')
        if stopped is None:
            raise RuntimeError(f"the NNI worker ended (exit {proc.poll()}); see {self.log}")
        if t0 is None:
            t0, c0 = time.perf_counter(), time.process_time() + _cpu_of(proc.pid)
        # CPU: the harness (rewards, the estimator) and NNI's worker process together
        return ev.trace(time.perf_counter() - t0, stopped, time.process_time() + _cpu_of(proc.pid) - c0)


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


_NNI: Optional[NNIWorker] = None


def runner_for(name: str, args) -> Callable[[Problem, int, int, Path], Trace]:
    """``(problem, seed, n, workdir) -> Trace`` for a strategy of the comparison: an edgenas registry name or a
    peer of :data:`PEERS`."""
    cap = args.max_proposals_factor
    if name == "optuna-nsga2":
        return lambda p, seed, n, work: run_optuna("nsga2", p, seed, n, cap * n)
    if name == "optuna-tpe":
        return lambda p, seed, n, work: run_optuna("tpe", p, seed, n, cap * n)
    if name in ("nni-evolution", "nni-rl"):
        global _NNI
        _NNI = _NNI or NNIWorker(args.nni_python, Path(args.workdir) / "nni-worker.stderr.log")
        kind = name.split("-", 1)[1]
        return lambda p, seed, n, work: _NNI.run(kind, p, seed, n, cap * n)
    options = {k.split(".", 1)[1]: _value(v) for k, v in (o.split("=", 1) for o in args.option)
               if k.split(".", 1)[0] == name}
    strategy = dict(v.split("=", 1) for v in getattr(args, "variant", [])).get(name, name)   # a variant's strategy
    return lambda p, seed, n, work: run_edgenas(strategy, p, seed, n, work, options)


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text
