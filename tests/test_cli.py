"""Bad input through the command line: one line on stderr, exit code 2, nothing damaged."""
import json

import pytest

import cli
from edgenas.tables.table import SCHEMA_VERSION


def run(capsys, *argv):
    with pytest.raises(SystemExit) as exc:
        cli.main(list(argv))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def ok(capsys, *argv):
    cli.main(list(argv))
    return capsys.readouterr().out


def assert_user_error(code, err, fragment):
    assert code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], err


@pytest.mark.parametrize("argv, fragment", [
    (["space", "show", "nope"], "unknown space 'nope'"),
    (["profile", "--space", "nope", "-o", "x.json"], "unknown space"),
    (["profile", "--backend", "tensorflow", "-o", "x.json"], "unknown backend 'tensorflow'"),
    (["table", "show", "/does/not/exist.json"], "does not exist"),
])
def test_unknown_names(capsys, tmp_path, monkeypatch, argv, fragment):
    monkeypatch.chdir(tmp_path)
    assert_user_error(*run(capsys, *argv)[::2], fragment)
    assert not (tmp_path / "x.json").exists()


def test_malformed_architecture(capsys, tiny_table):
    code, _, err = run(capsys, "predict", "k3_e1", "--table", str(tiny_table))
    assert_user_error(code, err, "has 1 layers")
    code, _, err = run(capsys, "predict", "k3_e1-k9_e9", "--table", str(tiny_table))
    assert_user_error(code, err, "unknown op 'k9_e9'")


def test_predict_prints_costs(capsys, tiny_table):
    out = ok(capsys, "predict", "k3_e1-skip", "--table", str(tiny_table))
    assert "latency" in out and "MFLOPs" in out and "layer1:skip" in out


def test_corrupt_and_newer_tables(capsys, tiny_table):
    d = json.loads(tiny_table.read_text())
    d["schema_version"] = SCHEMA_VERSION + 5
    tiny_table.write_text(json.dumps(d))
    assert_user_error(*run(capsys, "table", "show", str(tiny_table))[::2], "schema version")
    tiny_table.write_text(tiny_table.read_text()[:100])
    assert_user_error(*run(capsys, "table", "show", str(tiny_table))[::2], "truncated")


def test_profiling_another_space_into_a_table_keeps_it(capsys, tiny_table):
    before = tiny_table.read_bytes()
    code, _, err = run(capsys, "profile", "--space", "fbnet-small", "-o", str(tiny_table), "--quiet")
    assert_user_error(code, err, "other settings")
    assert tiny_table.read_bytes() == before


def test_unwritable_output(capsys, tmp_path):
    (tmp_path / "f").write_text("")
    code, _, err = run(capsys, "profile", "--space", "fbnet-small", "-o", str(tmp_path / "f" / "t.json"), "--quiet")
    assert_user_error(code, err, "cannot write")


def test_table_show_and_diff(capsys, tiny_table, tmp_path):
    out = ok(capsys, "table", "show", str(tiny_table), "--entries")
    assert "calibration" in out and "ir(" in out
    other = tmp_path / "b.json"
    other.write_bytes(tiny_table.read_bytes())
    out = ok(capsys, "table", "diff", str(tiny_table), str(other))
    assert "in both" in out and "median 1.000" in out


def test_space_commands(capsys):
    assert "22 searchable layers" in ok(capsys, "space", "show", "fbnet-224")
    lines = ok(capsys, "space", "sample", "fbnet-small", "-n", "3", "--seed", "1").split()
    assert len(lines) == 3 and all(len(l.split("-")) == 8 for l in lines)


def test_table_validate_no_write_leaves_the_tables_files_alone(capsys, tiny_table):
    before = tiny_table.read_bytes()
    out = ok(capsys, "table", "validate", str(tiny_table), "-n", "2", "--quiet", "--no-write")
    assert "split-half fit" in out and "plot:" not in out
    assert tiny_table.read_bytes() == before
    assert not tiny_table.with_name(tiny_table.stem + ".validation.png").exists()


@pytest.mark.parametrize("command", ["profile", "profile-many"])
def test_help_lists_every_backend_and_whether_it_is_usable_here(capsys, command):
    from profilers import BACKENDS, unusable

    out = ok(capsys, command, "--help")
    listing = " ".join(out.split("Backends (usable here")[1].split())  # rewrapped lines joined
    for name in sorted(BACKENDS):
        assert f"{name} {unusable(name) or 'usable'}" in listing, name
    assert "onnxruntime usable" in listing


def test_a_backend_says_why_it_is_not_usable(monkeypatch):
    import importlib.util

    import profilers

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorrt" else real(name, *a))
    monkeypatch.setattr(profilers, "_nvidia_gpu", lambda: False)
    assert profilers.unusable("tensorrt") == "needs an NVIDIA GPU; pip install 'tensorrt>=10,<11'"
    assert profilers.unusable("torch-cuda") == "needs an NVIDIA GPU"
    assert profilers.unusable("onnxruntime") is None
    monkeypatch.setattr(profilers, "_nvidia_gpu", lambda: True)
    assert profilers.unusable("torch-cuda") is None


def test_profiling_into_a_complete_table_says_so_and_writes_nothing(capsys, tmp_path, tiny_decl):
    space = tmp_path / "tiny.json"
    space.write_text(json.dumps(tiny_decl))
    argv = ["profile", "--space", str(space), "-o", str(tmp_path / "t.json"), "--min-time", "0", "--min-runs", "3",
            "--calibration-networks", "2", "--op-latency", "alone", "--no-reference", "--no-prefetch", "--quiet"]
    assert ok(capsys, *argv).startswith(f"wrote {tmp_path / 't.json'}")
    before = (tmp_path / "t.json").read_bytes()
    out = ok(capsys, *argv)
    assert out.startswith(f"{tmp_path / 't.json'} is complete: 10 entries") and "wrote" not in out
    assert (tmp_path / "t.json").read_bytes() == before
