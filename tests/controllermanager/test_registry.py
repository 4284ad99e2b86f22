"""--controllers as upstream reads it: '*', names, '-name', aliases, unknown names refused."""

import pytest
from twisted.python import usage

from kapiserver.controllermanager import registry
from kapiserver.controllermanager.tap import Options


def test_star_names_and_exclusions():
    everything = registry.selected(["*"])
    assert "serviceaccount-controller" in everything
    assert not set(everything) & registry.DISABLED_BY_DEFAULT
    assert "serviceaccount-controller" not in registry.selected(["*", "-serviceaccount"])
    assert registry.selected(["serviceaccount"]) == ["serviceaccount-controller"]


def test_unknown_controller_is_a_usage_error():
    with pytest.raises(usage.UsageError, match='"bogus" is not in the list of known controllers'):
        Options().parseOptions(["--kubeconfig=k", "--controllers=*,bogus"])


def test_flags_parse_as_upstream():
    options = Options()
    options.parseOptions(["--kubeconfig=k", "--leader-elect=false", "--concurrent-deployment-syncs=3",
                          "--node-monitor-grace-period=50s"])
    assert options["leader-elect"] is False and options["concurrent-deployment-syncs"] == 3
    assert options["node-monitor-grace-period"] == 50.0
