"""A Ray cluster that is not there is said in one line before anything is written, by every command that joins
one: ``ray.init`` itself would log GCS warnings for minutes and retry."""
import pytest

import nsga_helpers as H
from cli_helpers import run_main
from edgenas.errors import BackendUnavailableError
from edgenas.ray_address import check_reachable

NOBODY = "127.0.0.1:1"  # nothing listens on port 1


def test_check_reachable(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    check_reachable(None)       # a local cluster: nothing to reach
    check_reachable("auto")     # left to Ray
    with pytest.raises(BackendUnavailableError, match="not reachable"):
        check_reachable(NOBODY)
    with pytest.raises(BackendUnavailableError, match="HOST:PORT"):
        check_reachable("nowhere")
    monkeypatch.setenv("RAY_ADDRESS", NOBODY)  # what ray.init would join
    with pytest.raises(BackendUnavailableError, match=f"at {NOBODY} is not reachable"):
        check_reachable(None)


@pytest.mark.parametrize("command", [
    ["search", "nash", "--table", str(H.TABLE), "--max-latency", "0.08ms", "--ray", "--quiet", "--out", "{out}"],
    ["search", "lemonade", "--table", str(H.TABLE), "--max-latency", "0.08ms", "--ray", "--quiet", "--out", "{out}"],
    ["bench", "build", "--space", "fbnet-small", "--archs", "2", "--three-seed", "0", "--slow", "0", "--ray",
     "--quiet", "--out", "{out}"],
    ["profile-many", "--space", "fbnet-small", "--target", "a=onnxruntime", "--out-dir", "{out}"],
], ids=["nash", "lemonade", "bench-build", "profile-many"])
def test_unreachable_cluster_writes_nothing(tmp_path, capsys, monkeypatch, command):
    pytest.importorskip("ray", reason="Ray is not installed: pip install ray (the test extra installs it)")
    monkeypatch.setenv("RAY_ADDRESS", NOBODY)
    out = tmp_path / "out"
    code, io = run_main(capsys, [str(out) if a == "{out}" else a for a in command])
    assert code == 2 and f"Ray cluster at {NOBODY} is not reachable" in io.err and "Traceback" not in io.err
    assert list(tmp_path.iterdir()) == []
