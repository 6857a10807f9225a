"""One progress type: every phase ends at its total; bars only on a terminal, never on stdout."""
import io
import sys

from edgenas.progress import prefixed, progress_bar, quiet, steps


def test_steps_end_every_phase_at_its_total():
    seen = []
    assert list(steps(lambda *a: seen.append(a), "overhead", "abc")) == ["a", "b", "c"]
    assert seen == [("overhead", 0, 3), ("overhead", 1, 3), ("overhead", 2, 3), ("overhead", 3, 3)]
    seen.clear()
    prefixed(lambda *a, **m: seen.append((a, m)), "model p0")("train", 1, 2, loss=0.5)
    assert seen == [(("model p0 train", 1, 2), {"loss": 0.5})]


def test_no_bar_and_no_output_off_a_terminal(capsys):
    with progress_bar("profile") as bar:
        assert bar is quiet
        bar("ops", 1, 2, loss=1.0)
    assert capsys.readouterr() == ("", "")


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_on_a_terminal_bars_go_to_stderr_and_an_unfinished_phase_is_removed(monkeypatch, capsys):
    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    with progress_bar("export") as bar:
        bar("model p0 train", 0, 8)
        bar("model p0 train", 8, 8, loss=0.25, acc=0.9)
        bar("skipped", 0, 6)
    shown = term.getvalue()
    assert "model p0 train" in shown and "8/8" in shown and "loss 0.25" in shown
    assert "skipped" not in shown.rsplit("model p0 train", 1)[-1]  # gone from the final frame
    assert capsys.readouterr().out == ""
