"""benchmarks/lemonade_effort.py on a small LEMONADE run: every trained child counted once, in the quarter of the
budget its predicted latency falls in; a folder that is not a LEMONADE search is refused in one line."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from edgenas.search.setup import search

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "lemonade_effort.py"
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def effort_module():
    spec = importlib.util.spec_from_file_location("lemonade_effort", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_children_counted_by_quarter_of_the_budget(effort_module, tmp_path, tiny28_table, tiny28_budget,
                                                   tiny28_cost):
    run = tmp_path / "run"
    doc = search("lemonade", [tiny28_table], run, dataset="digits", max_latency_ms=[tiny28_budget],
                 config={"generations": 2, "proposals": 4, "accepted": 2, "epochs": 1, "start_epochs": 1,
                         "batch_size": 64, "max_batches": 4, "threads": 1}, plot=False)
    row = effort_module.effort("small", run)
    children = [c for g in doc["history"] for c in g["trained"]]
    assert row["trained"] == len(children) == doc["evaluated"] - 1   # the start network is not a child
    assert sum(row["per_quarter"]) == row["trained"]
    shares = [float(tiny28_cost.predict(tiny28_cost.space.parse(c["arch"])).latency_ms[0]) / tiny28_budget
              for c in children]
    assert row["per_quarter"][0] == sum(s < 0.25 for s in shares)   # np.histogram: [0, 0.25)
    assert 0 < row["reach"] <= 1.0
    assert "| small | " in effort_module.markdown([row])


def test_a_folder_without_a_search_is_refused(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), f"x={tmp_path}"], capture_output=True, text=True,
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2 and "error:" in proc.stderr and "Traceback" not in proc.stderr
