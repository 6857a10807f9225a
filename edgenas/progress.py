"""Progress display for long work: a rich progress bar on a terminal, quiet lines elsewhere."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

Progress = Callable[[str, int, int], None]  # (phase, done, total)


@contextmanager
def progress_bar(title: str, enabled: bool = True) -> Iterator[Progress]:
    """Yield a ``(phase, done, total)`` callback that drives one bar per phase."""
    if not enabled:
        yield lambda phase, done, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, TimeElapsedColumn

    bars = {}
    with RichProgress(TextColumn(f"{title} [bold]{{task.description}}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), transient=False) as rp:
        def update(phase: str, done: int, total: int) -> None:
            if phase not in bars:
                bars[phase] = rp.add_task(phase, total=total)
            rp.update(bars[phase], completed=done, total=total)

        yield update


@contextmanager
def epoch_progress(title: str, enabled: bool = True) -> Iterator:
    """Yield a ``(done, total, metrics)`` callback: one bar over epochs showing the latest metrics."""
    if not enabled:
        yield lambda done, total, metrics: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, TimeElapsedColumn

    with RichProgress(TextColumn(f"{title} [bold]epochs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      TextColumn("{task.fields[metrics]}"), transient=False) as rp:
        task = rp.add_task("epochs", total=None, metrics="")

        def update(done: int, total: int, metrics) -> None:
            text = "  ".join(f"{k} {v:.4g}" for k, v in metrics.items() if v is not None)
            rp.update(task, completed=done, total=total, metrics=text)

        yield update
