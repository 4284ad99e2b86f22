import os
from importlib.metadata import entry_points
from pathlib import Path

import kapiserver


def plugin_args() -> list:
    """The arguments that load the plugin in a user's suite run by a test: none where the installed package's
    pytest11 entry point loads it already (pytest refuses to register it twice), `-p kapiserver.testing.plugin`
    where kapiserver is not installed with its entry point (a checkout run in place)."""
    if any(ep.name == "kapiserver" for ep in entry_points(group="pytest11")):
        return []
    return ["-p", "kapiserver.testing.plugin"]


def user_env(**extra: str) -> dict:
    """The environment of a user's own pytest run by a test: this checkout's kapiserver on its path, and none of
    the variables pytest-xdist sets in a worker (``PYTEST_XDIST_WORKER`` and the like), which would otherwise tell
    the user's suite it is a worker when this suite runs under ``-n``."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("PYTEST_XDIST_") and name != "PYTEST_CURRENT_TEST"}
    env["PYTHONPATH"] = str(Path(kapiserver.__file__).resolve().parent.parent)
    env.update(extra)
    return env
