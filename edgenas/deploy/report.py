"""The deployment report: Markdown and a PNG, from the ``deploy.json`` document of :mod:`edgenas.deploy.pipeline`.

Per exported model: trained accuracy, the table's predicted latency and
memory, the latency measured by the table's own backend and the prediction error;
the formats that backend cannot time, and why.
The figure puts the exported models (predicted and measured latency) and the
MobileNetV2 baselines (measured) on the same axes, beside the search's Pareto
set as the search saw it (predicted latency, the search's accuracy estimate).
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import numpy as np

from ..fileio import PathLike, atomic_write_bytes, atomic_write_figure
from ..profiling.measure import STATE_TOLERANCE, in_profile_state

__all__ = ["prediction_stats", "versus_baselines", "format_markdown", "plot_deployment", "write_report"]

WITHIN = 10.0  # per cent


def _error_stats(errs: np.ndarray) -> dict:
    if not len(errs):
        return {"n": 0, "within_10pct": None, "mape_pct": None, "bias_pct": None, "max_abs_pct": None}
    return {"n": int(len(errs)), "within_10pct": float(np.mean(np.abs(errs) <= WITHIN)),
            "mape_pct": float(np.mean(np.abs(errs))), "bias_pct": float(np.mean(errs)),
            "max_abs_pct": float(np.max(np.abs(errs)))}


def prediction_stats(models: List[dict]) -> dict:
    """How the table's predictions held after export: share within ±10 %, mean absolute and signed error.

    Models without an ``error_pct`` (baselines; every model when the table's backend could not measure here)
    are left out. ``op_sum`` scores
    the uncalibrated prediction (the overhead-corrected sum of the ops) the same way, to show what the
    whole-network calibration adds. ``control_adjusted`` scores the predictions moved by the change of
    the control networks measured beside each model (:mod:`edgenas.deploy.controls`): the table's own part of
    the error, apart from the machine's.
    """
    from .controls import adjusted_error_pct

    scored = [m for m in models if m.get("error_pct") is not None]
    errs = np.array([m["error_pct"] for m in scored], dtype=np.float64)
    raw = np.array([100 * (m["predicted"]["op_sum_ms"] - m["measured"]["latency_ms"]) / m["measured"]["latency_ms"]
                    for m in scored if (m.get("predicted") or {}).get("op_sum_ms")], dtype=np.float64)
    adjusted = np.array([adjusted_error_pct(m["predicted"]["latency_ms"], m["measured"]["latency_ms"],
                                            m["measured"]["controls"]["change_pct"])
                         for m in scored if m["measured"].get("controls")], dtype=np.float64)
    return {**_error_stats(errs), "op_sum": _error_stats(raw), "control_adjusted": _error_stats(adjusted)}


def _measured(m: dict) -> bool:
    return (m.get("measured") or {}).get("latency_ms") is not None


def versus_baselines(models: List[dict], baselines: List[dict]) -> List[dict]:
    """For each baseline: the fastest exported model at least as accurate, and its measured speed-up.

    ``dominated`` is true when that model is also strictly faster. A baseline
    more accurate than every exported model has no match (``None``). Without measurements (the table's backend
    cannot run here) there is nothing to compare: no rows.
    """
    rows = []
    for b in filter(_measured, baselines):
        b_ms = b["measured"]["latency_ms"]
        ok = [m for m in filter(_measured, models) if m["accuracy"] >= b["accuracy"]]
        best = min(ok, key=lambda m: m["measured"]["latency_ms"]) if ok else None
        row = {"baseline": b["id"], "accuracy": b["accuracy"], "latency_ms": b_ms, "match": None,
               "match_accuracy": None, "match_latency_ms": None, "speedup": None, "dominated": False}
        if best:
            ms = best["measured"]["latency_ms"]
            row.update(match=best["id"], match_accuracy=best["accuracy"], match_latency_ms=ms,
                       speedup=b_ms / ms, dominated=ms < b_ms)
        rows.append(row)
    return rows


def _fmt(v, spec: str, none: str = "–") -> str:
    return none if v is None else format(v, spec)


def format_markdown(doc: dict, png_name: Optional[str] = "report.png") -> str:
    """The report as Markdown."""
    dev = doc.get("device") or {}
    lines = [f"# Deployment report: {doc['run']}", "",
             f"- search: {doc['strategy']} on space `{doc['space']}`, dataset `{doc['dataset']}`",
             f"- table: `{doc['table']}` ({doc['table_backend']}; device: {dev.get('cpu', dev.get('name', '?'))}, "
             f"{dev.get('cores', '?')} cores)",
             f"- measured: {doc['measured_as']}",
             f"- final training: {doc['train']['epochs']} epochs, batch {doc['train']['batch_size']}, lr "
             f"{doc['train']['lr']}, init {doc['init']}; formats: {', '.join(doc['formats'])}", ""]
    if png_name:
        lines += [f"![accuracy against latency]({png_name})", ""]
    lines += ["## Exported models", "",
              "| id | accuracy | predicted ms | memory KiB | measured ms | error | machine | ExecuTorch ms "
              "| ONNX max abs diff | architecture |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for m in doc["models"]:
        pred, meas = m.get("predicted") or {}, m.get("measured") or {}
        diff = max((p["max_abs_diff"] for p in m["formats"]["onnx"]["parity"]), default=None)
        machine = (meas.get("controls") or {}).get("change_pct")
        lines.append(f"| {m['id']} | {100 * m['accuracy']:.2f} % | {_fmt(pred.get('latency_ms'), '.4f')} | "
                     f"{_fmt((pred.get('memory_bytes') or 0) / 1024, '.1f')} | {_fmt(meas.get('latency_ms'), '.4f')} | "
                     f"{_fmt(m.get('error_pct'), '+.1f')} % | {_fmt(machine, '+.1f')} % | "
                     f"{_fmt(meas.get('executorch_ms'), '.4f')} | "
                     f"{_fmt(diff, '.2g')} | `{m['arch']}` |")
    st = doc["prediction"]
    if st["n"]:
        lines += ["", f"Prediction after export: {100 * st['within_10pct']:.0f} % of {st['n']} models within "
                      f"±{WITHIN:g} % (mean absolute error {st['mape_pct']:.1f} %, bias {st['bias_pct']:+.1f} %, "
                      f"worst {st['max_abs_pct']:.1f} %)."]
        raw = st.get("op_sum") or {}
        if raw.get("n"):
            lines[-1] += (f" Without the table's whole-network calibration (the plain op sum): "
                          f"{100 * raw['within_10pct']:.0f} % within ±{WITHIN:g} %, mean absolute error "
                          f"{raw['mape_pct']:.1f} %, bias {raw['bias_pct']:+.1f} %.")
    adj = st.get("control_adjusted") or {}
    if adj.get("n"):
        controls = [m["measured"]["controls"] for m in doc["models"] if (m.get("measured") or {}).get("controls")]
        changes = [c["change_pct"] for c in controls]
        lines += ["", f"Control networks ({len(controls[0]['networks'])} of the table's calibration networks, fastest "
                      f"to slowest, measured again "
                      f"right after each model): {min(changes):+.1f} … {max(changes):+.1f} % against the profile "
                      f"(column *machine*). About that much of each error is the machine's move since the profile, "
                      f"not the table's. Adjusted for it: {100 * adj['within_10pct']:.0f} % within ±{WITHIN:g} %, "
                      f"mean absolute error {adj['mape_pct']:.1f} %, bias {adj['bias_pct']:+.1f} %."]
    states = [(m["id"], m["measured"]["timing"]["state"]) for m in doc["models"] + doc["baselines"]
              if ((m.get("measured") or {}).get("timing") or {}).get("state")]
    if states:
        other = [f"{i} (reference ×{st['reference_ratio']:.2f} after {st['tries']} tries)" for i, st in states
                 if not in_profile_state(st["reference_ratio"])]
        retaken = sum(st["tries"] > 1 for _, st in states)
        lines += ["", f"Machine state: {retaken} of {len(states)} measurements were retaken because the reference "
                      f"network ran more than {100 * STATE_TOLERANCE:.0f} % off its speed during the profile"
                      + (f"; still off: {', '.join(other)} — their errors mix the machine's change of state with "
                         f"the table's." if other else ".")]
    if doc.get("not_measured"):
        lines += ["", f"Prediction error not computed: the models were not measured, since the table's backend "
                      f"{doc.get('table_backend')!r} cannot run here; they are never timed by another backend, "
                      f"whose timings the table does not predict."]
    for name, why in (doc.get("formats_not_timed") or {}).items():
        lines += ["", f"Format {name} not timed: {why}."]
    if doc["versus_baselines"]:  # measured baselines only
        lines += ["", "## MobileNetV2 baselines (same data and training recipe)", "",
                  "| baseline | params | accuracy | measured ms | fastest searched model at ≥ its accuracy | "
                  "its ms | speed-up |", "|---|---:|---:|---:|---|---:|---:|"]
        params = {b["id"]: b["params"] for b in doc["baselines"]}
        for r in doc["versus_baselines"]:
            lines.append(f"| {r['baseline']} | {params[r['baseline']]:,} | {100 * r['accuracy']:.2f} % | "
                         f"{r['latency_ms']:.4f} | {r['match'] or 'none'} | {_fmt(r['match_latency_ms'], '.4f')} | "
                         f"{_fmt(r['speedup'], '.2f')}{'x' if r['speedup'] else ''} |")
        dom = sum(r["dominated"] for r in doc["versus_baselines"])
        lines += ["", f"The searched models dominate {dom} of {len(doc['versus_baselines'])} baselines "
                      f"(a faster model at equal or better accuracy)."]
    return "\n".join(lines) + "\n"


def plot_deployment(doc: dict, path: PathLike) -> None:
    """Left: accuracy against latency of the exported models (predicted → measured) and the baselines.
    Right: the search's Pareto set as the search saw it (predicted latency, its accuracy estimate)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.6), gridspec_kw={"width_ratios": [3, 2]})
    ms = [m for m in doc["models"] if _measured(m)]
    if ms:
        pred = np.array([(m.get("predicted") or {}).get("latency_ms", np.nan) for m in ms], dtype=float)
        meas = np.array([m["measured"]["latency_ms"] for m in ms])
        acc = np.array([100 * m["accuracy"] for m in ms])
        ax.scatter(pred, acc, s=40, facecolors="none", edgecolors="tab:red", label="searched: table's prediction")
        ax.scatter(meas, acc, s=40, c="tab:red", label="searched: measured")
        for p, q, a in zip(pred, meas, acc):
            ax.plot([p, q], [a, a], c="tab:red", lw=0.8, alpha=0.6)
        for m, q, a in zip(ms, meas, acc):
            ax.annotate(m["id"], (q, a), textcoords="offset points", xytext=(4, 4), fontsize=7)
    bs = [b for b in doc["baselines"] if _measured(b)]
    if bs:
        bl = np.array([b["measured"]["latency_ms"] for b in bs])
        ba = np.array([100 * b["accuracy"] for b in bs])
        o = np.argsort(bl)
        ax.plot(bl[o], ba[o], "^-", c="tab:blue", label="MobileNetV2 widths: measured")
        for b, x, y in zip(bs, bl, ba):
            ax.annotate(f"×{b['width']:g}", (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set_xlabel("latency, batch 1 (ms)")
    ax.set_ylabel("top-1 test accuracy after final training (%)")
    ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter, LogLocator

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_locator(LogLocator(subs=(2, 5)))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.grid(alpha=0.3, which="both")
    if ms or bs:  # nothing measured (the table's backend cannot run here): no legend to draw
        ax.legend(fontsize=7, loc="lower right")
    ax.set_title(f"exported: {doc['measured_as']}", fontsize=8)
    front = [r for r in doc.get("search_pareto", []) if r.get("estimated_accuracy") is not None
             and r.get("latency_ms") is not None]
    if front:
        fl = np.array([r["latency_ms"] for r in front])
        fa = np.array([100 * r["estimated_accuracy"] for r in front])
        o = np.argsort(fl)
        ax2.step(fl[o], fa[o], where="post", c="0.5", lw=1)
        ax2.scatter(fl, fa, s=14, c="0.4")
        exported = {m["id"] for m in ms}
        for r, x, y in zip(front, fl, fa):
            if r["id"] in exported:
                ax2.annotate(r["id"], (x, y), textcoords="offset points", xytext=(3, 3), fontsize=7, color="tab:red")
    ax2.set_xlabel("predicted latency (ms)")
    ax2.set_ylabel("accuracy estimated by the search (%)")
    ax2.grid(alpha=0.3)
    ax2.set_title("the search's Pareto set", fontsize=8)
    fig.suptitle(f"{doc['strategy']} on {doc['space']} / {doc['dataset']}", fontsize=10)
    fig.tight_layout()
    atomic_write_figure(path, fig)


def write_report(doc: dict, out: PathLike) -> None:
    """``report.md`` and ``report.png`` in ``out`` (atomic writes)."""
    out = Path(out)
    plot_deployment(doc, out / "report.png")
    atomic_write_bytes(out / "report.md", format_markdown(doc).encode())
