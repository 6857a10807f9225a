"""Device and GPU commands through the CLI: bad input is one line and exit 2; a device table validates on its target."""
from __future__ import annotations

import json
import sys

import pytest

from test_cli import assert_user_error, ok, run


@pytest.mark.parametrize("argv, fragment", [
    (["profile-many", "--target", "ssh://h/tflite", "--out-dir", "o", "--no-ray"], "device runtime 'tflite'"),
    (["profile-many", "--out-dir", "o", "--no-ray"], "at least one target"),
    (["profile-many", "--target", "a=onnxruntime", "--target", "a=torch", "--out-dir", "o", "--no-ray"], "must differ"),
    (["profile-many", "--targets", "missing.json", "--out-dir", "o", "--no-ray"], "cannot read targets file"),
    (["profile-many", "--target", "ssh://h/onnxruntime?cooldown=abc", "--out-dir", "o", "--no-ray"],
     "cooldown must be a number of seconds >= 0, not 'abc'"),
    (["profile-many", "--target", "adb://S1/onnxruntime?cooldown=-1", "--out-dir", "o", "--no-ray"],
     "cooldown must be a number"),
])
def test_profile_many_bad_input(capsys, tmp_path, monkeypatch, argv, fragment):
    monkeypatch.chdir(tmp_path)
    assert_user_error(*run(capsys, *argv)[::2], fragment)


@pytest.mark.parametrize("content", ['"onnxruntime"', "42", "[1, 2]"])
def test_targets_file_that_is_not_a_list_of_specs(capsys, tmp_path, monkeypatch, content):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "targets.json").write_text(content)
    code, _, err = run(capsys, "profile-many", "--targets", "targets.json", "--out-dir", "o", "--no-ray")
    assert_user_error(code, err, "targets file targets.json must hold a JSON list")
    assert not (tmp_path / "o").exists()


def test_gpu_backend_without_a_gpu_is_one_line(capsys, tmp_path, monkeypatch):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    monkeypatch.chdir(tmp_path)
    assert_user_error(*run(capsys, "profile", "--backend", "torch-cuda", "-o", "t.json")[::2], "no CUDA device")
    assert not (tmp_path / "t.json").exists()


def test_failed_device_is_reported_and_exit_2(capsys, tmp_path, tiny_decl, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.json").write_text(json.dumps(tiny_decl))
    code, out, err = run(capsys, "profile-many", "--space", "tiny.json", "--target",
                         "phone=adb://NOSUCH/onnxruntime?adb=/nonexistent/adb", "--out-dir", "o", "--no-ray")
    assert "phone" in out and "FAILED" in out
    assert_user_error(code, err, "1 of 1 targets failed (phone)")


def test_device_table_needs_its_target_to_validate(capsys, tmp_path, tiny_decl, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.json").write_text(json.dumps(tiny_decl))
    out = ok(capsys, "profile-many", "--space", "tiny.json", "--target", "dev=local:onnxruntime", "--out-dir", "o",
             "--no-ray", "--min-time", "0", "--min-runs", "3", "--calibration-networks", "2")
    assert "dev" in out and "ok" in out
    table = tmp_path / "o" / "tiny.dev.json"
    assert_user_error(*run(capsys, "table", "validate", str(table), "-n", "3", "--quiet")[::2], "--target spec")
    out = ok(capsys, "table", "validate", str(table), "-n", "3", "--quiet", "--target", "local:onnxruntime")
    assert "noise" in out
