"""Worker processes that end with their parent: no orphan outlives a killed command.

Two ways, one per kind of worker.

A ``ProcessPoolExecutor`` worker blocks on its call queue; when the parent is killed (``kill -9``, the OOM
killer) nothing tells it, and it waits forever. Each worker started through :func:`pool_initializer` runs a
daemon thread that watches its parent pid and ends the process once the parent is gone (the worker is then
re-parented, so ``getppid`` changes). A watchdog rather than Linux's parent-death signal: that signal fires
when the *thread* that started the worker ends, and a pool may start workers from a helper thread.

Ray's processes are not ours to start: ``ray.init`` starts a GCS server and a raylet, the raylet starts
agents and task workers. Killed with SIGKILL, the driver takes the GCS server, the raylet and the workers
with it (Ray's own fate sharing), but the dashboard and runtime-env agents wait for the dead GCS for one to
two minutes before they give up (measured with Ray 2.60). :class:`Sweeper` is a small watchdog process
beside them: while this process lives it notes, twice a second, every process descended from it; once this
process is gone it kills each of those (and their children) that is still the process it noted.

Run as a script (``python lifeline.py PID``), this file is that watchdog: it imports nothing of edgenas.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

__all__ = ["watch_parent", "pool_initializer", "Sweeper", "process_table", "descendants", "POLL_S"]

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


def process_table() -> Dict[int, Tuple[int, str]]:
    """Every live process: pid -> (parent pid, start time), from /proc (zombies left out)."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # ended while we looked
            if fields[0] != "Z":
                out[int(entry.name)] = (int(fields[1]), fields[19])  # ppid, starttime in clock ticks
    return out


def descendants(roots, table: Dict[int, Tuple[int, str]]) -> Dict[int, str]:
    """pid -> start time of every process below ``roots`` in ``table``."""
    children: Dict[int, list] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = {}, list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found[child] = table[child][1]
                todo.append(child)
    return found


def _sweep(parent: int) -> None:
    """The watchdog: note ``parent``'s descendants while it is our parent; when it is gone, kill them."""
    me, seen = os.getpid(), {}
    while os.getppid() == parent:
        seen.update(descendants([parent], process_table()))
        seen.pop(me, None)
        time.sleep(POLL_S)
    for _ in range(3):  # a noted process may have started children since the last look: take them too
        table = process_table()
        alive = {pid for pid, start in seen.items() if table.get(pid, (0, None))[1] == start}  # not a reused pid
        seen = {pid: seen[pid] for pid in alive}
        seen.update({p: s for p, s in descendants(alive, table).items() if p != me})
        if not seen:
            return
        for pid in seen:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.2)


class Sweeper:
    """A watchdog process that kills what this process started once this process is gone (see above).

    ``with Sweeper():`` around the life of processes this process does not start itself (a local Ray cluster);
    leaving the block ends the watchdog without killing anything. Where there is no /proc it does nothing.
    """

    def __init__(self):
        self._proc: Optional[subprocess.Popen] = None
        if Path("/proc/self/stat").exists():
            self._proc = subprocess.Popen([sys.executable, "-I", str(Path(__file__).resolve()), str(os.getpid())],
                                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL)

    def close(self) -> None:
        if self._proc is not None:
            self._proc.terminate()  # SIGTERM ends the watchdog where it stands: nothing is swept
            self._proc.wait()
            self._proc = None

    def __enter__(self) -> "Sweeper":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


if __name__ == "__main__":
    _sweep(int(sys.argv[1]))
