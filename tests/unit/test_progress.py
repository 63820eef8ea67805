import io
import sys

from arb.progress import progress_bar


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_progress_bar_when_piped(monkeypatch):
    piped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", piped)
    with progress_bar("verify", 10) as update:
        assert update is None
    assert piped.getvalue() == ""


def test_progress_bar_drawn_on_a_terminal(monkeypatch):
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    with progress_bar("verify", 10) as update:
        assert update is not None
        update(5)
        update(10)
    assert "verify" in tty.getvalue()
