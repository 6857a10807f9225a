import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

import nsga_helpers as H
from cli_helpers import run_main

ENV = {**os.environ, "PYTHONPATH": str(H.ROOT)}


def cli(*args):
    return [sys.executable, str(H.ROOT / "cli.py"), *args]


def search_args(out, *extra):
    return ["search", "nsga2", "--table", str(H.TABLE), "--estimator", "oracle", "--max-latency", "0.08ms",
            "--out", str(out), "--quiet", *extra]


def count(journal):
    try:
        conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=0.1)
        try:
            return conn.execute("SELECT count(*) FROM evals").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def test_sigkill_then_resume_gives_the_same_pareto_set(tmp_path, capsys):
    args = ("--pop", "40", "--gens", "60")  # ~2,300 architectures of the 6-layer space
    whole = tmp_path / "whole"
    assert run_main(capsys, search_args(whole, *args))[0] == 0  # uninterrupted, in this process
    total = json.loads((whole / "result.json").read_text())["evaluated"]

    killed = tmp_path / "killed"
    kill_at = random.Random().randint(40, total - 400)  # a random point inside the run
    proc = subprocess.Popen(cli(*search_args(killed, *args)), env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    journal = killed / "journal.sqlite"
    deadline = time.time() + 120
    while proc.poll() is None and count(journal) < kill_at and time.time() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, "the search finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored = count(journal)
    assert 0 < stored < total and not (killed / "result.json").exists()

    done = subprocess.run(cli(*search_args(killed, *args)), env=ENV, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"({total - stored} now, {stored} from the journal)" in done.stdout
    a, b = (json.loads((p / "result.json").read_text()) for p in (whole, killed))
    assert a["front"] == b["front"] and a["history"] == b["history"]


def test_cli_search_outputs(tmp_path, capsys):
    out = tmp_path / "r"
    code, io = run_main(capsys, search_args(out, "--pop", "8", "--gens", "2", "--objective", "memory"))
    assert code == 0, io.err
    doc = json.loads((out / "result.json").read_text())
    assert doc["objectives"] == ["error", "latency_ms:fbnet-small6.ort-cpu", "memory_bytes"]
    row = doc["front"][0]
    assert set(row) >= {"arch", "error", "latency_ms", "memory_bytes", "param_bytes", "flops"}
    assert (out / "result.png").read_bytes()[:4] == b"\x89PNG"
    assert "Pareto set" in io.out and "evaluated" in io.out


@pytest.mark.parametrize("extra,message", [
    (["--max-latency", "0.001ms"], "fastest reachable is"),
    (["--max-memory", "10KB"], "least reachable is"),
    (["--estimator", "magic"], "unknown estimator 'magic'"),
    (["--estimator", "supernet"], "needs the supernet's run folder"),
    (["--pop", "1"], "pop must be at least 2"),
])
def test_cli_refusals_are_one_line(tmp_path, capsys, extra, message):
    args = search_args(tmp_path / "r", "--pop", "4", "--gens", "1")
    for option in ("--max-latency", "--estimator", "--pop"):
        if extra[0] == option:
            i = args.index(option)
            del args[i:i + 2]
    code, io = run_main(capsys, args + extra)
    assert code == 2 and message in io.err and io.err.count("\n") == 1 and "Traceback" not in io.err
    assert not (tmp_path / "r").exists()


def test_cli_unknown_table(tmp_path, capsys):
    code, io = run_main(capsys, ["search", "nsga2", "--table", str(tmp_path / "cpu.json"), "--estimator", "oracle",
                                 "--out", str(tmp_path / "r"), "--quiet"])
    assert code == 2 and "does not exist" in io.err


def test_cli_corrupt_journal_refused_nothing_overwritten(tmp_path, capsys):
    out = tmp_path / "r"
    run_main(capsys, search_args(out, "--pop", "4", "--gens", "1"))
    journal, pareto = out / "journal.sqlite", out / "result.json"
    for p in out.glob("journal.sqlite-*"):
        p.unlink()
    journal.write_bytes(b"garbage" * 100)
    before = pareto.read_bytes()
    code, io = run_main(capsys, search_args(out, "--pop", "4", "--gens", "1"))
    assert code == 2 and "corrupt" in io.err
    assert journal.read_bytes() == b"garbage" * 100 and pareto.read_bytes() == before


def test_cli_other_config_refused(tmp_path, capsys):
    out = tmp_path / "r"
    run_main(capsys, search_args(out, "--pop", "4", "--gens", "1"))
    code, io = run_main(capsys, search_args(out, "--pop", "4", "--gens", "1", "--seed", "3"))
    assert code == 2 and "seed: 0 -> 3" in io.err


def test_cli_search_help_lists_every_strategy_and_only_its_options(capsys):
    from edgenas.search.strategies import names

    code, io = run_main(capsys, ["search", "--help"])
    assert code == 0 and all(n in io.out for n in names())
    code, io = run_main(capsys, ["search", "nsga2", "--help"])
    assert code == 0 and "--pop" in io.out and "--estimator" in io.out and "--tau0" not in io.out
    code, io = run_main(capsys, ["search", "dnas", "--help"])
    assert code == 0 and "--tau0" in io.out and "--pop" not in io.out and "--estimator" not in io.out


@pytest.mark.parametrize("args,message", [
    (["search", "annealing"], "No such command 'annealing'"),
    (["search", "nsga2", "--tau0", "5"], "No such option"),
])
def test_cli_unknown_strategy_or_option_of_another_strategy(capsys, args, message):
    code, io = run_main(capsys, args)
    assert code == 2 and message in io.err and "Traceback" not in io.err


def test_cli_ray_unreachable(tmp_path, capsys):
    code, io = run_main(capsys, search_args(tmp_path / "r", "--pop", "4", "--gens", "1", "--ray", "127.0.0.1:1"))
    assert code == 2 and "not reachable" in io.err and not (tmp_path / "r").exists()


def test_supernet_train_cli_passes_the_anchor_warmup_and_sandwich(tmp_path, capsys):
    out = tmp_path / "sn"
    code, res = run_main(capsys, ["supernet", "train", "--space", str(H.SPACE), "--dataset", "digits", "--epochs", "2",
                                  "--max-batches", "1", "--anchor-warmup", "0.5", "--sandwich", "largest",
                                  "--out", str(out)])
    assert code == 0, res.err
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["sandwich"] == "largest"
    assert cfg["anchor_warmup"] == 0.5 and cfg["train"]["batch_size"] == 32 and cfg["train"]["lr"] == 0.1
    assert "epoch 2/2" in res.out
    code, res = run_main(capsys, ["supernet", "train", "--space", str(H.SPACE), "--dataset", "digits",
                                  "--anchor-warmup", "0", "--out", str(tmp_path / "bad")])
    assert code == 2 and "anchor-warmup" in res.err


def test_a_second_search_on_the_same_folder_is_refused_and_the_first_finishes_intact(tmp_path, capsys):
    out = tmp_path / "r"
    args = search_args(out, "--pop", "40", "--gens", "40")
    first = subprocess.Popen(cli(*args), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while first.poll() is None and count(out / "journal.sqlite") == 0 and time.time() < deadline:
        time.sleep(0.01)
    assert first.poll() is None, "the first search finished before the second could start"
    code, io = run_main(capsys, args)
    assert code == 2 and io.err.count("\n") == 1 and "Traceback" not in io.err
    assert f"is in use by another edgenas process (pid {first.pid}" in io.err
    stdout, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    doc = json.loads((out / "result.json").read_text())
    assert doc["front"] and f"evaluated {doc['evaluated']} architectures ({doc['evaluated']} now" in stdout
