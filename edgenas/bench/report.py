"""A benchmark for people: a text summary (progress, noise, ceiling, surrogate) and a plot."""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import List

import numpy as np

from ..fileio import PathLike, atomic_write_figure
from .benchfile import Benchmark
from .measure import measured_vs_predicted
from .stats import noise_ceiling, perfect_estimator_ceiling, signal_to_noise, surrogate_cv

MIN_FOR_SURROGATE = 20


def summary(bench: Benchmark, with_surrogate: bool = True, trees: int = 400) -> List[str]:
    h = bench.header
    planned = sum(len(r.seeds) for r in bench.records)
    runs = sum(len(r.runs) for r in bench.records)
    r = h["recipe"]
    lines = [f"benchmark of {h['space']['name']} on {r['dataset']}: {len(bench.trained())} of {len(bench.records)} "
             f"architectures trained, {runs} of {planned} trainings",
             f"recipe {h['recipe_fingerprint']}: {r['train_images']} training / {r['val_images']} validation / "
             f"{h['split']['test']} test images, {r['epochs']} epochs, batch {r['batch_size']}, SGD lr {r['lr']} "
             f"cosine, shift ±{r['shift']} px, {r['threads']} thread",
             f"machine: {h['machine'].get('cpu')}; edgenas {h['versions']['edgenas']}, torch {h['versions']['torch']}"]
    cpus = Counter(run.get("cpu", h["machine"].get("cpu")) for rec in bench.records for run in rec.runs.values())
    if len(cpus) > 1:   # another CPU model trains to other floats: say where each training ran
        lines.append("trained on: " + ", ".join(f"{cpu} ({n})" for cpu, n in cpus.most_common()))
    for stratum in (None, "uniform"):
        s = signal_to_noise(bench, "test_acc", stratum)
        if s["architectures"] > 1:
            lines.append(f"{'all strata' if stratum is None else stratum + ' only':>12}: seed noise {100 * s['seed_noise']:.2f} "
                         f"points ({s['multi_seed']} archs with several seeds), spread between architectures "
                         f"{100 * s['spread']:.2f} points ({s['architectures']} archs), ratio {s['ratio']:.2f}")
    for table in sorted({t for r in bench.records for t in r.measured}):
        m = measured_vs_predicted(bench, table)
        lines.append(f"measured latency ({table}): {m['networks']} networks, prediction within ±10 % for "
                     f"{100 * m['within_10pct']:.0f} %, MAPE {100 * m['mape']:.1f} %, median error "
                     f"{100 * m['median_error']:+.1f} %")
    ceiling = noise_ceiling(bench)
    if not np.isnan(ceiling):
        lines.append(f"seed-to-seed Kendall τ (the ceiling for ranking against one training): {ceiling:.3f}")
        lines.append(f"a perfect estimator against these means (seed noise simulated): Kendall τ at most "
                     f"{perfect_estimator_ceiling(bench):.3f}")
    if with_surrogate and len(bench.trained()) >= MIN_FOR_SURROGATE:
        cv = surrogate_cv(bench, trees=trees)
        lines.append(f"surrogate (5 × {trees} boosted trees), 5-fold held out ({cv['n']} archs): Kendall τ {cv['kendall_tau']:.3f}, Spearman "
                     f"{cv['spearman']:.3f}, MAE {100 * cv['mae']:.2f} points, top-10 % precision "
                     f"{cv['top_precision']:.2f}; against one seed's training τ {cv['kendall_tau_one_seed']:.3f} "
                     f"(the seed-to-seed ceiling above)")
    return lines


def plot(bench: Benchmark, out: PathLike, table: str = "") -> Path:
    """Test accuracy against predicted latency (first table), one colour per stratum, seed spread as bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = table or (bench.header["sample"]["tables"] or [""])[-1]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for stratum, colour in (("uniform", "tab:blue"), ("fast", "tab:orange"), ("slow", "tab:green"),
                            ("extreme", "tab:red")):
        recs = [r for r in bench.trained() if r.stratum == stratum]
        if not recs:
            continue
        lat = [r.features["latency_ms"].get(table, np.nan) for r in recs]
        acc = [100 * r.mean("test_acc") for r in recs]
        err = [100 * np.std([x["test_acc"] for x in r.runs.values()]) if len(r.runs) > 1 else 0 for r in recs]
        ax.errorbar(lat, acc, yerr=err, fmt="o", ms=3, color=colour, alpha=0.7, elinewidth=0.8, label=stratum)
    ax.set_xlabel(f"predicted latency (ms), {table}")
    ax.set_ylabel("test accuracy (%), mean over seeds")
    ax.set_title(f"{bench.header['space']['name']} benchmark: {len(bench.trained())} trained architectures")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    atomic_write_figure(out, fig, dpi=120)
    return Path(out)
