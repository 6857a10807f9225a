"""SIGKILL campaign (issue 18): kill every kind of job at random moments, resume it, compare with an uninterrupted run.

    PYTHONPATH=. python benchmarks/sigkill_campaign.py --out /tmp/sigkill [--kills 10] [--cases nsga2,dnas] [--seed 0]

For each case (a profile, every search strategy, supernet training, final training, export, all at small
settings on fbnet-small and the digits dataset) the command runs once uninterrupted, then ``--kills`` times in a
fresh folder: killed with SIGKILL at a random moment between its first write and the uninterrupted run's end,
then rerun with the same command to the end (a resume); a run that got past its moment (it ran faster this time)
is not a kill: another moment is drawn, before that run's end, until ``--kills`` land (at most 5 × as many
runs). Each resumed run is compared with the uninterrupted one:

- ``identical``: every result file equal — JSON after dropping what records when or how long (``written``,
  ``created``, durations: keys ending in ``_s`` or holding ``_s_``, ``overhead_ms_per_evaluation``) and how the
  run got there (``fresh``: evaluated now rather than read from the journal), weights tensor by tensor (bit for bit), ONNX files byte for
  byte (in a ``.pt`` file the same keys as in JSON are dropped beside the tensors: a NASH member records its
  training seconds). Checkpoints and journals are how a run resumes, not what it produced, and are not compared (a
  checkpoint also holds the unseeded process-wide Python and numpy generator states, which no run uses);
- where the work measures time (a profile, export's latency figures) equal results are not expected: the
  profile is checked for completeness and equal structure (the same ops, costs, probes and number of calibration
  networks), export for identical weights and ONNX files.

Orphans: every process below the killed command (noted ten times a second while it ran) must be gone
``ORPHAN_WAIT_S`` after the kill, and every process below a finished command once it has exited; those left are
counted, named, and then killed by this script (they are its own descendants). Writes ``campaign.json`` and a
Markdown table under ``--out``.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

import torch

from edgenas.lifeline import descendants, process_table

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "latency_tables" / "fbnet-small.onnxruntime.cpu1.json"
ORPHAN_WAIT_S = 5.0
VOLATILE = {"written", "created", "updated", "fresh",  # when, and how much came from the journal
            "overhead_ms_per_evaluation"}  # a strategy's own time per evaluation (BANANAS, Neural Architect)
ARCH = "k3_e1-k5_e1-k5_e1_g2-skip-skip-k3_e3-skip-k3_e1"


def edgenas(*args) -> List[str]:
    return [sys.executable, "-m", "cli", *map(str, args)]


def search(strategy: str, *args) -> Callable[[Path], List[str]]:
    return lambda out: edgenas("search", strategy, "--table", TABLE, "--max-latency", "0.06ms", "--out", out,
                               "--quiet", "--no-plot", *args)


BENCH = ("--estimator", "bench")
TRAINING = ("--dataset", "digits", "--max-batches", "4", "--batch-size", "32", "--threads", "1")


@dataclass
class Case:
    name: str
    command: Callable[[Path], List[str]]  # argv for the run folder
    deterministic: bool = True
    note: str = ""
    needs: Optional[str] = None  # a case whose uninterrupted run folder this one reads ("{needs}")


CASES = [
    Case("profile", lambda out: edgenas("profile", "--space", "fbnet-small", "--backend", "onnxruntime", "--threads", 1,
                                        "--min-time", 0.01, "--min-runs", 5, "--calibration-networks", 4,
                                        "--op-latency", "in-network",  # auto's choice is a measurement too
                                        "-o", out / "table.json", "--quiet"),
         deterministic=False, note="timings are measurements: checked for the same ops, costs, probes and "
                                   "calibration count"),
    Case("nsga2", search("nsga2", *BENCH, "--pop", 12, "--gens", 4, "--ray", "local"),
         note="evaluated on a local Ray cluster"),
    Case("evolution", search("evolution", *BENCH, "--population", 10, "--sample", 3, "--cycles", 30)),
    Case("random", search("random", *BENCH, "--pop", 16, "--gens", 3)),
    Case("rl", search("rl", *BENCH, "--evaluations", 30, "--batch", 4)),
    Case("bananas", search("bananas", *BENCH, "--evaluations", 30, "--initial", 10, "--per-round", 5,
                           "--candidates", 40, "--steps-per-result", 5)),
    Case("neural-architect", search("neural-architect", *BENCH, "--evaluations", 25, "--initial", 10,
                                    "--episodes", 6, "--evaluate-per-round", 3, "--steps-per-result", 5)),
    Case("dnas", search("dnas", *TRAINING, "--epochs", 4, "--warmup-epochs", 1, "--samples", 4)),
    Case("nash", search("nash", *TRAINING, "--epochs", 1, "--start-epochs", 1, "--steps", 2, "--children", 2)),
    Case("lemonade", search("lemonade", *TRAINING, "--epochs", 1, "--start-epochs", 1, "--generations", 2,
                            "--proposals", 4, "--accepted", 2)),
    Case("supernet", lambda out: edgenas("supernet", "train", "--dataset", "digits", "--epochs", 3, "--max-batches", 6,
                                         "--batch-size", 32, "--sandwich", "none", "--out", out, "--quiet")),
    Case("final-training", lambda out: edgenas("train", ARCH, "--dataset", "digits", "--epochs", 3, "--batch-size", 64,
                                               "--threads", 1, "--out", out, "--quiet")),
    Case("export", lambda out: edgenas("export", "{evolution}", "--models", f"{ARCH},{'-'.join(['skip'] * 8)}",
                                       "--dataset", "digits", "--epochs", 1, "--batch-size", 64, "--jobs", 2,
                                       "--out", out, "--quiet"),
         deterministic=False, note="trains two models in worker processes (--jobs 2); latencies are measurements: "
                                   "weights and ONNX files compared", needs="evolution"),
]


# ---------------------------------------------------------------- comparing run folders

def _volatile(key) -> bool:
    return isinstance(key, str) and (key in VOLATILE or key.endswith("_s") or "_s_" in key)


def _strip(x):
    if isinstance(x, dict):
        return {k: _strip(v) for k, v in x.items() if not _volatile(k)}
    if isinstance(x, list):
        return [_strip(v) for v in x]
    return x


def _diff(a, b, path="") -> List[str]:
    """Paths where two JSON values differ (at most a few)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{path}.{k}: only one side" for k in sorted(set(a) ^ set(b))]
        for k in sorted(set(a) & set(b)):
            out += _diff(a[k], b[k], f"{path}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _diff(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {str(a)[:60]} != {str(b)[:60]}"]


def _tensors_equal(a, b) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict) and isinstance(b, dict):  # beside the tensors, the same keys as JSON are dropped
        a, b = ({k: v for k, v in x.items() if not _volatile(k)} for x in (a, b))
        return a.keys() == b.keys() and all(_tensors_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_tensors_equal(x, y) for x, y in zip(a, b))
    return a == b


def _table_shape(path: Path) -> dict:
    """What a profile must produce whatever the machine's timings: its ops and their costs, probes, calibration."""
    t = json.loads(path.read_text())
    net = t.get("in_network") or {}
    return {"entries": sorted((json.dumps(e["key"], sort_keys=True), json.dumps(e["cost"], sort_keys=True))
                              for e in t["entries"]),
            "overheads": len(t["overheads"]), "probes": len(net.get("probes", [])),
            "calibration": len(t["calibration"]["points"]), "fitted": bool(t["calibration"]["coef"])}


def compare(case: Case, ref: Path, run: Path) -> List[str]:
    """Differences of ``run`` from ``ref`` (empty: equal as the case requires)."""
    diffs = []
    if case.name == "profile":
        return _diff(_table_shape(ref / "table.json"), _table_shape(run / "table.json"))
    for f in sorted(ref.rglob("*")):
        rel = f.relative_to(ref)
        g = run / rel
        if (f.is_dir() or f.name.startswith(".") or f.name.startswith("checkpoint")
                or f.suffix in (".sqlite", ".png", ".log", ".wal", ".shm")):
            continue
        if not g.exists():
            diffs.append(f"{rel}: missing")
        elif f.suffix == ".json" and case.deterministic:  # a run folder may name itself: read both as "RUN"
            a, b = (json.loads(x.read_text().replace(str(folder), "RUN")) for x, folder in ((f, ref), (g, run)))
            diffs += [f"{rel}{d}" for d in _diff(_strip(a), _strip(b))]
        elif f.suffix in (".pt", ".pth"):
            if not _tensors_equal(torch.load(f, weights_only=True), torch.load(g, weights_only=True)):
                diffs.append(f"{rel}: tensors differ")
        elif f.suffix == ".onnx" and f.read_bytes() != g.read_bytes():
            diffs.append(f"{rel}: bytes differ")
    return diffs


# ---------------------------------------------------------------- running and killing

def _alive(pid: int, start: str) -> bool:
    return process_table().get(pid, (0, None))[1] == start


@dataclass
class Run:
    rc: Optional[int]
    wall_s: float
    first_write_s: Optional[float]
    killed: bool
    orphans: List[str] = field(default_factory=list)


def run(argv: List[str], folder: Path, log: Path, kill_at: Optional[float] = None) -> Run:
    """Run ``argv`` (its output in ``folder``), SIGKILL it ``kill_at`` seconds in; note and clean up orphans."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    with open(log, "a") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    start, seen, first, killed = time.perf_counter(), {}, None, False
    while proc.poll() is None:
        now = time.perf_counter() - start
        seen.update(descendants([proc.pid], process_table()))
        if first is None and folder.exists() and any(folder.iterdir()):
            first = now
        if kill_at is not None and now >= kill_at:
            os.kill(proc.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.1)
    proc.wait()
    wall = time.perf_counter() - start
    deadline = time.monotonic() + ORPHAN_WAIT_S
    left = [p for p, s in seen.items() if _alive(p, s)]
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = [p for p, s in seen.items() if _alive(p, s)]
    orphans = []
    for pid in left:
        try:
            orphans.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:100].strip())
            os.kill(pid, signal.SIGKILL)  # our own descendant, left behind
        except (OSError, ProcessLookupError):
            pass
    return Run(None if killed else proc.returncode, wall, first, killed, orphans)


def argv_for(case: Case, folder: Path, refs: Dict[str, Path]) -> List[str]:
    argv = case.command(folder)
    return [a.format(**{k: str(v) for k, v in refs.items()}) if "{" in a else a for a in argv]


def campaign(out: Path, cases: List[Case], kills: int, seed: int) -> List[dict]:
    rng = random.Random(seed)
    refs: Dict[str, Path] = {}
    rows = []
    for case in cases:
        if case.needs and case.needs not in refs:
            need = next(c for c in CASES if c.name == case.needs)
            refs[need.name] = out / need.name / "ref"
            if not (refs[need.name] / "result.json").exists():
                shutil.rmtree(refs[need.name], ignore_errors=True)
                run(argv_for(need, refs[need.name], refs), refs[need.name], out / f"{need.name}.log")
        home = out / case.name
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        log = home / "log.txt"
        ref = run(argv_for(case, home / "ref", refs), home / "ref", log)
        refs[case.name] = home / "ref"
        row = {"case": case.name, "deterministic": case.deterministic, "note": case.note, "ref_rc": ref.rc,
               "ref_wall_s": round(ref.wall_s, 1), "kills": 0, "missed": 0, "resumed_ok": 0, "equal": 0,
               "orphans": len(ref.orphans), "orphan_names": ref.orphans, "failures": []}
        print(f"{case.name}: uninterrupted {ref.wall_s:.1f} s (first write at {ref.first_write_s}), rc {ref.rc}",
              flush=True)
        if ref.rc != 0:
            row["failures"].append("the uninterrupted run failed; see log.txt")
            rows.append(row)
            continue
        lo, hi = ref.first_write_s or 0.0, ref.wall_s
        attempts = 0
        while row["kills"] < kills and attempts < 5 * kills:
            attempts += 1
            k = row["kills"]
            folder = home / f"kill{k}"
            shutil.rmtree(folder, ignore_errors=True)
            at = rng.uniform(lo, hi)
            first = run(argv_for(case, folder, refs), folder, log, kill_at=at)
            if not first.killed:  # it ran faster this time and got past the moment: draw again, before its end
                row["missed"] += 1
                hi = max(lo, min(hi, first.wall_s))
                continue
            row["kills"] += 1
            row["orphans"] += len(first.orphans)
            row["orphan_names"] += first.orphans
            resumed = run(argv_for(case, folder, refs), folder, log)
            row["orphans"] += len(resumed.orphans)
            row["orphan_names"] += resumed.orphans
            verdict, diffs = f"killed at {at:.1f} s", []
            if resumed.rc != 0:
                row["failures"].append(f"kill {k} ({verdict}): resume exited {resumed.rc}")
            else:
                row["resumed_ok"] += 1
                diffs = compare(case, home / "ref", folder)
                if diffs:
                    row["failures"].append(f"kill {k} ({verdict}): " + "; ".join(diffs[:4]))
                else:
                    row["equal"] += 1
            same = resumed.rc == 0 and not diffs
            print(f"  kill {k}: {verdict}, orphans {len(first.orphans)}+{len(resumed.orphans)}, resume rc "
                  f"{resumed.rc}, {'equal' if same else 'DIFFERENT'}", flush=True)
            if same:
                shutil.rmtree(folder, ignore_errors=True)  # keep only what differs
        if row["kills"] < kills:
            row["failures"].append(f"{row['kills']} of {kills} kills landed in {attempts} runs: it finished before "
                                   f"the other moments drawn")
        rows.append(row)
        (out / "campaign.json").write_text(json.dumps(rows, indent=1))
    return rows


def rescore(out: Path) -> List[dict]:
    """Compare again the kept (differing) folders of the campaign at ``out`` with the current rules."""
    rows = json.loads((out / "campaign.json").read_text())
    for row in rows:
        case = next(c for c in CASES if c.name == row["case"])
        home = out / case.name
        kept = sorted(p for p in home.glob("kill*") if p.is_dir())
        failures = [f for f in row["failures"] if not f.startswith("kill") or ": resume exited" in f
                    or "finished before" in f]  # the comparisons are made again below
        differing = 0
        for folder in kept:
            diffs = compare(case, home / "ref", folder)
            if diffs:
                differing += 1
                failures.append(f"{folder.name}: " + "; ".join(diffs[:4]))
        row["equal"] = row["resumed_ok"] - differing
        row["failures"] = failures
    return rows


def markdown(rows: List[dict]) -> str:
    lines = ["| case | uninterrupted s | kills | resumed | equal | bit-identical expected | orphans | note |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['ref_wall_s']} | {r['kills']} | {r['resumed_ok']} | {r['equal']} | "
                     f"{'yes' if r['deterministic'] else 'no'} | {r['orphans']} | {r['note']} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(f"/tmp/sigkill-{uuid.uuid4().hex[:8]}"))
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--cases", default=",".join(c.name for c in CASES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rescore", action="store_true", help="Compare the kept folders of the campaign at --out again.")
    args = ap.parse_args()
    if args.rescore:
        rows = rescore(args.out)
        print(markdown(rows))
        for r in rows:
            for f in r["failures"]:
                print(f"{r['case']}: {f}")
        return
    names = args.cases.split(",")
    unknown = sorted(set(names) - {c.name for c in CASES})
    if unknown or args.kills < 1:
        print(f"error: {'unknown cases: ' + ', '.join(unknown) if unknown else '--kills must be at least 1'}",
              file=sys.stderr)
        sys.exit(2)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    rows = campaign(args.out, [c for c in CASES if c.name in names], args.kills, args.seed)
    table = markdown(rows)
    (args.out / "campaign.md").write_text(table + "\n")
    print(table)
    for r in rows:
        for f in r["failures"]:
            print(f"{r['case']}: {f}")
        for o in r["orphan_names"]:
            print(f"{r['case']}: orphan {o}")
    print(f"campaign: {time.time() - started:.0f} s; load {os.getloadavg()}")


if __name__ == "__main__":
    main()
