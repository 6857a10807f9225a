"""Human-readable views of tables and validation reports: text for the terminal, PNG plots."""
from __future__ import annotations

from typing import List

import numpy as np

from ..tables.table import LatencyTable
from .validate import ValidationReport


def _stats_line(name: str, s) -> str:
    g = s if isinstance(s, dict) else s.__dict__
    return (f"{name:<14} {g['within_10pct']*100:6.1f} {g['within_5pct']*100:6.1f} {g['mape_pct']:6.2f} "
            f"{g['bias_pct']:+7.2f} {g['max_abs_pct']:7.2f} {g['rank_corr']:6.3f}")


def format_validation(report) -> str:
    """Table of error statistics: calibrated, uncalibrated, plain sum, and the machine's own noise."""
    r = report if isinstance(report, dict) else report.to_json()
    lines = [f"held-out networks: {r['n']} (seed {r['seed']}), each measured twice in interleaved passes",
             f"{'predictor':<14} {'±10%':>6} {'±5%':>6} {'MAPE':>6} {'bias%':>7} {'max%':>7} {'rho':>6}"]
    lines += [_stats_line("calibrated", r["calibrated"])]
    if r.get("split_half"):
        lines.append(_stats_line("split-half fit", r["split_half"]))
    lines += [_stats_line("op sum", r["uncalibrated"]),
              _stats_line("plain sum", r["plain_sum"]), _stats_line("noise (pass2/1)", r["noise"])]
    if r.get("noise_raw"):
        lines += ["unpaired medians (the machine's drift, not scaled to the reference):",
                  _stats_line("calibrated", r["calibrated_raw"]), _stats_line("noise (pass2/1)", r["noise_raw"])]
    return "\n".join(lines)


def _device_name(dev: dict) -> str:
    """A GPU's name, a device's model / SoC / CPU, or the host CPU, with the transport of a remote device."""
    name = dev.get("gpu") or " / ".join(x for x in (dev.get("model"), dev.get("soc"), dev.get("cpu")) if x) \
        or dev.get("name", "?")
    return f"{name} via {dev['transport']}" if dev.get("transport") else name


def _unstable(table: LatencyTable) -> str:
    """How many entries kept a wide spread, and how many of those have an imprecise median too."""
    limit = float(table.header.get("protocol", {}).get("max_median_error", 0.01))
    wide = [e.timing for e in table.entries.values() if not e.timing.stable]
    imprecise = sum(t.median_error is None or t.median_error > limit for t in wide)
    return f"{len(wide)} unstable, of which {imprecise} with a median error above {100 * limit:g} %"


def format_table_summary(table: LatencyTable, entries: bool = False) -> str:
    h = table.header
    rt, dev = h["runtime"], h["device"]
    lines = [f"space     {h['space']['name']} (fingerprint {h['space']['fingerprint']})",
             f"backend   {h['backend']}: {rt.get('runtime')} {rt.get('version')}, threads {rt.get('threads')}, "
             f"precision {h['precision']}, batch {h['batch']}",
             f"device    {_device_name(dev)}, {dev.get('cores', '?')} cores, {dev.get('os', dev.get('uname', ''))}",
             f"schema    {h['schema_version']} (edgenas {h['edgenas_version']}), created {h['created']}",
             f"entries   {len(table.entries)} ({_unstable(table)})"]
    for label, key in (("where", "where"), ("timed", "timed"), ("overhead", "overhead_model")):
        if rt.get(key):
            lines.insert(3, f"{label:<9} {rt[key]}")
    if table.calibration and table.calibration.coef:
        c = table.calibration
        lines.append(f"calibration measured ≈ {c.describe()} "
                     f"({len(c.points)} networks)")
    if table.in_network:
        n = table.in_network
        base_ms = float(np.median(n.base_ms)) if n.base_ms else float("nan")
        lines.append(f"op latency read in a network: {len(n.probes)} probes of base {n.base} "
                     f"({base_ms:.4g} ms, median of {len(n.base_ms)} readings)")
    else:
        lines.append(f"op latency {table.op_latency}: each op timed as a model of its own")
    choice = h.get("op_latency_choice")
    if choice:
        alone = choice["alone_fit_error_pct"]
        against = (f"against {alone:.1f} % error of the ops alone on the calibration networks; probes kept up to "
                   f"{choice['margin']:g}x that" if alone is not None
                   else "too few calibration networks to estimate the ops alone's error: probes kept")
        lines.append(f"  (auto: {len(choice['base_readings_ms'])} readings of the base put the probes' noise at "
                     f"{choice['probe_noise_pct']:.1f} % of a typical network, {against})")
    if table.reference:
        lines.append(f"reference {table.reference['arch']}: {table.unit_ms:.4g} ms when profiled; every timing "
                     f"paired with it and scaled to that")
    if table.stats:
        phases = table.stats.get("last_run_phases_s") or {}
        split = f" ({', '.join(f'{k} {v:.1f} s' for k, v in phases.items())})" if phases else ""
        lines.append(f"profiling {table.stats.get('last_run_wall_s', 0):.1f} s wall{split}, "
                     f"{table.stats.get('last_run_timed_s', 0):.1f} s in timed runs (last run)")
    if table.validation:
        lines += ["", format_validation(table.validation)]
    if entries:
        lines += ["", f"{'latency ms':>11} {'median':>9} {'spread':>7} {'runs':>6} {'MFLOPs':>8} {'params KB':>9}  op"]
        for k, e in table.entries.items():
            lines.append(f"{e.latency_ms:11.4f} {e.timing.median_ms:9.4f} {e.timing.spread:7.3f} {e.timing.runs:6d} "
                         f"{e.cost.flops/1e6:8.2f} {e.cost.param_bytes/1024:9.1f}  {k}"
                         + ("" if e.timing.stable else f"  UNSTABLE (median error {e.timing.median_error or 0:.1%})"))
    return "\n".join(lines)


def format_table_diff(a: LatencyTable, b: LatencyTable) -> str:
    """Header fields that differ, then latency ratios b/a over the entries both hold."""
    lines: List[str] = []
    for k in ("space", "backend", "runtime", "device", "precision", "batch", "protocol"):
        if a.header.get(k) != b.header.get(k):
            if isinstance(a.header.get(k), dict) and isinstance(b.header.get(k), dict):
                for sub in sorted(set(a.header[k]) | set(b.header[k])):
                    if a.header[k].get(sub) != b.header[k].get(sub) and sub != "declaration":
                        lines.append(f"{k}.{sub}: {a.header[k].get(sub)!r} -> {b.header[k].get(sub)!r}")
            else:
                lines.append(f"{k}: {a.header.get(k)!r} -> {b.header.get(k)!r}")
    common = [k for k in a.entries if k in b.entries]
    only_a, only_b = len(a.entries) - len(common), len(b.entries) - len(common)
    lines.append(f"entries: {len(common)} in both, {only_a} only in the first, {only_b} only in the second")
    ratios = np.array([b.entries[k].timing.median_ms / a.entries[k].timing.median_ms for k in common
                       if a.entries[k].timing.median_ms > 0])
    if ratios.size:
        q = np.percentile(ratios, [10, 50, 90])
        lines.append(f"latency ratio second/first: median {q[1]:.3f} (p10 {q[0]:.3f}, p90 {q[2]:.3f})")
        worst = sorted(common, key=lambda k: -abs(np.log(max(b.entries[k].timing.median_ms, 1e-9) /
                                                         max(a.entries[k].timing.median_ms, 1e-9))))[:5]
        for k in worst:
            lines.append(f"  {a.entries[k].timing.median_ms:9.4f} -> {b.entries[k].timing.median_ms:9.4f} ms  {k}")
    return "\n".join(lines)


def plot_validation(report, path, title: str = "") -> None:
    """Scatter of predicted against measured latency with the ±10 % band, written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..fileio import atomic_write_figure

    r = report if isinstance(report, dict) else report.to_json()
    fig, ax = plt.subplots(figsize=(5.5, 5), dpi=120)
    m = r["measured_ms"]
    lo, hi = min(m + r["predicted_ms"]) * 0.85, max(m + r["predicted_ms"]) * 1.15
    ax.fill_between([lo, hi], [lo * 0.9, hi * 0.9], [lo * 1.1, hi * 1.1], color="0.9", label="±10 %")
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    ax.scatter(m, r["plain_sum_ms"], s=14, marker="x", c="tab:gray", label="plain per-op sum")
    ax.scatter(m, r["predicted_ms"], s=18, c="tab:blue",
               label=f"table prediction ({r['calibrated']['within_10pct']*100:.0f} % within ±10 %)")
    ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel="measured end to end (ms)", ylabel="predicted (ms)",
           title=title or "latency table fidelity")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    atomic_write_figure(path, fig, dpi=100)


__all__ = ["format_validation", "format_table_summary", "format_table_diff", "plot_validation",
           "ValidationReport"]
