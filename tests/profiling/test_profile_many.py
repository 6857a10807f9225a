"""Several targets at once: target specs, a table per target, per-device resume, failures reported per target."""
from __future__ import annotations

import json

import pytest

from edgenas.errors import ConfigError
from edgenas.tables.table import LatencyTable
from edgenas.profiling.many import group_by_host, profile_many
from profilers.targets import parse_target


def test_target_specs():
    t = parse_target("jetson=ssh://ubuntu@10.0.0.7:2222/onnxruntime?identity=/k/id&cooldown=2")
    assert (t.name, t.kind, t.host, t.runtime) == ("jetson", "ssh", "10.0.0.7", "onnxruntime")
    assert dict(t.options)["_port"] == "2222" and dict(t.options)["cooldown"] == "2"
    p = parse_target("adb://R58M123/litert")
    assert (p.kind, p.host, p.runtime, p.name) == ("adb", "adb:R58M123", "litert", "adb-R58M123-litert")
    assert parse_target("cpu=onnxruntime").kind == "host"
    assert parse_target("local:executorch").host == "localhost"
    groups = group_by_host([parse_target(s) for s in ["a=onnxruntime", "b=local:onnxruntime", "adb://X1/litert",
                                                      "adb://X2/litert"]])
    assert [len(g) for g in groups.values()] == [2, 1, 1]


@pytest.mark.parametrize("spec, fragment", [
    ("ssh://h/tflite", "device runtime 'tflite'"), ("http://x/onnxruntime", "is not a backend"),
    ("ssh://h/onnxruntime?evil=1", "unknown option"), ("bad name!=onnxruntime", "target name"),
    ("ssh:///onnxruntime", "no host"), ("nosuch", "is not a backend")])
def test_bad_target_specs(spec, fragment):
    with pytest.raises(ConfigError, match=fragment):
        parse_target(spec)


def _small(tiny_space, out, ray=None, **kw):
    return profile_many(tiny_space, ["cpu=onnxruntime", "dev=local:onnxruntime"], out, calibration_networks=2,
                        ray=ray, **kw)


def test_a_table_per_target_and_resume_per_device(tiny_space, tmp_path, fast_protocol):
    res = _small(tiny_space, tmp_path, protocol=fast_protocol)
    assert [r.ok for r in res] == [True, True], [r.message for r in res]
    cpu, dev = (LatencyTable.load(tmp_path / f"tiny.{n}.json") for n in ("cpu", "dev"))
    assert cpu.backend == "onnxruntime" and dev.backend == "remote-onnxruntime"
    # kill one device's profile half way: only that table loses entries, and only they are measured again
    kept = dict(list(dev.entries.items())[:3])
    dev.entries, dev.calibration = kept, None
    dev.save(tmp_path / "tiny.dev.json")
    cpu_bytes = (tmp_path / "tiny.cpu.json").read_bytes()
    res = _small(tiny_space, tmp_path, protocol=fast_protocol)
    assert all(r.ok for r in res)
    again = LatencyTable.load(tmp_path / "tiny.dev.json")
    assert not again.missing(tiny_space) and all(again.entries[k] == e for k, e in kept.items())
    assert json.loads((tmp_path / "tiny.cpu.json").read_bytes())["entries"] == json.loads(cpu_bytes)["entries"]


def test_one_failing_device_does_not_stop_the_others(tiny_space, tmp_path, fast_protocol):
    res = profile_many(tiny_space, ["cpu=onnxruntime", "phone=adb://NOSUCH/onnxruntime?adb=/nonexistent/adb"],
                       tmp_path, protocol=fast_protocol, calibration_networks=2, ray=None)
    assert res[0].ok and not res[1].ok and "adb" in res[1].message and "not installed" in res[1].message
    with pytest.raises(ConfigError, match="must differ"):
        profile_many(tiny_space, ["a=onnxruntime", "a=torch"], tmp_path, ray=None)


@pytest.mark.slow
def test_ray_runs_a_task_per_host(tiny_space, tmp_path, fast_protocol):
    pytest.importorskip("ray", reason="Ray is not installed: pip install ray (the test extra installs it)")
    res = profile_many(tiny_space, ["cpu=onnxruntime", "dev=local:onnxruntime"], tmp_path, protocol=fast_protocol,
                       calibration_networks=2, ray="local")
    assert all(r.ok for r in res), [r.message for r in res]
    assert (tmp_path / "tiny.cpu.json").exists() and (tmp_path / "tiny.dev.json").exists()
