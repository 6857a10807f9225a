"""Evaluation runners, injected into the search: in-process (default) or Ray.

A runner splits a batch of architectures into chunks, evaluates them with an
:class:`~edgenas.search.estimators.ErrorEstimator` and yields ``(rows, errors)`` per
chunk *as chunks finish*, so the caller journals each one at once. This is the
batched equivalent of pymoo's ``elementwise_runner`` (pymoo's own
``RayParallelization`` submits one task per individual, too fine for
millisecond evaluations).
"""
from __future__ import annotations

import sys
from typing import Iterator, Optional, Tuple

import numpy as np

from ..errors import BackendUnavailableError
from ..lifeline import Sweeper
from ..ray_address import check_reachable

__all__ = ["InProcessRunner", "RayRunner", "make_runner"]

Chunk = Tuple[np.ndarray, np.ndarray]


def _chunks(n: int, size: int):
    size = max(1, int(size))
    for start in range(0, n, size):
        yield np.arange(start, min(start + size, n))


class InProcessRunner:
    """Evaluates chunk after chunk in this process."""

    name = "in-process"

    def map(self, estimator, archs: np.ndarray, chunk_size: int) -> Iterator[Chunk]:
        for rows in _chunks(len(archs), chunk_size):
            yield rows, estimator.evaluate(archs[rows])

    def close(self) -> None:
        pass


def _evaluate_remote(estimator, archs):
    if "torch" in sys.modules:  # one worker per CPU: keep torch from oversubscribing the cores
        sys.modules["torch"].set_num_threads(1)
    return estimator.evaluate(archs)


class RayRunner:
    """Evaluates chunks as Ray tasks on a local cluster (``address=None``) or an existing one.

    The estimator is put into the object store once per run and shared by
    every task. Raises :class:`BackendUnavailableError` when Ray is not
    installed or the cluster cannot be reached.
    """

    name = "ray"

    def __init__(self, address: Optional[str] = None, num_cpus: Optional[int] = None, tasks_per_batch: int = 0):
        try:
            import ray
        except ImportError:
            raise BackendUnavailableError("Ray was asked for but is not installed: pip install 'edgenas[ray]' "
                                          "(or pip install ray)") from None
        check_reachable(address)
        self.ray, self.address = ray, address
        self._owns = not ray.is_initialized()
        self._sweeper = Sweeper() if self._owns and not address else None  # a local cluster dies with us
        try:
            if self._owns:
                kwargs = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
                if address:
                    ray.init(address=address, **kwargs)
                else:
                    ray.init(num_cpus=num_cpus, **kwargs)
        except Exception as e:  # ray raises ConnectionError, RuntimeError, ValueError, ...
            self.close()
            raise BackendUnavailableError(f"cannot start or join a Ray cluster"
                                          f"{' at ' + address if address else ''}: {type(e).__name__}: {e}") from None
        self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.tasks_per_batch = tasks_per_batch or 2 * self.workers
        self._task = ray.remote(num_cpus=1)(_evaluate_remote)
        self._estimator, self._ref = None, None

    def map(self, estimator, archs: np.ndarray, chunk_size: int) -> Iterator[Chunk]:
        ray = self.ray
        if estimator is not self._estimator:
            self._estimator, self._ref = estimator, ray.put(estimator)
        # enough tasks to keep every worker busy, none larger than the estimator's chunk
        size = max(1, min(int(chunk_size), -(-len(archs) // self.tasks_per_batch)))
        pending = {self._task.remote(self._ref, archs[rows]): rows for rows in _chunks(len(archs), size)}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                yield pending.pop(ref), ray.get(ref)

    def close(self) -> None:
        self._estimator = self._ref = None
        if self._owns and self.ray.is_initialized():
            self.ray.shutdown()
        if self._sweeper is not None:
            self._sweeper.close()
            self._sweeper = None


def make_runner(ray: Optional[str] = None, num_cpus: Optional[int] = None):
    """``None``: in-process. ``"local"``: a local Ray cluster. Anything else: the address of a Ray cluster."""
    if ray is None:
        return InProcessRunner()
    return RayRunner(address=None if ray == "local" else ray, num_cpus=num_cpus)
