"""
--etcd-servers-overrides: the flag's parsing and the routing of keys to the
store of the resource's own etcd cluster.
"""

from __future__ import annotations

import pytest

from kapiserver.config import OptionError, ServerConfig
from kapiserver.storage.etcd3 import RoutedStorage, _override_key_roots


class _Named:
    def __init__(self, name):
        self.name = name

    def get(self, key):
        return self.name


def test_overrides_flag_parses_group_resource_and_servers():
    """Each entry is group/resource#url;url, the core group empty; TLS files and the media type are kept."""
    config = ServerConfig.from_options({
        "etcd-servers": "http://127.0.0.1:2379",
        "etcd-servers-overrides": "/events#http://127.0.0.1:2380;http://127.0.0.1:2381,apps/deployments#https://e:2379",
        "etcd-cafile": "/ca.pem", "storage-media-type": "application/vnd.kubernetes.protobuf"},
        choose_host=lambda: None)
    assert dict(config.etcd_servers_overrides) == {
        "/events": ("http://127.0.0.1:2380", "http://127.0.0.1:2381"),
        "apps/deployments": ("https://e:2379",)}
    assert config.etcd_cafile == "/ca.pem" and config.etcd_certfile is None
    with pytest.raises(OptionError):
        ServerConfig.from_options({"etcd-servers": "http://a:1", "etcd-servers-overrides": "events#http://b:1"},
                                  choose_host=lambda: None)
    with pytest.raises(OptionError):
        ServerConfig.from_options({"etcd-servers-overrides": "/events#http://b:1"}, choose_host=lambda: None)


def test_keys_go_to_the_overriding_store():
    """Keys under an overridden resource's roots go to its store; every other key to the default."""
    events, default = _Named("events"), _Named("default")
    routes = {root: events for root in _override_key_roots("/registry", "/events")}
    routes.update({root: _Named("deployments") for root in _override_key_roots("/registry/", "apps/deployments")})
    storage = RoutedStorage(default, routes)
    assert storage.get(b"/registry/events/default/e1") == "events"
    assert storage.get(b"/registry/deployments/default/d") == "deployments"
    assert storage.get(b"/registry/apps/deployments/default/d") == "deployments"
    assert storage.get(b"/registry/eventsx/default/e1") == "default"
    assert storage.get(b"/registry/pods/default/p") == "default"
