from importlib.metadata import entry_points


def plugin_args() -> list:
    """The arguments that load the plugin in a user's suite run by a test: none where the installed package's
    pytest11 entry point loads it already (pytest refuses to register it twice), `-p kapiserver.testing.plugin`
    where kapiserver is not installed with its entry point (a checkout run in place)."""
    if any(ep.name == "kapiserver" for ep in entry_points(group="pytest11")):
        return []
    return ["-p", "kapiserver.testing.plugin"]
