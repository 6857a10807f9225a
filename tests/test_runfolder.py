"""The run folder: one writer at a time, config changes named, JSON read with typed errors."""
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cli import main
from edgenas.errors import RunError
from edgenas.runfolder import LOCK, RunFolder, config_changes, read_json

ROOT = Path(__file__).resolve().parents[1]
ARCH = "k3_e1-skip-skip-skip-skip-skip-skip-skip"
TRAIN = {"arch": ARCH, "space": "fbnet-small", "dataset": "digits", "split_seed": 0, "epochs": 1, "batch_size": 128,
         "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4, "seed": 0}  # what `edgenas train` below stores

HOLDER = """
import sys
from edgenas.runfolder import RunFolder
run = RunFolder.open(sys.argv[1], "train", {"arch": "x"})
run.write_json("result.json", {"test_acc": 0.5})
print("holding", flush=True)
sys.stdin.read()  # until the test closes stdin (or kills this process)
"""


def _holder(folder):
    """A process that opened ``folder`` as a run and holds it until its stdin closes."""
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.stdout.readline().strip() == "holding"
    return p


def _files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name != LOCK}


def test_a_second_process_is_refused_naming_the_holder_and_nothing_is_touched(tmp_path, capsys):
    folder = tmp_path / "run"
    holder = _holder(folder)
    try:
        before = _files(folder)
        with pytest.raises(SystemExit) as e:
            main(["train", ARCH, "--dataset", "digits", "--epochs", "1", "--out", str(folder), "--quiet"])
        err = capsys.readouterr().err
        assert e.value.code == 2 and err.count("\n") == 1 and err.startswith("error: ")
        assert f"{folder} is in use by another edgenas process (pid {holder.pid}, started " in err
        assert "wait for it" in err and "Traceback" not in err
        assert _files(folder) == before  # the holder's config and result are intact
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    RunFolder.open(folder, "train", {"arch": "x"}).close()  # free once the holder is gone


def test_the_lock_of_a_killed_process_does_not_block(tmp_path):
    folder = tmp_path / "run"
    holder = _holder(folder)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=60)
    assert (folder / LOCK).is_file()  # left behind, as after a crash
    with RunFolder.open(folder, "train", {"arch": "x"}) as run:
        assert run.resumed and json.loads((folder / LOCK).read_text())["pid"] == os.getpid()
        with pytest.raises(RunError, match=f"in use by this process \\(pid {os.getpid()}"):
            RunFolder.open(folder, "train", {"arch": "x"})  # locked while open, in this process too
    RunFolder.open(folder, "train", {"arch": "x"}).close()


def test_config_changes_are_named_and_the_folder_kept(tmp_path):
    folder = tmp_path / "run"
    with RunFolder.open(folder, "train", {"lr": 0.1, "net": {"width": 1}}) as run:
        assert not run.resumed
        run.write_json("result.json", {"acc": 1})
    before = _files(folder)
    with pytest.raises(RunError, match=r"another configuration \(lr: 0.1 -> 0.2; net.width: 1 -> 2\)"):
        RunFolder.open(folder, "train", {"lr": 0.2, "net": {"width": 2}})
    with pytest.raises(RunError, match="holds a 'train' run, not a 'dnas' run"):
        RunFolder.open(folder, "dnas", {"lr": 0.1, "net": {"width": 1}})
    assert _files(folder) == before
    with RunFolder.open(folder, "train", {"lr": 0.1, "net": {"width": 1}}) as run:
        assert run.resumed and run.read_json("result.json") == {"acc": 1}


def test_foreign_files_are_refused_but_the_lock_file_is_not_foreign(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "thesis.tex").write_text("x")
    with pytest.raises(RunError, match="not empty and holds no config.json"):
        RunFolder.open(tmp_path / "a", "train", {})
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / LOCK).write_text("")
    RunFolder.open(tmp_path / "b", "train", {}).close()


def test_a_flat_config_of_an_older_run_still_resumes(tmp_path):
    """Supernet folders and quickstart.json store the config itself; options added later are implied."""
    old = {"kind": "supernet", "dataset": "digits", "train": {"lr": 0.1}}  # written before 'sandwich' existed
    (tmp_path / "config.json").write_text(json.dumps(old))
    with RunFolder.open(tmp_path, "supernet", old, flat=True, implied={"sandwich": "none"}) as run:
        assert run.resumed
    assert json.loads((tmp_path / "config.json").read_text()) == old
    with pytest.raises(RunError, match='sandwich: "none" -> "distill"'):
        RunFolder.open(tmp_path, "supernet", {**old, "sandwich": "distill"}, flat=True, implied={"sandwich": "none"})


def test_config_changes_ignore_and_implied():
    assert config_changes({"a": {"b": 1}, "out": "x"}, {"a": {"b": 2}, "out": "y"}, ignore=["out"]) == ["a.b: 1 -> 2"]
    assert config_changes({}, {"s": "none"}, implied={"s": "none"}) == []
    assert config_changes({"c": 1}, {}) == ["c: 1 -> (absent)"]


@pytest.mark.parametrize("text, message", [("{", "unreadable or corrupt"), ("[1]", "not a JSON object")])
def test_read_json_names_the_file_and_what_to_do(tmp_path, text, message):
    p = tmp_path / "result.json"
    p.write_text(text)
    with pytest.raises(RunError, match=f"{re.escape(str(p))} is {message}.*left untouched; train again elsewhere"):
        read_json(p, fix="train again elsewhere")
    assert p.read_text() == text
    assert read_json(tmp_path / "absent.json") is None
