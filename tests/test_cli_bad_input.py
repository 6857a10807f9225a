"""Bad input of every kind through the command line: one line ``error: …`` naming the field, exit code 2,
nothing written, and the files given as input byte-identical afterwards (issue 18's classes)."""
import copy
import json
from pathlib import Path

import pytest

from cli_helpers import run_main
from conftest import TINY_DECLARATION

ARCH = "k3_e1-skip"  # of the tiny space


def one_line_error(code, out, fragment):
    assert code == 2, (out.out, out.err)
    assert out.err.startswith("error: ") and out.err.count("\n") == 1 and "Traceback" not in out.err, out.err
    assert fragment in out.err, out.err


def _set(doc, path, value):
    *head, last = path
    for k in head:
        doc = doc[k]
    if value is _DELETE:
        del doc[last]
    else:
        doc[last] = value


_DELETE = object()


# ---- tables -------------------------------------------------------------------------------------------------------
TABLE_DAMAGE = [
    (("entries", 1, "latency_ms"), float("nan"), "entries[1].latency_ms is nan"),
    (("entries", 1, "latency_ms"), float("inf"), "entries[1].latency_ms is inf"),
    (("entries", 1, "latency_ms"), -1.0, "entries[1].latency_ms is -1.0; must be a number >= 0"),
    (("entries", 1, "latency_ms"), "0.5", "must be a number >= 0"),
    (("entries", 0, "timing", "median_ms"), -3, "entries[0].timing.median_ms"),
    (("entries", 0, "timing", "stable"), "yes", "must be true or false"),
    (("entries", 2, "cost", "flops"), 1.5, "entries[2].cost.flops is 1.5; must be a whole number"),
    (("entries", 2, "key", "args", "in_ch"), 5, "is not an op of its space"),
    (("schema_version",), "2", "schema_version is '2'; it must be a whole number"),
    (("space", "fingerprint"), "0123456789abcdef", "does not give its fingerprint"),
    (("space", "declaration", "stages", "strides", 1), 0, "stages.strides[1] is 0"),
    (("calibration", "coef", 0), float("nan"), "calibration.coef[0] is nan"),
    (("in_network", "base_ms", 0), -0.5, "in_network.base_ms[0]"),
    (("reference",), {"arch": ARCH, "unit_ms": 0}, "reference.unit_ms is 0; must be a number > 0"),
    (("stats", "last_run_wall_s"), float("-inf"), "stats.last_run_wall_s is -inf"),
]


@pytest.mark.parametrize("path, value, fragment", TABLE_DAMAGE, ids=[".".join(map(str, d[0])) + f"={d[1]!r}"
                                                                        for d in TABLE_DAMAGE])
@pytest.mark.parametrize("command", ["predict", "show"])
def test_a_damaged_table_is_refused_naming_the_field(tiny_table, capsys, path, value, fragment, command):
    doc = json.loads(tiny_table.read_text())
    _set(doc, path, value)
    tiny_table.write_text(json.dumps(doc))
    before = tiny_table.read_bytes()
    argv = ["predict", ARCH, "--table", str(tiny_table)] if command == "predict" else ["table", "show", str(tiny_table)]
    one_line_error(*run_main(capsys, argv), fragment)
    assert tiny_table.read_bytes() == before


def test_a_calibration_that_overflows_is_refused(tiny_table, capsys):
    doc = json.loads(tiny_table.read_text())
    # measured ≈ e^1000 · sum: finite numbers in the file, an infinite latency for every architecture
    doc["calibration"].update(features=["log_sum", "const"], coef=[1.0, 1000.0], link="log")
    tiny_table.write_text(json.dumps(doc))
    one_line_error(*run_main(capsys, ["predict", ARCH, "--table", str(tiny_table)]), "its calibration is broken")


# ---- spaces -------------------------------------------------------------------------------------------------------
SPACE_DAMAGE = [
    (("stages", "strides", 1), 0, "stages.strides[1] is 0; must be a whole number from 1 to 4"),
    (("stages", "channels", 0), -4, "stages.channels[0] is -4"),
    (("stages", "channels", 0), 0, "stages.channels[0] is 0"),
    (("stages", "channels", 0), 16.7, "stages.channels[0] is 16.7; must be a whole number"),
    (("stages", "channels", 0), 10**6, "stages.channels[0] is 1000000; must be a whole number from 1 to 8192"),
    (("stages", "layers", 1), -2, "stages.layers[1] is -2"),
    (("stages", "layers"), [1], "stages.channels"),
    (("candidates", "k5_e3", "expansion"), 0, "candidates.k5_e3.expansion is 0"),
    (("candidates", "k5_e3", "kernel"), 0, "candidates.k5_e3.kernel is 0"),
    (("candidates", "k5_e3", "kernel"), 4, "candidates.k5_e3.kernel is 4; must be odd"),
    (("candidates", "k3_e1_g2", "groups"), 3, "candidates.k3_e1_g2.groups is 3; must divide every layer's channels"),
    (("candidates", "k5_e3", "dilation"), 2, "unknown key candidates.k5_e3.dilation"),
    (("candidates", "k5_e3", "op"), "conv", "candidates.k5_e3.op is 'conv'; known ops: ir, skip"),
    (("input", "size"), -28, "input.size is -28"),
    (("num_classes",), 0, "num_classes is 0; must be a whole number from 1 to 100000"),
    (("num_classes",), True, "num_classes is True"),
    (("head", "mid_ch"), _DELETE, "head.mid_ch is missing"),
    (("padding",), 1, "unknown key padding"),
    (("stages", "channels"), [8192, 8192], "is too large"),
]


@pytest.mark.parametrize("path, value, fragment", SPACE_DAMAGE,
                         ids=[".".join(map(str, d[0])) + f"={'del' if d[1] is _DELETE else repr(d[1])}"
                              for d in SPACE_DAMAGE])
@pytest.mark.parametrize("command", ["space show", "profile"])
def test_a_bad_space_declaration_is_refused_naming_the_field(tmp_path, capsys, path, value, fragment, command):
    decl = copy.deepcopy(TINY_DECLARATION)
    _set(decl, path, value)
    if path == ("stages", "channels"):  # the ceiling: wide layers on a large input
        decl["input"]["size"], decl["stem"]["out_ch"] = 2048, 8192
    space = tmp_path / "mine.json"
    space.write_text(json.dumps(decl))
    before = space.read_bytes()
    argv = (["space", "show", str(space)] if command == "space show"
            else ["profile", "--space", str(space), "-o", str(tmp_path / "t.json"), "--quiet"])
    one_line_error(*run_main(capsys, argv), fragment)
    assert space.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["mine.json"]


def test_a_space_that_is_not_an_object(tmp_path, capsys):
    space = tmp_path / "mine.json"
    space.write_text("[1, 2]")
    one_line_error(*run_main(capsys, ["space", "show", str(space)]), "a declaration is a JSON object")


# ---- budgets ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("option, value, fragment", [
    ("--max-latency", "5", "cannot read latency '5'; write a positive number with a unit"),
    ("--max-latency", "1e309ms", "must be a finite number above 0"),
    ("--max-latency", "0ms", "must be a finite number above 0"),
    ("--max-latency", "-1ms", "cannot read latency '-1ms'"),
    ("--max-latency", "nanms", "cannot read latency 'nanms'"),
    ("--max-memory", "1e999", "must be a finite number above 0"),
    ("--max-memory", "0KB", "must be a finite number above 0"),
])
def test_a_bad_budget_is_refused_before_anything_is_written(tiny_table, tmp_path, capsys, option, value, fragment):
    before = tiny_table.read_bytes()
    out = tmp_path / "run"
    one_line_error(*run_main(capsys, ["search", "nsga2", "--table", str(tiny_table), "--estimator", "oracle",
                                      option, value, "--out", str(out), "--quiet"]), fragment)
    assert not out.exists() and tiny_table.read_bytes() == before


# ---- paths --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("where, fragment", [
    (lambda tmp: tmp / "a-file" / "tables", "a-file is not a folder"),
    (lambda tmp: Path("/proc/edgenas-test/tables"), "cannot create folder /proc/edgenas-test/tables"),
])
def test_profile_many_out_dir_that_cannot_be_created(tmp_path, capsys, where, fragment):
    (tmp_path / "a-file").write_text("not a folder")
    one_line_error(*run_main(capsys, ["profile-many", "--no-ray", "--target", "onnxruntime",
                                      "--out-dir", str(where(tmp_path))]), fragment)
    assert (tmp_path / "a-file").read_text() == "not a folder"


# ---- architectures ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("arch, fragment", [("", "architecture is empty; space 'tiny' has 2 layers"),
                                            ("k3_e1", "has 1 layers; space 'tiny' has 2"),
                                            ("k3_e1-k7_e9", "unknown op 'k7_e9'")])
def test_a_bad_architecture(tiny_table, capsys, arch, fragment):
    one_line_error(*run_main(capsys, ["predict", arch, "--table", str(tiny_table)]), fragment)
