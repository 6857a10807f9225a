"""A search run folder is portable: moved with its table it still exports, from any working folder; a table
changed since the search, or gone, is refused in one line."""
import json
import shutil

import pytest

from cli_helpers import run_main
from edgenas.deploy.source import load_search_source
from export_helpers import make_search_run


@pytest.fixture(scope="module")
def moved(tmp_path_factory):
    """A finished search (``search/`` beside its ``table.json``) moved, folder and all, to another place."""
    first = tmp_path_factory.mktemp("first") / "project"
    make_search_run(first)
    there = tmp_path_factory.mktemp("moved") / "project"
    shutil.move(str(first), str(there))
    return there


@pytest.fixture
def project(moved, tmp_path):
    """A private copy of the moved project."""
    return shutil.copytree(moved, tmp_path / "project")


def test_the_result_keeps_the_table_relative_to_the_run_and_its_digest(project):
    ref, = json.loads((project / "search" / "result.json").read_text())["sources"]["tables"]
    assert ref["relative"] == "../table.json" and ref["digest"]
    assert ref["path"].endswith("/table.json") and not ref["path"].startswith(str(project))  # where it was made


def test_a_moved_run_exports_from_another_working_folder(project, tmp_path, monkeypatch, capsys):
    assert load_search_source(project / "search").table == str(project / "search" / "../table.json")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, out = run_main(capsys, ["export", "../project/search", "--out", "deployed", "--models", "0", "--epochs", "1",
                                  "--batch-size", "64", "--threads", "1", "--quiet"])
    assert code == 0, out.err
    doc = json.loads((elsewhere / "deployed" / "deploy.json").read_text())
    assert len(doc["models"]) == 1 and doc["models"][0]["accuracy"] > 0


def _one_line_error(code, out, fragment):
    assert code == 2 and out.err.startswith("error: ") and out.err.count("\n") == 1, out.err
    assert fragment in out.err, out.err


def test_a_table_changed_since_the_search_is_refused_and_left_as_it_is(project, tmp_path, capsys):
    table = project / "table.json"
    doc = json.loads(table.read_text())
    doc["entries"][3]["latency_ms"] *= 2  # re-profiled, or edited: another table under the same name
    table.write_text(json.dumps(doc))
    before = table.read_bytes()
    code, out = run_main(capsys, ["export", str(project / "search"), "--out", str(tmp_path / "d"), "--quiet"])
    _one_line_error(code, out, "has changed since search run")
    assert table.read_bytes() == before and not (tmp_path / "d").exists()


def test_a_table_gone_is_refused_naming_where_it_was_looked_for(project, tmp_path, capsys):
    (project / "table.json").unlink()
    code, out = run_main(capsys, ["export", str(project / "search"), "--out", str(tmp_path / "d"), "--quiet"])
    _one_line_error(code, out, "name the table to use")
    assert "table.json" in out.err and not (tmp_path / "d").exists()
