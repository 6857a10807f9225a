"""Measure a deployment's exported models again, as ``edgenas export`` does, without training them again.

Copies the run folder of ``deploy_vs_baseline.py`` (``--run``: its ``search/`` and ``deploy/``), drops each
searched model's stored measurement, and runs the export on the copy: training and exports resume from
their files, so only the measurements are taken again — each model with the table's control networks
beside it (:mod:`edgenas.deploy.controls`). Prints each model's error and the control change, and writes the
deployment document to ``--json``.

    PYTHONPATH=. python benchmarks/remeasure_deploy.py --run runs/bench-deploy-distill \\
        --table latency_tables/fbnet-small.onnxruntime.cpu1.json
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgenas.deploy.pipeline import ExportOptions, deploy_models  # noqa: E402
from edgenas.fileio import atomic_write_json  # noqa: E402
from profilers.base import host_device_info  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, help="run folder of deploy_vs_baseline.py (holds search/ and deploy/)")
    ap.add_argument("--table", required=True)
    ap.add_argument("--copy", help="where to copy the run folder (default: RUN-remeasure)")
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "deploy_remeasure.json"))
    args = ap.parse_args()

    run = Path(args.run)
    copy = Path(args.copy or f"{run}-remeasure")
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(run, copy)
    before = json.loads((run / "deploy" / "deploy.json").read_text())
    for manifest in (copy / "deploy" / "models").glob("*/export.json"):
        m = json.loads(manifest.read_text())
        m.pop("measured", None)
        atomic_write_json(manifest, m)
    doc = deploy_models(ExportOptions(run=str(copy / "search"), out=str(copy / "deploy"), table=args.table,
                                      max_models=len(before["models"]), epochs=before["train"]["epochs"],
                                      batch_size=before["train"]["batch_size"], lr=before["train"]["lr"],
                                      seed=before["train"]["seed"], init=before["init"], formats=("onnx",)))
    for m in doc["models"]:
        print(f"{m['id']:>4}  error {m['error_pct']:+6.1f} %  machine {m['measured']['controls']['change_pct']:+5.1f} %"
              f"  {m['arch']}")
    st, adj = doc["prediction"], doc["prediction"]["control_adjusted"]
    print(f"within ±10 %: {st['within_10pct']:.0%} of {st['n']} (MAPE {st['mape_pct']:.1f} %); adjusted for the "
          f"controls: {adj['within_10pct']:.0%} (MAPE {adj['mape_pct']:.1f} %)")
    atomic_write_json(args.json, {"command": " ".join(sys.argv), "machine": host_device_info(1), **doc})


if __name__ == "__main__":
    main()
