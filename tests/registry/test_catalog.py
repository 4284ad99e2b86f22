"""The resource catalogue and --runtime-config."""

import pytest

from kapiserver.registry.catalog import Catalog, enabled_builtin


def test_storage_version_hash_matches_upstream():
    """Pods' storageVersionHash is the one upstream 1.32 publishes."""
    assert Catalog().lookup("", "v1", "pods").storage_version_hash == "xPOwRZ+Yhw8="


def test_runtime_config_turns_group_versions_off_and_on():
    """api/all=false leaves only what is switched back on; apps/v1=false removes apps alone."""
    only_core = Catalog(enabled_builtin({"api/all": False, "v1": True}))
    assert only_core.lookup("", "v1", "pods") is not None
    assert only_core.lookup("apps", "v1", "deployments") is None
    assert only_core.versions("apps") == []
    no_apps = Catalog(enabled_builtin({"apps/v1": False}))
    assert no_apps.lookup("apps", "v1", "deployments") is None
    assert no_apps.lookup("batch", "v1", "jobs") is not None


def test_runtime_config_unknown_group_is_refused():
    """An unknown group-version in --runtime-config is an error, as upstream."""
    with pytest.raises(ValueError, match="unknown api groups bogus/v9"):
        enabled_builtin({"bogus/v9": True})
