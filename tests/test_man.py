"""The hand-written man page documents exactly the options kube-apiserver accepts, with their defaults."""
import pathlib
import re
import shutil
import subprocess

import pytest

from kapiserver.tap import Options

MAN_PAGE = pathlib.Path(__file__).resolve().parent.parent / "man" / "kube-apiserver.8"


def roff_to_text(text):
    """The page's text with roff's escaped hyphens and font changes removed."""
    return re.sub(r"\\f[BIRP]", "", text.replace("\\-", "-").replace("\\e", "\\"))


def documented_entries():
    """Each .TP entry of the OPTIONS section: the long option names in its tag, and its body text."""
    lines = MAN_PAGE.read_text().splitlines()
    start = lines.index(".SH OPTIONS")
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith(".SH "))
    entries = []
    i = start
    while i < end:
        if lines[i] == ".TP":
            tag = roff_to_text(lines[i + 1])
            body = []
            i += 2
            while i < end and lines[i] not in (".TP",) and not lines[i].startswith(".SS"):
                body.append(roff_to_text(lines[i]))
                i += 1
            names = re.findall(r"(?<![\w-])--([a-z][a-z0-9-]*)", tag)
            entries.append((names, " ".join(body)))
        else:
            i += 1
    return entries


def accepted_long_options():
    """Every long option Options accepts, without dashes or "=" (parameters, flags and opt_ methods)."""
    return {name.rstrip("=") for name in Options().longOpt}


def test_every_option_has_an_entry():
    """Each long option the program accepts has its own .TP entry in the OPTIONS section."""
    documented = {name for names, _ in documented_entries() for name in names}
    missing = accepted_long_options() - documented
    assert not missing, f"options missing from man/kube-apiserver.8: {sorted(missing)}"


def test_every_parameter_of_options_is_listed():
    """Every entry of Options.optParameters and optFlags is documented (the declared lists themselves)."""
    documented = {name for names, _ in documented_entries() for name in names}
    declared = {entry[0] for entry in Options.optParameters + getattr(Options, "optFlags", [])}
    assert declared and declared <= documented


def test_no_entry_for_an_option_that_does_not_exist():
    """The page documents no option the program would reject."""
    accepted = accepted_long_options()
    for names, _ in documented_entries():
        assert names, "a .TP entry in OPTIONS names no long option"
        for name in names:
            assert name in accepted, f"man page documents unknown option --{name}"


def test_entries_state_the_real_defaults():
    """Each option with a default says "Default: <value>" with the value Options actually uses."""
    bodies = {name: body for names, body in documented_entries() for name in names}
    for name, _short, default, *_ in Options.optParameters:
        if default is None:
            continue
        assert f"Default: {default}" in bodies[name], f"--{name}: man page does not give default {default}"


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
def test_page_renders_without_errors():
    """groff formats the page as a man page without errors."""
    result = subprocess.run(["groff", "-man", "-Tutf8", "-z", str(MAN_PAGE)], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0
    assert "error" not in result.stderr.lower()
