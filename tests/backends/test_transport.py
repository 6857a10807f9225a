"""Transports and the remote profiler: quoting, checked names, fake adb, a real sshd on 127.0.0.1, bad input."""
from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from device_helpers import adb_calls
from edgenas.errors import ConfigError, DeviceError, TableMismatchError
from edgenas.arch.model import build_op
from edgenas.profiling.profile import profile_space
from edgenas.tables.table import LatencyTable
from profilers.remote import RemoteProfiler
from profilers.transport import AdbTransport, LocalTransport, SshTransport, check_name, quote_command

HOSTILE = ["x; touch PWNED", "$(touch PWNED2)", "`touch PWNED3`", "a' ; touch PWNED4 ; '", "a\ntouch PWNED5",
           "> PWNED6", "&& touch PWNED7", "*"]


# ---- names and quoting ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["a;b.onnx", "$(id).pte", "`x`.tflite", "-rf", "..", ".hidden", "a b", "a/b",
                                  "x|y", "", "é.onnx", "a\nb"])
def test_names_with_shell_metacharacters_are_refused(name):
    with pytest.raises(ConfigError, match="not allowed"):
        check_name(name)


def test_quote_command_round_trips_through_a_shell(tmp_path):
    out = subprocess.run(["sh", "-c", "printf '%s\\n' " + quote_command(HOSTILE)], cwd=tmp_path,
                         capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:-1] == "\n".join(HOSTILE).split("\n")
    assert not list(tmp_path.iterdir())


# ---- adb (fake) ------------------------------------------------------------------------------------
def test_adb_commands_are_argument_lists_with_quoted_tokens(fake_adb, tmp_path):
    adb, log = fake_adb
    t = AdbTransport("FAKE0001", adb=str(adb))
    out = t.run(["printf", "%s\\n", *HOSTILE]).stdout.decode()
    assert out.split("\n")[:-1] == "\n".join(HOSTILE).split("\n")
    assert not [p for p in Path.cwd().glob("PWNED*")] and not list(tmp_path.glob("PWNED*"))
    calls = adb_calls(log)
    assert calls[-1][:3] == ["-s", "FAKE0001", "shell"] and len(calls[-1]) == 4  # one quoted command string


def test_adb_push_refuses_a_hostile_file_name_before_calling_adb(fake_adb, tmp_path):
    adb, log = fake_adb
    f = tmp_path / "m.onnx"
    f.write_bytes(b"x")
    with pytest.raises(ConfigError, match="not allowed"):
        AdbTransport("FAKE0001", adb=str(adb)).push(str(f), str(tmp_path / "dev"), "m; touch PWNED.onnx")
    assert adb_calls(log) == []
    with pytest.raises(ConfigError, match="not allowed"):
        AdbTransport("FAKE0001", adb=str(adb)).push(str(f), "/data/$(reboot)", "m.onnx")
    with pytest.raises(ConfigError, match="serial"):
        AdbTransport("-s evil", adb=str(adb))


def test_adb_device_not_connected(fake_adb):
    adb, _ = fake_adb
    with pytest.raises(DeviceError, match="adb device OTHER1 is not connected"):
        AdbTransport("OTHER1", adb=str(adb)).check()


def test_adb_missing_binary(tmp_path):
    with pytest.raises(DeviceError, match="adb .* is not installed"):
        AdbTransport("FAKE0001", adb=str(tmp_path / "no-adb")).check()


def test_adb_fingerprint(fake_adb):
    adb, _ = fake_adb
    fp = AdbTransport("FAKE0001", adb=str(adb)).fingerprint()
    assert fp["model"] == "Fake Phone 9" and fp["soc"] == "FK9000" and fp["abi"] == "arm64-v8a"
    assert fp["transport"] == "adb://FAKE0001" and "governor" in fp


def _adb_profiler(adb, tmp_path, fast_protocol, **kw):
    return RemoteProfiler(AdbTransport("FAKE0001", adb=str(adb), workdir=str(tmp_path / "phone")), "onnxruntime",
                          protocol=fast_protocol, python=sys.executable, **kw)


def test_adb_drop_mid_profile_then_resume(fake_adb, tmp_path, tiny_space, fast_protocol, monkeypatch):
    adb, log = fake_adb
    out = tmp_path / "phone.json"
    monkeypatch.setenv("FAKE_ADB_DROP_AFTER", "30")
    with pytest.raises(DeviceError, match="not connected.*rerun to resume"):
        profile_space(tiny_space, _adb_profiler(adb, tmp_path, fast_protocol), out, calibration_networks=2,
                      op_latency="in_network")
    partial = LatencyTable.load(out)
    kept = dict(partial.entries)
    assert partial.overheads and 0 < len(kept) < len(tiny_space.op_keys())
    monkeypatch.delenv("FAKE_ADB_DROP_AFTER")
    calls_before = len(adb_calls(log))
    prof = _adb_profiler(adb, tmp_path, fast_protocol, cooldown_s=0.01)
    with pytest.raises(TableMismatchError, match="runtime"):  # another cooldown is another setting: no resume
        profile_space(tiny_space, prof, out, calibration_networks=2,
                      op_latency="in_network")
    table = profile_space(tiny_space, _adb_profiler(adb, tmp_path, fast_protocol), out, calibration_networks=2,
                      op_latency="in_network")
    assert not table.missing(tiny_space)
    assert all(table.entries[k] == e for k, e in kept.items())
    model_pushes = sum(c[2] == "push" and c[3].endswith(".onnx") for c in adb_calls(log)[calls_before:])
    probes = len(table.in_network.cells(tiny_space)) + tiny_space.num_layers  # each layer's swaps and its base
    assert model_pushes == len(tiny_space.op_keys()) - len(kept) + probes + 2  # missing ops, probes, 2 calibration
    assert table.header["device"]["model"] == "Fake Phone 9"
    assert table.header["runtime"]["where"] == "on the device, through adb://FAKE0001"


# ---- runtime missing on the device ------------------------------------------------------------------
def test_runtime_missing_on_the_device(tmp_path, tiny_space, fast_protocol):
    bare = tmp_path / "python-without-packages"
    bare.write_text(f"#!/bin/sh\nexec {sys.executable} -S \"$@\"\n")  # -S: no site-packages, so no onnxruntime
    bare.chmod(bare.stat().st_mode | stat.S_IEXEC)
    prof = RemoteProfiler(LocalTransport(python=str(bare)), "onnxruntime", protocol=fast_protocol)
    with pytest.raises(DeviceError, match="runtime 'onnxruntime' is not installed on this device"):
        profile_space(tiny_space, prof, tmp_path / "t.json")
    assert not (tmp_path / "t.json").exists()


def test_a_remote_profile_pairs_its_timings_with_a_reference_on_the_device(tmp_path, tiny_space, fast_protocol):
    from dataclasses import replace

    prof = RemoteProfiler(LocalTransport(python=sys.executable, workdir=str(tmp_path / "dev")), "onnxruntime",
                          protocol=replace(fast_protocol, reference=True))
    table = profile_space(tiny_space, prof, tmp_path / "t.json", calibration_networks=4)
    assert table.reference and table.unit_ms > 0
    assert all(e.timing.reference_ms > 0 for e in table.entries.values())
    assert all(p["measured_ms"] > 0 for p in table.calibration.points)


def test_a_remote_validation_leaves_no_models_on_the_device(tmp_path, tiny_space, tiny_table, fast_protocol):
    from edgenas.tables.table import LatencyTable
    from edgenas.profiling.validate import validate_table

    table = LatencyTable.load(tiny_table)
    table.header["backend"] = "remote-onnxruntime"  # the local table stands in for one measured there
    device = tmp_path / "dev"
    prof = RemoteProfiler(LocalTransport(python=sys.executable, workdir=str(device)), "onnxruntime",
                          protocol=fast_protocol)
    report = validate_table(tiny_space, table, prof, n=3)
    assert len(report.measured_ms) == 3
    assert not list((device / "models").iterdir())  # pushed, timed twice, then removed


class _GarbledLocal(LocalTransport):
    """The runner's answers arrive cut short, as over a link that dropped."""

    def __init__(self, garble_check: bool, **kw):
        super().__init__(**kw)
        self.garble_check = garble_check

    def run(self, argv, timeout=600.0, stdin=None):
        proc = super().run(argv, timeout=timeout, stdin=stdin)
        if self.garble_check and "--check" in argv:
            proc.stdout = proc.stdout[:len(proc.stdout) // 2]
        return proc

    def read(self, remote_path):
        return super().read(remote_path)[:7]


@pytest.mark.parametrize("garble_check", [True, False])
def test_unreadable_runner_output_is_a_device_error(tmp_path, fast_protocol, garble_check):
    import torch.nn as nn

    prof = RemoteProfiler(_GarbledLocal(garble_check, workdir=str(tmp_path / "dev")), "onnxruntime",
                          protocol=fast_protocol)
    with pytest.raises(DeviceError, match="unreadable runner output .*; rerun to resume"):
        prof.measure(nn.ReLU(), (1, 1, 4, 4))


def test_device_runner_times_a_folder_and_reports_a_broken_model(tmp_path, tiny_space):
    from edgenas.deploy.formats.lowering import to_onnx_bytes

    key = tiny_space.op_keys()[1]
    (tmp_path / "good.onnx").write_bytes(to_onnx_bytes(build_op(key), key.input_shape))
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    out = tmp_path / "timings.json"
    runner = Path(__file__).resolve().parents[2] / "profilers" / "device_runner.py"
    proc = subprocess.run([sys.executable, str(runner), "--runtime", "onnxruntime", "--models", str(tmp_path),
                           "--out", str(out), "--min-runs", "3", "--min-time", "0", "--warmup", "1"],
                          capture_output=True, text=True)
    assert proc.returncode == 4 and "1 of 2 models failed: broken.onnx" in proc.stderr
    res = json.loads(out.read_text())["results"]
    assert res["good.onnx"]["timing"]["runs"] >= 3 and "error" in res["broken.onnx"]
    check = subprocess.run([sys.executable, str(runner), "--runtime", "onnxruntime", "--check"],
                           capture_output=True, text=True)
    assert check.returncode == 0 and json.loads(check.stdout)["runtime"] == "onnxruntime"


def test_device_runner_refuses_a_missing_reference_model(tmp_path):
    runner = Path(__file__).resolve().parents[2] / "profilers" / "device_runner.py"
    proc = subprocess.run([sys.executable, str(runner), "--runtime", "onnxruntime", "--models", str(tmp_path),
                           "--out", str(tmp_path / "t.json"), "--reference", str(tmp_path / "none.onnx")],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "reference model" in proc.stderr and "Traceback" not in proc.stderr


def test_device_runner_feeds_a_symbolic_batch_dim_with_1(tmp_path):
    import torch.nn as nn

    from edgenas.deploy.formats.lowering import to_onnx_bytes
    from profilers.device_runner import _onnxruntime

    (tmp_path / "dyn.onnx").write_bytes(to_onnx_bytes(nn.ReLU(), (1, 1, 4, 4), dynamic_batch=True))
    run, _ = _onnxruntime(str(tmp_path / "dyn.onnx"), 1)
    out, = run()
    assert out.shape == (1, 1, 4, 4)


# ---- ssh against a real sshd on 127.0.0.1 -----------------------------------------------------------
def _ssh(sshd, key=None, port=None):
    return SshTransport("127.0.0.1", user=sshd.user, port=port or sshd.port, identity=str(key or sshd.client_key),
                        options=sshd.options())


def test_ssh_runs_argument_lists_without_injection(sshd, tmp_path):
    t = _ssh(sshd)
    t.check()
    out = t.run(["sh", "-c", 'cd "$1" && shift && printf "%s\\n" "$@"', "sh", str(tmp_path), *HOSTILE]).stdout
    assert out.decode().split("\n")[:-1] == "\n".join(HOSTILE).split("\n")
    assert not list(tmp_path.glob("PWNED*"))
    f = tmp_path / "m.onnx"
    f.write_bytes(b"\x00\x01payload")
    dest = t.push(str(f), str(tmp_path / "dev"), "copy.onnx")
    assert t.read(dest) == b"\x00\x01payload"
    with pytest.raises(ConfigError, match="not allowed"):
        t.push(str(f), str(tmp_path / "dev"), "$(touch PWNED).onnx")


def test_ssh_authentication_fails(sshd):
    with pytest.raises(DeviceError, match="ssh authentication to .* failed"):
        _ssh(sshd, key=sshd.wrong_key).check()


def test_ssh_host_not_reachable(sshd):
    from device_helpers import free_port

    with pytest.raises(DeviceError, match="cannot reach"):
        _ssh(sshd, port=free_port()).check()


def test_ssh_profile_end_to_end(sshd, tmp_path, tiny_space, fast_protocol):
    prof = RemoteProfiler(_ssh(sshd), "onnxruntime", protocol=fast_protocol, python=sys.executable,
                          workdir=str(tmp_path / "board"))
    table = profile_space(tiny_space, prof, tmp_path / "board.json", calibration_networks=2)
    assert not table.missing(tiny_space) and table.backend == "remote-onnxruntime"
    assert table.header["device"]["transport"].startswith("ssh://") and table.header["device"]["cores"]
    assert "device_temperature_c" in table.stats


def test_a_local_transport_removes_the_folder_it_made():
    import gc
    import os

    t = LocalTransport()
    folder = t.default_workdir
    assert os.path.isdir(folder)
    del t
    gc.collect()
    assert not os.path.exists(folder)
