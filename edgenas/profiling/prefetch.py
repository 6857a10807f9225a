"""Prepare the next models in a worker process while the current one is timed.

Exporting an op (tracing it through PyTorch, serialising ONNX) and counting
its FLOPs with fvcore take longer than timing it at the 224 px resolution, and
none of it needs the timing cores. One worker process on a spare core does
that work a few items ahead, so the wall time of a profile approaches the time
spent inside timed runs. The worker runs PyTorch on one thread and ignores
Ctrl-C (the main process stops it). While a profile runs, the worker is
started before the first timing and kept busy ahead of it, so nearly every
timing, the identity overheads included, is taken beside one busy neighbour
core; the last few items of a phase are the exception.

With no worker (``workers=0``, or no spare core) everything runs in-process, in order.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Callable, Deque, Iterable, Iterator, Optional, Tuple, TypeVar

from ..lifeline import pool_initializer

T = TypeVar("T")
R = TypeVar("R")


def _init_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import torch

    torch.set_num_threads(1)


def spare_cores(busy: int) -> int:
    """Cores of this process's affinity left over when ``busy`` of them time runs."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(0, cores - busy)


class Prefetcher:
    """A context holding at most one worker process; :meth:`map` runs jobs ahead of their use.

    ``workers`` is 0 or 1; ``None`` means one when a core is spare beside
    ``timing_threads`` and this is not itself a daemon process (which may not
    start children).
    """

    def __init__(self, workers: Optional[int] = None, timing_threads: int = 1):
        if workers is None:
            workers = 1 if spare_cores(timing_threads) > 0 and not multiprocessing.current_process().daemon else 0
        self.workers = min(1, max(0, workers))
        self._pool: Optional[ProcessPoolExecutor] = None

    def __enter__(self) -> "Prefetcher":
        if self.workers:
            # spawn: the parent holds onnxruntime sessions and torch thread pools, which fork does not copy safely.
            init, args = pool_initializer(_init_worker)  # the worker ends with this process, even killed
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=init, initargs=args)
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def map(self, job: Callable[[T], R], items: Iterable[T], depth: int = 2) -> Iterator[Tuple[T, R]]:
        """``(item, job(item))`` in order, up to ``depth`` results computed ahead in the worker.

        The first ``depth + 1`` jobs are submitted at once, before the returned
        iterator is first advanced, so the worker is busy from the start. ``job``
        and the items must pickle (a module-level function); an exception raised
        by ``job`` is raised at its item.
        """
        items = list(items)
        if self._pool is None:
            return ((item, job(item)) for item in items)
        pending: Deque[Tuple[T, Future]] = deque((item, self._pool.submit(job, item)) for item in items[:depth + 1])
        return self._drain(job, items[depth + 1:], pending)

    def _drain(self, job, rest, pending) -> Iterator[Tuple[T, R]]:
        try:
            for item in rest:
                done_item, fut = pending.popleft()
                pending.append((item, self._pool.submit(job, item)))
                yield done_item, fut.result()
            while pending:
                done_item, fut = pending.popleft()
                yield done_item, fut.result()
        finally:
            for _, fut in pending:
                fut.cancel()
