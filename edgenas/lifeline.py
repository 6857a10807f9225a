"""Worker processes that end with their parent: no orphan outlives a killed command.

A ``ProcessPoolExecutor`` worker blocks on its call queue; when the parent is killed (``kill -9``, the OOM
killer) nothing tells it, and it waits forever. Each worker started through :func:`pool_initializer` runs a
daemon thread that watches its parent pid and ends the process once the parent is gone (the worker is then
re-parented, so ``getppid`` changes). A watchdog rather than Linux's parent-death signal: that signal fires
when the *thread* that started the worker ends, and a pool may start workers from a helper thread.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Callable, Optional, Tuple

__all__ = ["watch_parent", "pool_initializer", "POLL_S"]

POLL_S = 0.5  # how often a worker looks at its parent: it ends within about this long after the parent


def _watch(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(1)  # no cleanup to run: the work of a dead parent has nobody to go to
        time.sleep(POLL_S)


def watch_parent(parent: int) -> None:
    """End this process (exit code 1) as soon as ``parent`` is no longer its parent."""
    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=_watch, args=(parent,), name="edgenas-lifeline", daemon=True).start()


def _initialize(parent: int, then: Optional[Callable], args: tuple) -> None:
    watch_parent(parent)
    if then is not None:
        then(*args)


def pool_initializer(then: Optional[Callable] = None, *args) -> Tuple[Callable, tuple]:
    """``(initializer, initargs)`` for a process pool whose workers die with this process, then run
    ``then(*args)`` (a module-level function, as a pool initializer must be)."""
    return _initialize, (os.getpid(), then, args)
