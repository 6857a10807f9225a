"""FBNet-style differentiable architecture search (DNAS, Wu et al., CVPR 2019), registered as ``dnas``.

Every searchable layer of a :class:`~edgenas.arch.supernet.Supernet` mixes its
candidates with weights drawn from a Gumbel-softmax over the layer's
architecture parameters θ (temperature ``tau0 · e^(-tau_decay · search epoch)``).
After ``warmup_epochs`` of weight-only training, each epoch trains the weights
on the weight split (SGD, cosine schedule, plain cross-entropy: the latency
factor does not depend on the weights) and then θ on the arch split (Adam,
``CE · α · log(LAT)^β``, see :mod:`edgenas.search.costloss`). Both steps run through
the one training loop, :func:`edgenas.train.loop.run_epoch`.

Weight steps mix every candidate by default (``weight_sampling="soft"``, as
FBNet). ``"hard"`` runs one Gumbel-sampled path per step, about 9x cheaper per
step, but measured on digits it had not started to learn after 6 epochs
(loss 2.31, chance) while the soft mixture reached 93 %, so it is opt-in.

The run folder holds ``config.json``, ``checkpoint.pt`` (written atomically
after every epoch; a rerun resumes from it), ``history.json``,
``dnas.json`` (θ, the selected, most likely and sampled architectures) and ``search.png``; the search setup adds
the common ``result.json``. Under ``torchrun`` the weight step runs in
DistributedDataParallel and θ's gradient is averaged over the processes.
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import List, Optional

import numpy as np
import torch
import torch.nn.functional as F

from ...arch.space import SearchSpace
from ...arch.supernet import Supernet
from ...errors import ConfigError
from ...fileio import atomic_write_json
from ...runfolder import CHECKPOINT
from ...train.data import check_fits_space, load_images, make_splits
from ...train.distributed import DistContext, setup
from ...train.loop import TrainConfig, TrainingDivergedError, epoch_batches, load_checkpoint, run_epoch, \
    save_checkpoint, sgd_cosine
from ..constrained_decode import most_probable_within
from ..contract import SearchOutcome, SearchRequest, Strategy, points_of
from ..costloss import ExpectedCost, TargetController, fbnet_loss
from .dnas_config import DNASConfig

__all__ = ["DNASConfig", "DNASSearch", "DNASStrategy", "gumbel_softmax_sample"]

DETAILS = "dnas.json"   # θ, its probabilities, the samples, timings: beside the common result.json


def gumbel_softmax_sample(theta: torch.Tensor, tau: float, generator: torch.Generator, hard: bool = False):
    """Per-layer Gumbel-softmax weights ``softmax((θ + g) / τ)``; ``hard`` gives the one-hot argmax (no grad)."""
    u = torch.rand(theta.shape, generator=generator).clamp_(1e-10, 1.0 - 1e-7).to(theta.device)
    w = torch.softmax((theta - torch.log(-torch.log(u))) / tau, dim=1)
    if hard:
        return torch.zeros_like(w).scatter_(1, w.argmax(1, keepdim=True), 1.0).detach()
    return w


def _generator(seed: int, epoch: int, part: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch * 7 + part)


class _ArchStep:
    """Forward and loss of one θ step, sharing the sampled mixture between them."""

    def __init__(self, search: "DNASSearch", tau: float, generator: torch.Generator):
        self.search, self.tau, self.generator = search, tau, generator
        self.weights: Optional[torch.Tensor] = None
        self.sampled_latency: List[float] = []

    def forward(self, model, x):
        self.search.adapt_targets()
        self.weights = gumbel_softmax_sample(self.search.theta, self.tau, self.generator)
        return model(x, weights=self.weights)

    def loss(self, logits, y):
        costs = {t.metric: self.search.expected(t.metric, self.weights) for t in self.search.terms}
        self.sampled_latency.append(float(costs["latency_ms"].detach()))
        return arch_loss(F.cross_entropy(logits, y), costs, self.search.terms, self.search.cfg.alpha)


def arch_loss(ce, costs, terms, alpha):
    """The θ-step loss (a module-level name so that tests can make it diverge)."""
    return fbnet_loss(ce, costs, terms, alpha)


class DNASSearch:
    """One DNAS run. Everything the user can get wrong is checked in ``__init__``, before a file is written."""

    def __init__(self, cfg: DNASConfig, request: SearchRequest, ctx: Optional[DistContext] = None):
        if len(request.spec.targets) > 1:
            raise ConfigError("strategy 'dnas' searches against one latency table; give one")
        self.cfg, self.progress = cfg, request.progress
        self.space: SearchSpace = request.space
        target = request.spec.targets[0]
        self.cost = target.cost
        self.target_ms = target.max_latency_ms
        self.seed = request.seed
        self.dataset = request.dataset or "mnist5k"
        self.terms = cfg.terms(self.target_ms, request.spec.max_memory_bytes)
        self.ctx = ctx or setup(cfg.device)
        self.expected = ExpectedCost(self.cost, self.ctx.device)
        self.controller = TargetController(self.terms, gain=cfg.target_gain)
        self.splits = make_splits(load_images(self.dataset), seed=self.seed)
        check_fits_space(self.splits, self.space)
        self.out = Path(request.out)

    # ---- pieces ----------------------------------------------------------------
    def _build(self) -> None:
        torch.manual_seed(self.seed)
        dev = self.ctx.device
        self.supernet = Supernet(self.space).to(dev)
        self.theta = torch.zeros(self.space.num_layers, self.space.num_candidates, device=dev, requires_grad=True)
        self.ctx.average_grads_of(self.theta)
        self.model = self.ctx.wrap(self.supernet, find_unused_parameters=self.cfg.weight_sampling == "hard")
        wcfg = TrainConfig(epochs=self.cfg.epochs, batch_size=self.cfg.batch_size, lr=self.cfg.lr,
                           momentum=self.cfg.momentum, weight_decay=self.cfg.weight_decay, seed=self.seed)
        self.w_opt, self.w_sched = sgd_cosine(self.supernet.parameters(), wcfg, self.cfg.epochs)
        self.t_opt = torch.optim.Adam([self.theta], lr=self.cfg.theta_lr, weight_decay=self.cfg.theta_weight_decay)
        self.history: List[dict] = []
        self.start_epoch = 0

    def _state(self, epoch: int) -> dict:
        return {"supernet": self.supernet.state_dict(), "theta": self.theta.detach().cpu(),
                "w_opt": self.w_opt.state_dict(), "w_sched": self.w_sched.state_dict(),
                "t_opt": self.t_opt.state_dict(), "epoch": epoch, "history": self.history,
                "betas": [t.beta for t in self.terms], "space_fingerprint": self.space.fingerprint}

    def _restore(self, state: dict) -> None:
        if state.get("space_fingerprint") != self.space.fingerprint:
            raise ConfigError(f"{self.out / CHECKPOINT} was written for another space; use another output folder")
        self.supernet.load_state_dict(state["supernet"])
        with torch.no_grad():
            self.theta.copy_(state["theta"].to(self.theta.device))
        self.w_opt.load_state_dict(state["w_opt"])
        self.w_sched.load_state_dict(state["w_sched"])
        self.t_opt.load_state_dict(state["t_opt"])
        for t, b in zip(self.terms, state["betas"]):
            t.beta = float(b)
        self.history = list(state["history"])
        self.start_epoch = int(state["epoch"])

    def tau(self, epoch: int) -> float:
        return self.cfg.tau0 * math.exp(-self.cfg.tau_decay * max(0, epoch - self.cfg.warmup_epochs))

    def most_likely(self) -> tuple:
        return tuple(int(c) for c in self.theta.detach().argmax(1).cpu())

    def adapt_targets(self) -> None:
        """Target mode: move each targeted term's β toward its budget (called before every θ step).

        The signal is the expected cost under softmax(θ), not the cost of the
        argmax: the argmax jumps between architectures (at θ = 0 it is the first
        candidate everywhere), which made β overshoot and θ collapse to ``skip``.
        """
        if self.controller.terms:
            with torch.no_grad():
                probs = torch.softmax(self.theta, 1)
                self.controller.update({t.metric: float(self.expected(t.metric, probs)) for t in self.terms})

    def _batches(self, part: str, epoch: int):
        return epoch_batches(getattr(self.splits, part), self.cfg.batch_size, seed=self.seed,
                             epoch=epoch * 2 + (part == "arch"), rank=self.ctx.rank, world=self.ctx.world)

    def _set_weights_trainable(self, on: bool) -> None:
        for p in self.supernet.parameters():
            p.requires_grad_(on)

    # ---- one epoch ---------------------------------------------------------------
    def _epoch(self, epoch: int) -> dict:
        cfg, dev = self.cfg, self.ctx.device
        searching = epoch >= cfg.warmup_epochs
        tau = self.tau(epoch)
        gen = _generator(self.seed, epoch, 0)
        hard = cfg.weight_sampling == "hard"
        t0, c0 = time.perf_counter(), time.process_time()
        phase = "weight"
        try:
            w = run_epoch(self.model, self._batches("weight", epoch), optimizer=self.w_opt, device=dev,
                          max_batches=cfg.max_batches,
                          forward=lambda m, x: m(x, weights=gumbel_softmax_sample(self.theta.detach(), tau, gen, hard)))
            self.w_sched.step()
            w = self.ctx.reduce_result(w)
            t1, c1 = time.perf_counter(), time.process_time()
            a, sampled = None, []
            if searching:
                phase = "architecture"
                step = _ArchStep(self, tau, _generator(self.seed, epoch, 1))
                self._set_weights_trainable(False)
                try:
                    a = run_epoch(self.supernet, self._batches("arch", epoch), optimizer=self.t_opt, device=dev,
                                  max_batches=cfg.max_batches, forward=step.forward, loss_fn=step.loss)
                finally:
                    self._set_weights_trainable(True)
                a, sampled = self.ctx.reduce_result(a), step.sampled_latency
        except TrainingDivergedError as e:
            kept = (f"the checkpoint of epoch {epoch} in {self.out / CHECKPOINT} is kept" if epoch
                    else "no checkpoint was written yet")
            raise TrainingDivergedError(f"search diverged in the {phase} step of epoch {epoch + 1}: "
                                        f"{str(e).split(';')[0]}; {kept}; lower --lr or --theta-lr") from None
        t2, c2 = time.perf_counter(), time.process_time()
        with torch.no_grad():
            probs = torch.softmax(self.theta, 1)
            expected_ms = float(self.expected.latency_ms(probs))
            expected_mem = float(self.expected.memory_bytes(probs))
        best = self.most_likely()
        p = self.cost.predict(best)
        return {
            "epoch": epoch + 1, "phase": "search" if searching else "warmup", "tau": tau,
            "weight_loss": w.loss, "weight_acc": w.accuracy,
            "arch_loss": a.loss if a else None, "arch_acc": a.accuracy if a else None,
            "expected_latency_ms": expected_ms, "expected_memory_bytes": expected_mem,
            "sampled_latency_ms": float(np.mean(sampled)) if sampled else None,
            "most_likely": self.space.format(best), "most_likely_latency_ms": float(p.latency_ms[0]),
            "most_likely_memory_bytes": float(p.memory_bytes[0]),
            "betas": {t.metric: t.beta for t in self.terms},
            "weight_s": t1 - t0, "arch_s": t2 - t1, "epoch_s": t2 - t0,
            "weight_cpu_s": c1 - c0, "arch_cpu_s": c2 - c1, "epoch_cpu_s": c2 - c0,
            "theta": self.theta.detach().cpu().tolist(),
        }

    # ---- results ---------------------------------------------------------------
    def _arch_record(self, arch, probs: np.ndarray) -> dict:
        p = self.cost.predict(arch)
        return {"arch": self.space.format(arch), "indices": list(arch),
                "probability": float(np.prod(probs[np.arange(len(arch)), list(arch)])),
                "latency_ms": float(p.latency_ms[0]), "memory_bytes": float(p.memory_bytes[0]),
                "param_bytes": float(p.param_bytes[0]), "peak_activation_bytes": float(p.peak_activation_bytes[0]),
                "flops": float(p.flops[0])}

    def selected(self, probs: np.ndarray) -> tuple:
        """(architecture, how it was chosen): the argmax of θ, or with a latency budget the most likely
        architecture predicted within [``budget_band`` · budget, budget] ("band"), else the most likely
        under the budget ("under_budget"); see :mod:`edgenas.search.constrained_decode`. A memory budget only
        steers θ: decoding does not constrain memory."""
        if self.target_ms is None:
            return self.most_likely(), "argmax"
        target = self.target_ms
        arch = most_probable_within(self.cost, probs, self.cfg.budget_band * target, target)
        if arch is not None:
            return arch, "band"
        arch = most_probable_within(self.cost, probs, 0.0, target)
        # the search setup checked that the fastest architecture meets the budget, so this is not None.
        return arch, "under_budget"

    def result(self) -> dict:
        """The selected and the most likely architecture and ``samples`` draws from the learned distribution."""
        probs_t = torch.softmax(self.theta.detach().cpu(), 1)
        probs = probs_t.numpy().astype(np.float64)
        selected, how = self.selected(probs)
        draws = torch.multinomial(probs_t, max(self.cfg.samples, 1), replacement=True,
                                  generator=torch.Generator().manual_seed(self.seed + 7919)).T
        fastest, fastest_ms = self.cost.fastest()
        epoch_s = [h["epoch_s"] for h in self.history]
        epoch_cpu = [h["epoch_cpu_s"] for h in self.history]
        # Under torchrun every process must hold the same θ and weights; measured, not assumed.
        flat = torch.cat([p.detach().flatten() for p in self.supernet.parameters()])
        spread = {"theta": self.ctx.spread(self.theta), "weights": self.ctx.spread(flat)}
        return {
            "strategy": "dnas", "space": self.space.name, "dataset": self.dataset,
            "epochs": len(self.history), "target_ms": self.target_ms,
            "selected": {**self._arch_record(selected, probs), "selected_by": how},
            "most_likely": self._arch_record(self.most_likely(), probs),
            "samples": [self._arch_record(tuple(int(c) for c in d), probs) for d in draws[:self.cfg.samples]],
            "fastest": {"arch": self.space.format(fastest), "latency_ms": fastest_ms},
            "betas": {t.metric: t.beta for t in self.terms},
            "theta": self.theta.detach().cpu().tolist(), "probabilities": probs.tolist(),
            "candidates": list(self.space.candidate_names),
            "median_epoch_s": float(np.median(epoch_s)) if epoch_s else None,
            "median_epoch_cpu_s": float(np.median(epoch_cpu)) if epoch_cpu else None,
            "search_s": float(np.sum(epoch_s)) if epoch_s else 0.0,
            "processes": self.ctx.world, "threads": torch.get_num_threads(), "process_spread": spread,
        }

    # ---- the run ---------------------------------------------------------------
    def run(self) -> dict:
        """Train (or resume) the supernet and θ, write the run folder, return ``result.json``'s content."""
        cfg = self.cfg
        threads_before = torch.get_num_threads()
        torch.set_num_threads(cfg.threads or max(1, (os.cpu_count() or 1) // self.ctx.world))
        try:
            # the search setup opened the run folder and checked its settings; a checkpoint there is resumed
            resume = bool(self.ctx.broadcast_object((self.out / CHECKPOINT).is_file()))
            self._build()
            if resume:
                self._restore(load_checkpoint(self.out / CHECKPOINT))
            for epoch in range(self.start_epoch, cfg.epochs):
                record = self._epoch(epoch)
                self.history.append(record)
                if self.ctx.is_main:
                    save_checkpoint(self.out / CHECKPOINT, self._state(epoch + 1))
                    atomic_write_json(self.out / "history.json", self.history)
                self.ctx.barrier()
                self.progress("epochs", epoch + 1, cfg.epochs)
            result = self.result()
            if self.ctx.is_main:
                atomic_write_json(self.out / "history.json", self.history)
                atomic_write_json(self.out / DETAILS, result)
                from ..plot import SEARCH_PLOT, plot_search  # matplotlib only when writing

                plot_search(self.history, self.out / SEARCH_PLOT, target_ms=self.target_ms,
                            title=f"DNAS on {self.space.name} / {self.dataset}")
            self.ctx.barrier()
            return result
        finally:
            torch.set_num_threads(threads_before)
            self.ctx.close()


class DNASStrategy(Strategy):
    """FBNet's DNAS: returns the architecture it selects (and the most likely one and samples of θ after it)."""

    name = "dnas"
    summary = "FBNet's differentiable search"
    Config = DNASConfig
    uses_estimator = False  # it trains its own supernet

    def run(self, request: SearchRequest) -> SearchOutcome:
        search = DNASSearch(request.config, request)
        result = search.run()
        rows = [result["selected"], result["most_likely"], *result["samples"]]
        archs = list(dict.fromkeys(r["arch"] for r in rows))  # samples repeat; keep each architecture once
        front = points_of(request.spec, [request.space.parse(a) for a in archs], [None] * len(archs))
        return SearchOutcome(front=front, evaluated=0, history=search.history,
                             selected=result["selected"]["arch"],
                             details={"selected_by": result["selected"]["selected_by"],
                                      "most_likely": result["most_likely"]["arch"], "epochs": result["epochs"],
                                      "search_s": result["search_s"], "details_file": DETAILS},
                             # the run folder holds the trained supernet, and DNAS split its data with its seed
                             sources={"supernet": str(request.out.resolve()), "split_seed": request.seed,
                                      "dataset": request.dataset or "mnist5k"})
