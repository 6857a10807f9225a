"""Where a LEMONADE search spent its training: the networks it trained, by share of the latency budget.

    PYTHONPATH=. python benchmarks/lemonade_effort.py [NAME=]RUN [[NAME=]RUN ...] [--json OUT.json]

RUN is a finished search's run folder (shown as NAME where one is given), read as ``edgenas export`` reads it
(its table found and checked by digest). For each run: networks trained (the start network not counted), how many
fell in each quarter of the budget (predicted latency over the budget), how far the result's front (what
``edgenas export`` takes) reaches, and the best validation accuracy in the top quarter. Prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np

from edgenas.deploy.source import load_search_source
from edgenas.errors import EdgeNASError, RunError
from edgenas.search.result import read_result
from edgenas.tables.cost import CostModel
from edgenas.tables.table import LatencyTable

QUARTERS = (0.0, 0.25, 0.5, 0.75, 1.0)


def effort(name: str, run: Path) -> dict:
    source = load_search_source(run)
    if source.strategy != "lemonade":
        raise RunError(f"{run} is a {source.strategy} search, not lemonade")
    result = read_result(run)
    target = result["settings"]["tables"][0]
    space = source.space
    cost = CostModel(space, LatencyTable.load(source.table, space))
    budget = target["max_latency_ms"]
    trained = [c for row in result["history"] for c in row["trained"]]
    share = cost.predict([space.parse(c["arch"]) for c in trained]).latency_ms / budget
    acc = np.array([c["val_acc"] for c in trained])
    top = share > QUARTERS[-2]
    return {"run": name, "folder": str(run), "trained": len(trained),
            "generations": result["history"][-1]["generation"],
            "per_quarter": np.histogram(share, QUARTERS)[0].tolist(),
            "reach": max(c.predicted["latency_ms"] for c in source.pareto) / budget,
            "best_val_acc_top_quarter": float(acc[top].max()) if top.any() else None}


def markdown(rows) -> str:
    out = ["| run | trained | generations | trained per quarter of the budget | front reaches | "
           "best validation accuracy, top quarter |", "| --- | ---: | ---: | --- | ---: | ---: |"]
    for r in rows:
        top = r["best_val_acc_top_quarter"]
        best = "none trained" if top is None else f"{100 * top:.1f} %"
        out.append(f"| {r['run']} | {r['trained']} | {r['generations']} | {' / '.join(map(str, r['per_quarter']))} "
                   f"| {100 * r['reach']:.0f} % | {best} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", metavar="[NAME=]RUN")
    ap.add_argument("--json", type=Path, help="Also write the rows (and this command) here.")
    args = ap.parse_args()
    try:
        rows = [effort(name or run, Path(run)) for name, _, run in (a.rpartition("=") for a in args.runs)]
    except EdgeNASError as e:
        ap.error(str(e))
    print(markdown(rows))
    if args.json:
        command = shlex.join(["benchmarks/lemonade_effort.py", *sys.argv[1:]])
        args.json.write_text(json.dumps({"command": command, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
