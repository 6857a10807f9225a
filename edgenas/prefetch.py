"""Prepare the next models in a worker process while the current one is timed.

Exporting an op (tracing it through PyTorch, serialising ONNX) and counting
its FLOPs with fvcore take longer than timing it at the 224 px resolution, and
none of it needs the timing core. A single worker process on the other core
does that work a few items ahead, so the wall time of a profile approaches the
time spent inside timed runs. The worker runs PyTorch on one thread; timings
in the main process are taken with at most one busy neighbour core, the same
for every entry.

With ``workers=0`` (or a one-core machine) everything runs in-process, in order.
"""
from __future__ import annotations

import multiprocessing
import os
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Callable, Iterable, Iterator, Tuple, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def default_workers() -> int:
    """One worker when there is a spare core to run it on, else none."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return 1 if cores > 1 else 0


def prefetched(job: Callable[[T], R], items: Iterable[T], depth: int = 2,
               workers: int | None = None) -> Iterator[Tuple[T, R]]:
    """Yield ``(item, job(item))`` in order, computing up to ``depth`` results ahead in a worker process.

    ``job`` and the items must be picklable (a module-level function). An
    exception raised by ``job`` is raised here, at its item.
    """
    items = list(items)
    workers = default_workers() if workers is None else workers
    if workers == 0 or len(items) < 2:
        for item in items:
            yield item, job(item)
        return
    # spawn: the parent holds onnxruntime sessions and torch thread pools, which fork does not copy safely.
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_init_worker) as pool:
        pending: deque[Tuple[T, Future]] = deque()
        it = iter(items)
        try:
            for item in it:
                pending.append((item, pool.submit(job, item)))
                if len(pending) > depth:
                    done_item, fut = pending.popleft()
                    yield done_item, fut.result()
            while pending:
                done_item, fut = pending.popleft()
                yield done_item, fut.result()
        finally:
            for _, fut in pending:
                fut.cancel()
