"""What a person sees of a search: a PNG of every evaluated point with the front and budgets, a terminal table."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..fileio import atomic_write_figure
from .contract import Point
from .problem import ObjectiveSpec

__all__ = ["plot_front", "format_result"]


def plot_front(path: Path, spec: ObjectiveSpec, points: Sequence[Point], front: Sequence[Point],
               title: str = "") -> None:
    """Error against latency for every table: all evaluated points, the front, and the budget line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(spec.targets)
    fig, axes = plt.subplots(1, n, figsize=(6 * n, 4.5), squeeze=False)
    points = [p for p in points if p.error is not None]   # a strategy without estimates plots only its front
    err = np.array([p.error for p in points])
    for ax, t in zip(axes[0], spec.targets):
        lat = np.array([p.costs[t.key] for p in points])
        ax.scatter(lat, 100 * err, s=6, c="0.65", alpha=0.5, label=f"evaluated ({len(points)})")
        if front:
            fl = np.array([p.costs[t.key] for p in front])
            fe = np.array([np.nan if p.error is None else p.error for p in front])
            ax.scatter(fl, 100 * fe, s=18, c="tab:red", zorder=3, label=f"Pareto set ({len(front)})")
            if t.objective and len(spec.objectives) == 2:
                order = np.argsort(fl)
                ax.step(fl[order], 100 * fe[order], where="post", c="tab:red", lw=1)
        if t.max_latency_ms is not None:
            ax.axvline(t.max_latency_ms, c="k", ls="--", lw=1, label=f"budget {t.max_latency_ms:g} ms")
        ax.set_xlabel(f"predicted latency on {t.name} (ms)")
        ax.set_ylabel("top-1 error (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    atomic_write_figure(path, fig)


def format_result(doc: dict) -> str:
    """Terminal summary of any strategy's result document."""
    front = doc["front"]
    lines = [f"{doc['strategy']}: Pareto set of {len(front)} from {doc.get('evaluated')} evaluated architectures"
             + (f", hypervolume {doc['details']['hypervolume']:.4f}" if "hypervolume" in doc.get("details", {}) else "")]
    for r in sorted(front, key=lambda r: (r["error"] is None, r["error"] or 0.0)):
        lat = "  ".join(f"{name} {ms:.4g} ms" for name, ms in r["latency_ms"].items())
        acc = "   n/a " if r["accuracy"] is None else f"{100 * r['accuracy']:6.2f}%"
        mark = "  <- selected" if r["arch"] == doc.get("selected") else ""
        lines.append(f"  acc {acc}  {lat}  mem {r['memory_bytes'] / 1024:8.1f} KiB  {r['arch']}{mark}")
    if "fresh" in doc.get("details", {}) and doc.get("evaluated") is not None:
        fresh = doc["details"]["fresh"]
        lines.append(f"evaluated {doc['evaluated']} architectures ({fresh} now, {doc['evaluated'] - fresh} from "
                     f"the journal)")
    if not front:
        lv = doc.get("least_violating")
        lines.append("no evaluated architecture meets the budgets" + (f"; the least violating is {lv['arch']}" if lv else ""))
    return "\n".join(lines)
