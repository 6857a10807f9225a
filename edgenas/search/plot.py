"""The figures of a search run over time, ``search.png`` in its run folder: DNAS's expected latency and accuracy
per epoch, NASH's climb per step, LEMONADE's front per generation."""
from __future__ import annotations

from typing import Optional, Sequence

from ..fileio import PathLike, atomic_write_figure

__all__ = ["SEARCH_PLOT", "plot_search", "plot_climb", "plot_front_over_time"]

SEARCH_PLOT = "search.png"   # in the run folder, beside result.png (the final front)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_search(history: Sequence[dict], path: PathLike, target_ms: Optional[float] = None, title: str = "") -> None:
    """Two panels over epochs: latency (expected under θ, of the most likely arch, budget) and accuracy."""
    plt = _pyplot()
    ep = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(6.4, 6.0), sharex=True)
    ax1.plot(ep, [h["expected_latency_ms"] for h in history], "o-", label="expected under softmax(θ)")
    ax1.plot(ep, [h["most_likely_latency_ms"] for h in history], "s--", label="most likely architecture")
    if target_ms is not None:
        ax1.axhline(target_ms, color="k", lw=0.8, ls=":", label=f"budget {target_ms:g} ms")
    ax1.set_ylabel("predicted latency (ms)")
    ax1.legend(fontsize=8)
    ax2.plot(ep, [h["weight_acc"] for h in history], "o-", label="weight split (mixture, training)")
    arch = [(h["epoch"], h["arch_acc"]) for h in history if h.get("arch_acc") is not None]
    if arch:
        ax2.plot(*zip(*arch), "s-", label="arch split (θ step)")
    ax2.set_ylabel("accuracy")
    ax2.set_xlabel("epoch")
    ax2.legend(fontsize=8)
    warm = [h["epoch"] for h in history if h.get("phase") == "warmup"]
    for ax in (ax1, ax2):
        if warm:
            ax.axvspan(min(warm) - 0.5, max(warm) + 0.5, color="0.9", zorder=0)
    fig.suptitle(title)
    fig.tight_layout()
    atomic_write_figure(path, fig)


def plot_climb(history: Sequence[dict], path: PathLike, table: str, budget_ms: Optional[float] = None,
               title: str = "") -> None:
    """NASH over its steps: validation accuracy of the kept network and of every child trained, and the kept
    network's predicted latency on ``table`` against the budget."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    steps = [h["step"] for h in history]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(6.4, 6.0), sharex=True)
    kids = [(h["step"], c["val_acc"], c["exact"]) for h in history for c in h["children"]]
    for exact, marker, label in ((True, "o", "children (exact morphisms)"), (False, "x", "children (approximate)")):
        pts = [(s, 100 * a) for s, a, e in kids if e == exact]
        if pts:
            ax1.scatter(*zip(*pts), marker=marker, c="0.55", s=22, label=label, zorder=2)
    ax1.plot(steps, [100 * h["val_acc"] for h in history], "o-", c="tab:red", label="kept network", zorder=3)
    ax1.set_ylabel("validation accuracy (%)")
    ax1.legend(fontsize=8)
    ax2.plot(steps, [h["latency_ms"][table] for h in history], "s-", c="tab:blue", label="kept network")
    if budget_ms is not None:
        ax2.axhline(budget_ms, color="k", lw=0.8, ls=":", label=f"budget {budget_ms:g} ms")
    ax2.set_ylabel(f"predicted latency on {table} (ms)")
    ax2.set_xlabel("step")
    ax2.legend(fontsize=8)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    ax2.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(title)
    fig.tight_layout()
    atomic_write_figure(path, fig)


def plot_front_over_time(history: Sequence[dict], path: PathLike, key: str, table: str,
                         budget_ms: Optional[float] = None, title: str = "") -> None:
    """LEMONADE over its generations: the population (the networks trained so far on or near their Pareto front),
    validation error against the predicted latency ``key`` on ``table``, one colour per generation; beside it the
    population's size and best accuracy per generation."""
    plt = _pyplot()
    from matplotlib import cm
    from matplotlib.ticker import MaxNLocator

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11.0, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    last = max(len(history) - 1, 1)
    for h in history:
        pop = sorted((p[key], 100 * (1 - p["val_acc"])) for p in h["population"])
        colour = cm.viridis(h["generation"] / last)
        label = f"generation {h['generation']}" if h["generation"] in (0, last) or len(history) <= 6 else None
        # the line: the population's front in this plane (members kept within the validation noise, or by more
        # objectives such as params, are dominated here and only drawn as points)
        front = [pt for i, pt in enumerate(pop) if all(pt[1] < q[1] for q in pop[:i])]
        ax1.step(*zip(*front), where="post", c=colour, lw=1, alpha=0.8)
        ax1.scatter(*zip(*pop), c=[colour], s=14, label=label)
    if budget_ms is not None:
        ax1.axvline(budget_ms, c="k", ls="--", lw=1, label=f"budget {budget_ms:g} ms")
    ax1.set_xlabel(f"predicted latency on {table} (ms)")
    ax1.set_ylabel("validation error (%)")
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    gens = [h["generation"] for h in history]
    ax2.plot(gens, [max(100 * p["val_acc"] for p in h["population"]) for h in history], "o-", c="tab:red",
             label="best validation accuracy (%)")
    ax2.set_xlabel("generation")
    ax2.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax2.set_ylabel("best validation accuracy (%)")
    twin = ax2.twinx()
    twin.plot(gens, [len(h["population"]) for h in history], "s--", c="tab:blue", label="population")
    twin.set_ylabel("networks on the front")
    ax2.grid(alpha=0.3)
    handles = ax2.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax2.legend(handles, [h.get_label() for h in handles], fontsize=8, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    atomic_write_figure(path, fig)
