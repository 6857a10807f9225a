"""``edgenas export --init inherited``: a NASH/LEMONADE run's networks keep their trained weights and are fine-tuned;
a run without stored weights, an architecture it never trained, or a damaged member is refused before any
training (one line, exit 2)."""
import json

import pytest
import torch

from cli_helpers import run_main
from edgenas.deploy.pipeline import ExportOptions, deploy_models
from edgenas.deploy.source import load_search_source
from edgenas.errors import ConfigError
from edgenas.search.members import MemberStore
from edgenas.search.setup import search

from _synthetic_table import synthetic_table
from export_helpers import SPACE, make_search_run

NASH = {"steps": 1, "children": 1, "morphisms": 1, "epochs": 1, "start_epochs": 1, "batch_size": 64,
        "max_batches": 3, "threads": 1}


def largest_change(a, b, arch):
    """The largest difference of a trainable weight between two state dicts of ``arch`` (BatchNorm's running
    statistics move even at lr ~ 0)."""
    from edgenas.arch.model import build_network

    names = [n for n, _ in build_network(SPACE, SPACE.parse(arch)).named_parameters()]
    return max(float((a[n] - b[n]).abs().max()) for n in names)


@pytest.fixture(scope="module")
def nash_run(tmp_path_factory):
    """A finished NASH run of fbnet-small on the digits, seeded 2 (its data split too)."""
    root = tmp_path_factory.mktemp("nash")
    synthetic_table(SPACE, root / "t.json")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        search("nash", [root / "t.json"], root / "run", dataset="digits", seed=2, max_latency_ms=[1e3], config=NASH,
               plot=False)
    finally:
        torch.set_num_threads(before)
    return root / "run"


def _member_state(run, arch):
    doc = json.loads((run / "result.json").read_text())
    m = next(m for m in doc["details"]["members"] if m["arch"] == arch)
    return MemberStore(run, SPACE).load(m["id"], arch)[1].state_dict()


def test_inherited_weights_are_fine_tuned_not_replaced(tmp_path, nash_run):
    src = load_search_source(nash_run)
    assert src.split_seed == 2 and src.dataset == "digits"   # the members' own data split: its test part unseen
    assert src.pareto and {c.arch for c in src.pareto} <= set(src.weights)
    arch = src.pareto[0].arch
    opts = dict(run=str(nash_run), models=["0"], epochs=1, batch_size=64, threads=1, report=False)
    summary = deploy_models(ExportOptions(out=str(tmp_path / "inh"), init="inherited", lr=1e-9, **opts))
    assert summary["init"] == "inherited" and summary["models"][0]["init"] == "inherited"
    folder = tmp_path / "inh" / "models" / "p0" / "train"
    assert json.loads((folder / "config.json").read_text())["config"]["init"].startswith("weights:")
    tuned = torch.load(folder / "model.pt", weights_only=True)
    start = _member_state(nash_run, arch)
    assert largest_change(tuned, start, arch) < 1e-6              # lr ~ 0: the member's weights were kept
    deploy_models(ExportOptions(out=str(tmp_path / "scratch"), init="scratch", lr=1e-9, **opts))
    fresh = torch.load(tmp_path / "scratch" / "models" / "p0" / "train" / "model.pt", weights_only=True)
    assert largest_change(fresh, start, arch) > 1e-2              # the default still trains from scratch


def test_a_run_without_weights_or_an_untrained_architecture_is_refused(tmp_path, nash_run):
    nsga, _ = make_search_run(tmp_path / "nsga")
    with pytest.raises(ConfigError, match=r"keeps no trained weights .*init 'scratch'"):
        deploy_models(ExportOptions(run=str(nsga), out=str(tmp_path / "a"), init="inherited"))
    other = "-".join(["k5_e6"] * SPACE.num_layers)
    with pytest.raises(ConfigError, match="trained no network"):
        deploy_models(ExportOptions(run=str(nash_run), out=str(tmp_path / "b"), init="inherited", models=[other]))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_cli_refuses_in_one_line_and_a_damaged_member_before_training(tmp_path, capsys, nash_run):
    nsga, _ = make_search_run(tmp_path / "nsga")
    code, out = run_main(capsys, ["export", str(nsga), "--out", str(tmp_path / "a"), "--init", "inherited", "--quiet"])
    assert code == 2 and out.err.startswith("error: ") and out.err.count("\n") == 1 and "no trained weights" in out.err
    arch = load_search_source(nash_run).pareto[0].arch
    member = next(m["id"] for m in json.loads((nash_run / "result.json").read_text())["details"]["members"]
                  if m["arch"] == arch)
    damaged = tmp_path / "damaged"   # a copy of the run whose member for Pareto model 0 is truncated
    (damaged / "members").mkdir(parents=True)
    for f in [*nash_run.iterdir(), *(nash_run / "members").iterdir()]:
        if f.is_file():
            data = f.read_bytes()
            (damaged / f.relative_to(nash_run)).write_bytes(data[:100] if f.name == f"{member}.pt" else data)
    code, out = run_main(capsys, ["export", str(damaged), "--out", str(tmp_path / "c"), "--init", "inherited",
                                  "--models", "0", "--quiet"])
    assert code == 2 and out.err.startswith("error: ") and out.err.count("\n") == 1 and "corrupt" in out.err
    assert not (tmp_path / "c").exists()
