"""docs/apiserver.md lists every kube-apiserver flag, as the man page does (tests/test_man.py)."""

from pathlib import Path

from kapiserver.tap import Options

DOC = (Path(__file__).resolve().parent.parent / "docs" / "apiserver.md").read_text()


def test_every_flag_is_in_the_apiserver_page():
    """Each of Options' parameters has a row `--name` in docs/apiserver.md's flag tables."""
    missing = [name for name, *_ in Options.optParameters if f"| `--{name}` |" not in DOC]
    assert missing == []
