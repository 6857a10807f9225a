"""Policies over per-layer choices for the RL strategies: ENAS's LSTM controller and a factorised softmax.

A policy samples architectures (one candidate per searchable layer) and returns,
with each, the log-probability and the entropy of its draw, both differentiable,
so that REINFORCE (:mod:`edgenas.search.reinforce`) can weight them by reward.
All randomness comes from the ``torch.Generator`` the caller passes, so a run
seeded the same way draws the same architectures.

:class:`LSTMController` follows ENAS (Pham et al. 2018, ``melodyguan/enas``): an
LSTM cell steps once per layer; its hidden state goes through the layer's own
linear head to the logits over that layer's candidates, squashed as
``c · tanh(logits / T)`` (ENAS's ``tanh_constant`` and ``temperature``, which stop
the policy from collapsing early), and the embedding of the chosen candidate is
the next step's input, so a layer's choice can depend on every earlier one.
Parameters start uniform in ±0.1 as in ENAS, i.e. the first policy is close to
uniform. :class:`FactorisedPolicy` is one independent softmax per layer.
"""
from __future__ import annotations

import abc
from contextlib import contextmanager
from typing import Iterator, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["Policy", "LSTMController", "FactorisedPolicy", "POLICIES", "make_policy", "one_thread"]

Draw = Tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # archs (n, layers), log-probability (n,), entropy (n,)


class Policy(nn.Module, abc.ABC):
    """A distribution over architectures: :meth:`sample` draws ``n`` with their log-probabilities and entropies."""

    def __init__(self, num_layers: int, num_candidates: int):
        super().__init__()
        self.num_layers, self.num_candidates = num_layers, num_candidates

    def sample(self, n: int, generator: torch.Generator) -> Draw:
        """``n`` architectures (int64, ``(n, layers)``), the log-probability of each and the summed entropy of the
        per-layer distributions it was drawn from (both with gradients)."""
        return self._run(n, generator, None)

    def score(self, archs: torch.Tensor) -> Draw:
        """Log-probabilities and entropies of given architectures (teacher forcing)."""
        archs = torch.as_tensor(archs, dtype=torch.int64)
        return self._run(len(archs), None, archs)

    @torch.no_grad()
    def most_likely(self) -> Tuple[int, ...]:
        """The greedy architecture: the most likely candidate of each layer, given the greedy earlier ones."""
        return tuple(int(c) for c in self._run(1, None, None, greedy=True)[0][0])

    def _uniforms(self, n: int, generator: Optional[torch.Generator]) -> Optional[torch.Tensor]:
        """The ``(layers, n)`` uniform numbers a draw inverts, all taken from ``generator`` at once."""
        return None if generator is None else torch.rand(self.num_layers, n, generator=generator)

    @abc.abstractmethod
    def _run(self, n: int, generator: Optional[torch.Generator], archs: Optional[torch.Tensor],
             greedy: bool = False) -> Draw:
        """Draw ``n`` architectures (or score the given ``archs``, or take the greedy one): each policy's own."""


def _choose(logits: torch.Tensor, uniform: Optional[torch.Tensor], given: Optional[torch.Tensor],
            greedy: bool) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One layer's choice (given, greedy, or drawn by inverting the CDF at ``uniform``, one number per row) with its
    log-probability and the entropy of the layer's distribution."""
    logp = F.log_softmax(logits, dim=-1)
    if given is not None:
        choice = given
    elif greedy:
        choice = logp.argmax(-1)
    else:  # a few cheap ops instead of torch.multinomial, which costs ten times more on tensors this small
        cdf = logp.detach().exp().cumsum(-1)
        choice = (cdf < uniform[:, None] * cdf[:, -1:]).sum(-1).clamp_(max=logits.shape[-1] - 1)
    entropy = -(logp.exp() * logp).sum(-1)
    return choice, logp.gather(1, choice[:, None]).squeeze(1), entropy


class LSTMController(Policy):
    """ENAS's controller: an LSTM cell stepped once per layer, the chosen candidate's embedding fed back."""

    def __init__(self, num_layers: int, num_candidates: int, hidden: int = 64, tanh_constant: Optional[float] = 1.5,
                 temperature: Optional[float] = None, seed: int = 0):
        super().__init__(num_layers, num_candidates)
        self.tanh_constant, self.temperature = tanh_constant, temperature
        self.start = nn.Parameter(torch.empty(1, hidden))
        self.cell = nn.LSTMCell(hidden, hidden)
        # one embedding per (layer, candidate): the same candidate name means a different op in another layer
        self.embedding = nn.Embedding(num_layers * num_candidates, hidden)
        self.head_weight = nn.Parameter(torch.empty(num_layers, hidden, num_candidates))
        self.head_bias = nn.Parameter(torch.empty(num_layers, num_candidates))
        g = torch.Generator().manual_seed(seed)
        for p in self.parameters():
            nn.init.uniform_(p, -0.1, 0.1, generator=g)

    def _logits(self, h: torch.Tensor, layer: int) -> torch.Tensor:
        logits = h @ self.head_weight[layer] + self.head_bias[layer]
        if self.temperature is not None:
            logits = logits / self.temperature
        if self.tanh_constant is not None:
            logits = self.tanh_constant * torch.tanh(logits)
        return logits

    def _run(self, n, generator, archs, greedy=False):
        u = self._uniforms(n, generator)
        x = self.start.expand(n, -1)
        state = None
        chosen, log_prob, entropy = [], 0.0, 0.0
        for layer in range(self.num_layers):
            h, c = self.cell(x, state)
            state = (h, c)
            choice, lp, ent = _choose(self._logits(h, layer), None if u is None else u[layer],
                                      None if archs is None else archs[:, layer], greedy)
            chosen.append(choice)
            log_prob, entropy = log_prob + lp, entropy + ent
            x = self.embedding(choice + layer * self.num_candidates)
        return torch.stack(chosen, 1), log_prob, entropy


class FactorisedPolicy(Policy):
    """One independent softmax over candidates per layer (logits start at zero: the uniform distribution)."""

    def __init__(self, num_layers: int, num_candidates: int):
        super().__init__(num_layers, num_candidates)
        self.logits = nn.Parameter(torch.zeros(num_layers, num_candidates))

    def _run(self, n, generator, archs, greedy=False):
        u = self._uniforms(n, generator)
        chosen, log_prob, entropy = [], 0.0, 0.0
        for layer in range(self.num_layers):
            choice, lp, ent = _choose(self.logits[layer].expand(n, -1), None if u is None else u[layer],
                                      None if archs is None else archs[:, layer], greedy)
            chosen.append(choice)
            log_prob, entropy = log_prob + lp, entropy + ent
        return torch.stack(chosen, 1), log_prob, entropy


POLICIES = ("lstm", "factorised")


def make_policy(kind: str, num_layers: int, num_candidates: int, *, hidden: int = 64, seed: int = 0) -> Policy:
    """The policy ``kind`` (one of :data:`POLICIES`) for a space of ``num_layers`` x ``num_candidates``."""
    if kind == "lstm":
        return LSTMController(num_layers, num_candidates, hidden=hidden, seed=seed)
    if kind == "factorised":
        return FactorisedPolicy(num_layers, num_candidates)
    raise ValueError(f"unknown policy {kind!r}; known: {', '.join(POLICIES)}")


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the block in one torch thread, then restore the count (a no-op when it is one already).

    A policy's tensors are tiny: more threads only add synchronisation (on a loaded
    2-core machine a controller step took 10x longer in two threads than in one),
    and one thread keeps its arithmetic the same whatever the machine's thread
    count, which a replayed (resumed) search relies on. Setting the count is not
    free either, so callers hold it around a whole search, not a single op.
    """
    before = torch.get_num_threads()
    if before != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before != 1:
            torch.set_num_threads(before)
