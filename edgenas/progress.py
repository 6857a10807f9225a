"""Progress of long work: one callback type, and a rich display of it on a terminal.

Every long-running function of edgenas (profiling, supernet and final training,
training ahead, search, export) reports through a :class:`Progress`:
``progress(phase, done, total, **metrics)`` — ``done`` of ``total`` steps of
the named phase are finished, with the latest metrics (loss, accuracy, ...)
if any. A phase ends with ``done == total``: a caller reports that when the
phase finishes, also when it finds the work already done (a resumed run).
:func:`steps` does it for a loop.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator, Protocol, Sequence, TypeVar

__all__ = ["Progress", "quiet", "steps", "prefixed", "progress_bar"]

T = TypeVar("T")


class Progress(Protocol):
    """``(phase, done, total, **metrics)``: ``done`` of ``total`` steps of ``phase`` finished."""

    def __call__(self, phase: str, done: int, total: int, **metrics: float) -> None: ...


def quiet(phase: str, done: int, total: int, **metrics: float) -> None:
    """A :class:`Progress` that shows nothing."""


def steps(progress: Progress, phase: str, items: Sequence[T]) -> Iterator[T]:
    """Yield ``items``, reporting ``(phase, i, n)`` before item ``i`` and ``(phase, n, n)`` after the last."""
    n = len(items)
    for i, item in enumerate(items):
        progress(phase, i, n)
        yield item
    progress(phase, n, n)


def prefixed(progress: Progress, prefix: str) -> Progress:
    """``progress`` with every phase name preceded by ``prefix`` (``"model p0"`` + ``"train"``)."""
    def report(phase: str, done: int, total: int, **metrics: float) -> None:
        progress(f"{prefix} {phase}", done, total, **metrics)
    return report


def _metrics_text(metrics) -> str:
    return "  ".join(f"{k} {v:.4g}" for k, v in metrics.items() if isinstance(v, (int, float)))


@contextmanager
def progress_bar(title: str = "", enabled: bool = True) -> Iterator[Progress]:
    """Yield a :class:`Progress` that draws one bar per phase (done/total, elapsed time, time remaining, metrics).

    The bars go to stderr and only when it is a terminal; elsewhere (a pipe, a log file, a test) the
    callback shows nothing. A bar stops its clock when it reaches its total; a phase that ended short of
    it (skipped work) is removed when the block ends normally.
    """
    if not (enabled and sys.stderr.isatty()):
        yield quiet
        return
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    bars = {}
    head = f"{title} " if title else ""
    rp = RichProgress(TextColumn(f"{head}[bold]{{task.description}}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[metrics]}"),
                      console=Console(stderr=True))

    def update(phase: str, done: int, total: int, **metrics: float) -> None:
        if phase not in bars:
            bars[phase] = rp.add_task(phase, total=total, metrics="")
        rp.update(bars[phase], completed=done, total=total, metrics=_metrics_text(metrics))

    with rp:
        yield update
        for task in rp.tasks:
            if not task.finished:
                rp.remove_task(task.id)

