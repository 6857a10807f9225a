"""The children of NASH and LEMONADE trained in worker processes (or on Ray): the run of one process, bit for bit,
and a run resumed in workers ends as the uninterrupted one."""
import pytest
import torch

from edgenas.errors import ConfigError
from edgenas.search.members import MemberStore
from edgenas.search.setup import search

from morph_helpers import SPACE
from test_nash import FAST as NASH_FAST
from test_lemonade import FAST as LEMONADE_FAST

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = {"start_epochs": 1, "max_batches": 2}   # what is compared is the mechanism, not the accuracy
FAST = {"nash": {**NASH_FAST, "steps": 2, **SMALL}, "lemonade": {**LEMONADE_FAST, "generations": 2, **SMALL}}
EXTRA = {"nash": {}, "lemonade": {"objectives": ["params"]}}


def run(strategy, out, table, **config):
    return search(strategy, [table], out, dataset="digits", max_latency_ms=[1e3], config={**FAST[strategy], **config},
                  plot=False, **EXTRA[strategy])


def same_run(a, b, out_a, out_b):
    """Same front, history (but wall times), members and trained weights."""
    strip = lambda h: [{k: v for k, v in r.items() if k != "train_s_total"} for r in h]  # noqa: E731
    assert a["front"] == b["front"] and a["selected"] == b["selected"]
    assert strip(a["history"]) == strip(b["history"])
    members = lambda d: [{k: v for k, v in m.items() if k != "train_s"} for m in d["details"]["members"]]  # noqa: E731
    assert members(a) == members(b)
    for m in a["details"]["members"]:
        wa = MemberStore(out_a, SPACE).load(m["id"], m["arch"])[1].state_dict()
        wb = MemberStore(out_b, SPACE).load(m["id"], m["arch"])[1].state_dict()
        assert all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.mark.parametrize("strategy", ["nash", pytest.param("lemonade", marks=pytest.mark.slow)])
def test_workers_give_the_run_of_one_process_and_resume_it(strategy, tmp_path, tiny28_table):
    serial = run(strategy, tmp_path / "serial", tiny28_table, threads=1)
    seen = []
    parallel = search(strategy, [tiny28_table], tmp_path / "workers", dataset="digits", max_latency_ms=[1e3],
                      plot=False, config={**FAST[strategy], "threads": 1, "workers": 2},
                      progress=lambda *a, **k: seen.append(a), **EXTRA[strategy])
    same_run(serial, parallel, tmp_path / "serial", tmp_path / "workers")
    assert ("children", 2, 2) in seen
    # as if killed during the last round: its children's checkpoints are missing; a rerun in workers (a changed
    # worker count is the same run) trains them again and ends as the uninterrupted run
    last = [m for m in parallel["details"]["members"] if m["id"].startswith(f"s{len(parallel['history']) - 1:03d}")]
    assert len(last) >= 2
    for m in last:
        (tmp_path / "workers" / "members" / f"{m['id']}.pt").unlink()
    resumed = run(strategy, tmp_path / "workers", tiny28_table, threads=1, workers=3)   # two still missing: two workers
    same_run(serial, resumed, tmp_path / "serial", tmp_path / "workers")


def test_workers_and_ray_are_checked_before_anything_is_written(tmp_path, tiny28_table):
    with pytest.raises(ConfigError, match="workers must be >= 1"):
        run("nash", tmp_path / "a", tiny28_table, workers=0)
    with pytest.raises(ConfigError, match="no Ray path"):
        search("dnas", [tiny28_table], tmp_path / "b", dataset="digits", ray="local", plot=False)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.slow
def test_ray_gives_the_run_of_one_process(tmp_path, tiny28_table):
    pytest.importorskip("ray", reason="Ray is not installed: pip install ray (the test extra installs it)")
    import ray

    serial = run("nash", tmp_path / "serial", tiny28_table, threads=1, steps=1)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = search("nash", [tiny28_table], tmp_path / "ray", dataset="digits", max_latency_ms=[1e3], plot=False,
                        config={**FAST["nash"], "threads": 1, "steps": 1}, ray="local")
    finally:
        ray.shutdown()
    same_run(serial, on_ray, tmp_path / "serial", tmp_path / "ray")
