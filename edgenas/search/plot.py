"""The figure of a search run: expected latency and accuracy per epoch."""
from __future__ import annotations

from typing import Optional, Sequence

from ..fileio import PathLike, atomic_write_figure


def plot_search(history: Sequence[dict], path: PathLike, target_ms: Optional[float] = None, title: str = "") -> None:
    """Two panels over epochs: latency (expected under θ, of the most likely arch, budget) and accuracy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
