"""The kapiserver pytest plugin for this repository's own tests, where the package is not (re)installed
with its ``pytest11`` entry point; once it is, pytest has loaded the plugin already."""

from importlib.metadata import entry_points

if not any(ep.name == "kapiserver" for ep in entry_points(group="pytest11")):
    pytest_plugins = ["kapiserver.testing.plugin"]
