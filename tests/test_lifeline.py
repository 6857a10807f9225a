"""Worker processes end when their parent is killed with SIGKILL: nothing is left behind, blocked.

Each case starts a parent process that runs the real pool (the profile's prefetch worker, export's
train-ahead workers, a NASH step's children in edgenas.train.workers, a search's local Ray cluster), waits
until the workers run, kills the parent with SIGKILL and checks that every process below it (workers,
multiprocessing's resource tracker, Ray's GCS server, raylet, agents and task workers) is gone a few seconds
later.
"""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PREFETCH = """
    import time
    from edgenas.profiling.prefetch import Prefetcher
    with Prefetcher(workers=1) as pool:
        results = pool.map(time.sleep, [600, 600, 600])  # the worker sleeps; the parent waits for it
        print("started", flush=True)
        next(results)
"""

TRAIN_AHEAD = """
    from pathlib import Path
    from edgenas.arch.space import get_space
    from edgenas.train.ahead import TrainingJob, train_ahead
    from edgenas.train.loop import TrainConfig
    space, root = get_space("fbnet-small"), Path({root!r})
    cfg = TrainConfig(epochs=1000, batch_size=64, seed=0)  # far longer than the test waits
    jobs = [TrainingJob(root / name, space, "digits", cfg, 0, 1, arch=arch)
            for name, arch in (("a", "skip-" * 7 + "skip"), ("b", "k3_e1-" * 7 + "k3_e1"))]
    print("started", flush=True)
    train_ahead(jobs, workers=2)
"""

MORPH_CHILDREN = """
    import sys
    sys.path.insert(0, {tests!r})
    from pathlib import Path
    from _synthetic_table import synthetic_table
    from edgenas.arch.space import get_space
    from edgenas.search.setup import search
    root = Path({root!r})
    synthetic_table(get_space("fbnet-small"), root / "table.json")
    print("started", flush=True)
    search("nash", [root / "table.json"], root / "run", dataset="digits", max_latency_ms=[1e3], plot=False,
           config={{"steps": 1, "children": 2, "start_epochs": 0, "epochs": 1000, "workers": 2}})
"""

RAY = """
    import time
    import numpy as np
    from edgenas.search.runners import RayRunner

    class Sleepy:  # an estimator whose evaluation outlasts the test
        def evaluate(self, archs):
            time.sleep(600)

    runner = RayRunner(num_cpus=1)
    print("started", flush=True)
    next(runner.map(Sleepy(), np.zeros((1, 8), dtype=np.int64), 1))
"""


def _descendants(pid: int):
    """Pids below ``pid`` in the process tree (from /proc)."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _ray_task_runs(pids) -> bool:
    return any(_command(p).startswith("ray::_evaluate_remote") for p in pids)


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _poll(read, done, seconds: float):
    """``read()`` until ``done`` holds for it or ``seconds`` have passed; the last value read."""
    deadline = time.monotonic() + seconds
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.2)
        value = read()
    return value


def _ray_missing() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return True
    return False


def _both_train(root: Path):
    """Both trainings run: each worker got past its (slow, torch-importing) start and locked its run folder.
    Killed before that, a worker still ends, but only once its imports are done: on a loaded machine, later
    than the test waits."""
    return lambda pids: len(pids) >= 3 and all((root / name / ".edgenas.lock").exists() for name in "ab")


def _two_workers_imported(pids) -> bool:
    """Two workers (and the resource tracker) run, both past importing torch (see :func:`_both_train`)."""
    def has_torch(pid):
        try:
            return "libtorch" in Path(f"/proc/{pid}/maps").read_text()
        except OSError:
            return False
    return len(pids) >= 3 and sum(map(has_torch, pids)) >= 2


CASES = [
    pytest.param(PREFETCH, lambda root: lambda pids: len(pids) >= 2, id="prefetch"),  # worker + resource tracker
    pytest.param(TRAIN_AHEAD, _both_train, id="train-ahead"),
    pytest.param(MORPH_CHILDREN, lambda root: _two_workers_imported, id="morph-children"),
    pytest.param(RAY, lambda root: _ray_task_runs, id="ray-local",
                 marks=pytest.mark.skipif(_ray_missing(), reason="ray is not installed (pip install ray)")),
]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc")
@pytest.mark.parametrize("script, running", CASES)
def test_workers_end_when_the_parent_is_killed(tmp_path, script, running):
    running = running(tmp_path)
    code = textwrap.dedent(script.replace("{root!r}", repr(str(tmp_path))).replace("{tests!r}", repr(str(ROOT / "tests")))
                           .replace("{{", "{").replace("}}", "}"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    started = []
    try:
        assert parent.stdout.readline().strip() == "started"
        started = _poll(lambda: _descendants(parent.pid), running, 120)
        assert running(started), f"the workers did not start: {[(p, _command(p)) for p in started]}"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        left = _poll(lambda: [p for p in started if _alive(p)], lambda pids: not pids, 15)
        assert not left, f"processes left 15 s after the parent was killed: {[(p, _command(p)) for p in left]}"
    finally:
        parent.kill()
        parent.wait()
        for pid in started:  # only what this test started, when it failed
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
