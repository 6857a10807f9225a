"""Outputs of a search: Pareto set JSON, a PNG of every evaluated point with the front and budgets,
a terminal table, and a per-generation progress bar that shows the hypervolume."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import numpy as np

from ..fileio import atomic_write_bytes, atomic_write_json
from .runstore import EvalRecord
from .problem import ObjectiveSpec

__all__ = ["front_json", "write_outputs", "plot_search", "format_result"]


def _row(spec: ObjectiveSpec, r: EvalRecord) -> dict:
    v = r.values
    return {"arch": r.arch, "genes": list(r.genes), "error": v["error"], "accuracy": 1.0 - v["error"],
            "latency_ms": {t.name: v[t.key] for t in spec.targets}, "memory_bytes": v["memory_bytes"],
            "param_bytes": v["param_bytes"], "flops": v["flops"], "generation": r.generation}


def front_json(spec: ObjectiveSpec, result, config: dict, sources: Optional[dict] = None) -> dict:
    """The Pareto set document: every architecture with its objectives and predicted latency per table.

    ``sources`` (the table files, the supernet folder, the dataset) lets ``edgenas export`` find what the
    search used; it is not part of the config, so it never blocks a resume.
    """
    return {"format": "edgenas-pareto-set", "config": config, "sources": sources or {}, **spec.to_json(),
            "evaluated": result.evaluated, "fresh": result.fresh, "hypervolume": result.hypervolume,
            "pareto": [_row(spec, r) for r in result.front],
            "least_violating": _row(spec, result.least_violating) if result.least_violating else None,
            "history": result.history}


def plot_search(path: Path, spec: ObjectiveSpec, records: List[EvalRecord], front: List[EvalRecord],
                title: str = "") -> None:
    """Error against latency for every table: all evaluated points, the front, and the budget line."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(spec.targets)
    fig, axes = plt.subplots(1, n, figsize=(6 * n, 4.5), squeeze=False)
    err = np.array([r.values["error"] for r in records])
    for ax, t in zip(axes[0], spec.targets):
        lat = np.array([r.values[t.key] for r in records])
        ax.scatter(lat, 100 * err, s=6, c="0.65", alpha=0.5, label=f"evaluated ({len(records)})")
        if front:
            fl = np.array([r.values[t.key] for r in front])
            fe = np.array([r.values["error"] for r in front])
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
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def write_outputs(out: Path, spec: ObjectiveSpec, result, records: List[EvalRecord], config: dict,
                  plot: bool = True, sources: Optional[dict] = None) -> None:
    """``pareto.json`` and ``pareto.png`` in ``out`` (atomic writes)."""
    atomic_write_json(out / "pareto.json", front_json(spec, result, config, sources))
    if plot:
        plot_search(out / "pareto.png", spec, records, result.front,
                    title=f"{config.get('strategy')} on {spec.space.name}: {result.evaluated} evaluated, "
                          f"HV {result.hypervolume:.4f}")


def format_result(result: dict) -> str:
    """Terminal summary of any strategy's result document (DNAS's most likely + samples, or a Pareto set)."""
    lines = []
    best = result.get("most_likely")
    if best:
        sel = result.get("selected")
        if sel and sel["arch"] != best["arch"]:
            lines.append(f"selected:    {sel['arch']}  latency {sel['latency_ms']:.4g} ms  "
                         f"memory {sel['memory_bytes'] / 1024:.1f} KiB  {sel['flops'] / 1e6:.3g} MFLOPs  "
                         f"(most likely within the budget band)")
        lines.append(f"most likely: {best['arch']}  latency {best['latency_ms']:.4g} ms  "
                     f"memory {best['memory_bytes'] / 1024:.1f} KiB  {best['flops'] / 1e6:.3g} MFLOPs")
        lines += [f"sample:      {s['arch']}  latency {s['latency_ms']:.4g} ms  p={s['probability']:.3g}"
                  for s in result.get("samples", [])]
    if "pareto" in result:
        lines.append(f"Pareto set: {len(result['pareto'])} of {result['evaluated']} evaluated architectures, "
                     f"hypervolume {result['hypervolume']:.4f}")
        for r in sorted(result["pareto"], key=lambda r: r["error"]):
            lat = "  ".join(f"{name} {ms:.4g} ms" for name, ms in r["latency_ms"].items())
            lines.append(f"  acc {100 * r['accuracy']:6.2f}%  {lat}  mem {r['memory_bytes'] / 1024:8.1f} KiB  {r['arch']}")
        lines.append(f"evaluated {result['evaluated']} architectures ({result['fresh']} now, "
                     f"{result['evaluated'] - result['fresh']} from the journal)")
        if not result["pareto"]:
            lv = result.get("least_violating")
            lines.append("no evaluated architecture meets the budgets" + (f"; the least violating is {lv['arch']}" if lv else ""))
    return "\n".join(lines)
