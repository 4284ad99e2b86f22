"""Quota usage helpers against upstream's (pkg/apis/core/helper): which resource names are extended resources."""

from kapiserver.machinery.quotausage import _extended


def test_extended_resource_names_as_upstreams_is_extended_resource_name():
    """Native: no "/", or "kubernetes.io/" anywhere in it; never one starting with "requests."; and
    "requests.<name>" must be a qualified name."""
    assert _extended("example.com/dongle")
    for native in ("cpu", "kubernetes.io/x", "foo.kubernetes.io/x", "xkubernetes.io/x"):
        assert not _extended(native), native
    assert not _extended("requests.example.com/dongle")
    assert not _extended("example.com/Bad_")              # requests.example.com/Bad_ is no qualified name
    assert not _extended("example.com/" + "a" * 70)       # its name part over 63 characters
