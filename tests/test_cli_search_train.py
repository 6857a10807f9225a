"""The search and train commands: one line and exit code 2 for user mistakes; final training."""
import json

import pytest
import torch

from cli import main
from edgenas.train.final import train_architecture
from edgenas.arch.space import get_space
from edgenas.train.loop import TrainConfig, load_checkpoint

from _synthetic_table import synthetic_table

SPACE = get_space("fbnet-small")


@pytest.fixture(scope="module")
def table_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("table") / "small.json"
    synthetic_table(SPACE, path)
    return str(path)


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as e:
        main(args)
    return e.value.code, capsys.readouterr()


@pytest.mark.parametrize("extra, message", [
    (["--max-latency", "0.001ms"], "fastest reachable is"),
    (["--dataset", "/no/such/folder"], "neither a built-in"),
])
def test_search_bad_input_is_one_line_and_exit_2(tmp_path, capsys, table_path, extra, message):
    code, out = run_cli(["search", "dnas", "--table", table_path, "--dataset", "digits", "--out", str(tmp_path / "r"),
                         "--quiet", *extra], capsys)
    assert code == 2 and message in out.err and out.err.count("\n") == 1 and "Traceback" not in out.err
    assert not (tmp_path / "r").exists()


def test_search_cli_runs_and_reports(tmp_path, capsys, table_path):
    main(["search", "dnas", "--table", table_path, "--dataset", "digits", "--epochs", "2",
          "--warmup-epochs", "1", "--max-batches", "1", "--batch-size", "16", "--samples", "2", "--alpha", "0.3",
          "--beta", "0.8", "--threads", "1", "--out", str(tmp_path / "r"), "--quiet"])
    out = capsys.readouterr().out
    assert "dnas: Pareto set of" in out and "<- selected" in out
    cfg = json.loads((tmp_path / "r" / "config.json").read_text())["config"]
    assert cfg["alpha"] == 0.3 and cfg["beta"] == 0.8 and cfg["epochs"] == 2


def test_train_reports_test_accuracy_and_resumes(tmp_path):
    cfg = TrainConfig(epochs=2, batch_size=64, lr=0.05)
    arch = "k3_e3-k3_e3-k3_e3-skip-k3_e3-skip-k3_e1-k3_e1"
    heard = []
    r = train_architecture(arch, tmp_path / "t", dataset="digits", cfg=cfg, threads=1,
                           progress=lambda *a, **m: heard.append((*a, sorted(m))))
    assert heard == [("train", 0, 2, []), ("train", 1, 2, ["acc", "loss", "test_acc"]),
                     ("train", 2, 2, ["acc", "loss", "test_acc"])]
    assert r["arch"] == arch and r["epochs"] == 2 and r["test_images"] == 359
    assert r["test_acc"] > 0.5  # two epochs on digits; chance is 0.1
    state = load_checkpoint(tmp_path / "t" / "checkpoint.pt")
    assert state["epoch"] == 2
    weights = torch.load(tmp_path / "t" / "model.pt", weights_only=True)
    assert "head.fc.weight" in weights
    again = train_architecture(arch, tmp_path / "t", dataset="digits", cfg=cfg, threads=1)  # complete: no epoch
    assert again["history"] == r["history"]


def test_train_takes_the_architecture_of_a_search_run(tmp_path, table_path, capsys):
    main(["search", "dnas", "--table", table_path, "--dataset", "digits", "--epochs", "2", "--warmup-epochs", "1",
          "--max-batches", "1", "--batch-size", "16", "--threads", "1", "--out", str(tmp_path / "s"), "--quiet"])
    best = json.loads((tmp_path / "s" / "result.json").read_text())["selected"]
    main(["train", str(tmp_path / "s"), "--dataset", "digits", "--epochs", "1", "--threads", "1",
          "--out", str(tmp_path / "t"), "--quiet"])
    assert f"{best}: test accuracy" in capsys.readouterr().out


@pytest.mark.parametrize("arch, message", [("k3_e1-k3_e1", "has 2 layers"), ("nope.json", "is not a search result")])
def test_train_bad_architecture_is_one_line(tmp_path, capsys, arch, message):
    code, out = run_cli(["train", arch, "--dataset", "digits", "--out", str(tmp_path / "t"), "--quiet"], capsys)
    assert code == 2 and message in out.err


def test_predict_names_the_ops_whose_flops_were_not_counted(table_path, capsys):
    arch = "k3_e3-k3_e3-k3_e3-skip-k3_e3-skip-k3_e1-k3_e1"
    main(["predict", "--table", table_path, arch])
    out = capsys.readouterr().out
    assert "FLOPs exclude: aten::add (ops fvcore could not count)" in out  # the residual adds
    rows = [line for line in out.splitlines() if "MFLOPs  " in line]
    assert "FLOPs exclude" not in rows[0] and rows[0].endswith("stem")
    assert any(r.endswith("(FLOPs exclude aten::add)") for r in rows)
