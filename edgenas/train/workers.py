"""Several trainings at a time: in this process, in worker processes, or as Ray tasks — one mechanism for all.

A :class:`TaskPool` runs a module-level function on tuples of arguments and yields ``(index, result)`` as each
call finishes, with at most ``workers`` calls in flight (a killed caller loses no more than those):

- ``workers <= 1`` and no Ray: in this process, one after the other, in order;
- ``workers >= 2``: worker processes, spawned (no torch state is forked), each ending with its parent
  (:mod:`edgenas.lifeline`), so a killed command leaves none behind;
- ``ray``: Ray tasks on a local cluster (``"local"``, which joins the cluster at ``RAY_ADDRESS`` when that is
  set) or an existing one (its address, or ``"auto"``), reserving ``threads`` CPUs each, ``workers`` in flight (with
  ``workers`` 1: as many as the cluster's CPUs hold); a cluster this pool started is shut down when it closes.

Every worker (process or Ray worker process) runs ``initializer(*initargs)`` once before its first call (a module-level function of its arguments only: e.g.
load the data once; this process runs it too, in the first in-process :meth:`map`). The
pool is used by the export's train-ahead (:mod:`edgenas.train.ahead`), the benchmark build and the morphism
searches' children. The pool leaves torch's thread count alone: the called function sets it, as a training in
this process does, so that a training in a worker is the training in this process (same seed and thread count;
their tests check it). Setting it earlier changes results: the data's normalisation statistics, computed before
the training sets its threads, differ in the last bits with the thread count.
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Callable, Dict, Iterator, Optional, Sequence, Tuple

from ..errors import BackendUnavailableError, ConfigError
from ..lifeline import Sweeper, pool_initializer
from ..ray_address import check_reachable

__all__ = ["TaskPool"]

_READY: set = set()   # the initialisations this process has run (a Ray worker runs many tasks)


def _prepare(initializer: Optional[Callable], initargs: tuple) -> None:
    if initializer is None:
        return
    key = (initializer.__module__, initializer.__qualname__, repr(initargs))
    if key not in _READY:
        initializer(*initargs)
        _READY.add(key)


def _ray_call(initializer: Optional[Callable], initargs: tuple, fn: Callable, args: tuple) -> Any:
    _prepare(initializer, initargs)
    return fn(*args)


class TaskPool:
    """Runs calls in this process, in ``workers`` worker processes, or on Ray (see the module doc). Use it as a
    context manager; workers start on the first :meth:`map` and stay for the next ones until :meth:`close`."""

    def __init__(self, workers: int = 1, *, ray: Optional[str] = None, threads: int = 1,
                 initializer: Optional[Callable] = None, initargs: tuple = ()):
        if workers < 1 or threads < 1:
            raise ConfigError(f"workers and threads must be at least 1, got {workers} and {threads}")
        self.workers, self.ray_address, self.threads = workers, ray, threads
        self.initializer, self.initargs = initializer, tuple(initargs)
        self._pool: Optional[ProcessPoolExecutor] = None
        self._ray = self._ray_task = None
        self._owns_ray = False
        self._sweeper: Optional[Sweeper] = None
        if ray is not None:
            self._start_ray(ray)

    @property
    def in_process(self) -> bool:
        return self.ray_address is None and self.workers <= 1

    def _start_ray(self, address: str) -> None:
        try:
            import ray
        except ImportError:
            raise BackendUnavailableError("Ray was asked for but is not installed: pip install 'edgenas[ray]' "
                                          "(or pip install ray)") from None
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            check_reachable(address)
            if address == "local" and not os.environ.get("RAY_ADDRESS"):
                self._sweeper = Sweeper()   # a cluster started here dies with this process, even by kill -9
            try:
                ray.init(address=None if address == "local" else address, include_dashboard=False,
                         log_to_driver=False, configure_logging=False)
            except Exception as e:  # ray raises ConnectionError, RuntimeError, ValueError, ...
                raise BackendUnavailableError(f"cannot start or join a Ray cluster"
                                              f"{'' if address == 'local' else ' at ' + address}: "
                                              f"{type(e).__name__}: {e}") from None
            finally:
                if not ray.is_initialized():
                    self._close_sweeper()
        self._ray, self._ray_task = ray, ray.remote(num_cpus=self.threads)(_ray_call)
        if self.workers <= 1:  # not said: as many tasks in flight as the cluster has room for
            self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)) // self.threads)

    def map(self, fn: Callable, calls: Sequence[tuple]) -> Iterator[Tuple[int, Any]]:
        """``(i, fn(*calls[i]))`` for every call, as each finishes (in order in this process). An exception of a
        call is raised here; calls not started yet are not started."""
        if self.in_process:
            _prepare(self.initializer, self.initargs)
            for i, args in enumerate(calls):
                yield i, fn(*args)
        elif self._ray is not None:
            yield from self._map_ray(fn, calls)
        else:
            yield from self._map_processes(fn, calls)

    def _map_processes(self, fn: Callable, calls: Sequence[tuple]) -> Iterator[Tuple[int, Any]]:
        if self._pool is None:
            init, args = pool_initializer(_prepare, self.initializer, self.initargs)
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=init, initargs=args)
        queue = list(enumerate(calls))
        running: Dict = {}
        try:
            while queue or running:
                while queue and len(running) < self.workers:
                    i, args = queue.pop(0)
                    running[self._pool.submit(fn, *args)] = i
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    i = running.pop(future)
                    yield i, future.result()
        finally:
            for future in running:
                future.cancel()

    def _map_ray(self, fn: Callable, calls: Sequence[tuple]) -> Iterator[Tuple[int, Any]]:
        ray, queue, running = self._ray, list(enumerate(calls)), {}
        try:
            while queue or running:
                while queue and len(running) < self.workers:
                    i, args = queue.pop(0)
                    running[self._ray_task.remote(self.initializer, self.initargs, fn, args)] = i
                finished, _ = ray.wait(list(running), num_returns=1)
                for ref in finished:
                    i = running.pop(ref)
                    yield i, ray.get(ref)
        finally:
            for ref in running:
                ray.cancel(ref)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._owns_ray and self._ray is not None and self._ray.is_initialized():
            self._ray.shutdown()
        self._ray = None
        self._close_sweeper()

    def _close_sweeper(self) -> None:
        if self._sweeper is not None:
            self._sweeper.close()
            self._sweeper = None

    def __enter__(self) -> "TaskPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
