"""The README's Python API section runs as written (in a scratch folder)."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_python_api_runs_as_written(tmp_path, monkeypatch, capsys):
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Python API"):text.index("## Errors")]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md (Python API)", "exec"), {})
    assert (tmp_path / "runs/api/deploy/deploy.json").is_file()
    assert (tmp_path / "runs/api/nsga/result.json").is_file() and (tmp_path / "runs/api/random/result.json").is_file()
    assert "nsga2" in capsys.readouterr().out
