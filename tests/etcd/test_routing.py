"""
--etcd-servers-overrides: the flag's parsing, the Registry giving each
overridden resource (its Store and its watch cache) its own storage, and
reads of such a resource answering from that storage's revisions alone.
"""

from __future__ import annotations

import http.client
import json
import time

import pytest
from twisted.internet import reactor, task
from twisted.internet.defer import Deferred

from kapiserver.config import OptionError, ServerConfig
from kapiserver.registry.catalog import ResourceInfo
from kapiserver.registry.options import ListOptions
from kapiserver.registry.registry import Registry
from kapiserver.storage import RevisionCompacted, Unavailable
from kapiserver.storage.etcd3 import Etcd3Storage
from kapiserver.storage.health import check_all
from kapiserver.storage.memory import MemoryStorage


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


def _registry(clock, overrides, **kw):
    default = MemoryStorage(clock)
    storages = {key: MemoryStorage(clock) for key in overrides}
    registry = Registry(default, clock, storage_overrides=storages, **kw)
    return registry, default, storages


def test_each_overridden_resource_gets_its_own_storage():
    """Stores (and watch caches) of an overridden resource use its storage in every group-version serving it, custom resources too; the rest the default."""
    clock = task.Clock()
    registry, default, storages = _registry(
        clock, [("", "events"), ("apps", "deployments"), ("stable.example.com", "crontabs")], watch_cache=True)
    events, deployments, crontabs = storages.values()
    assert registry.store("", "v1", "events").storage is events
    assert registry.store("events.k8s.io", "v1", "events").storage is events
    assert registry.store("events.k8s.io", "v1", "events").reads.storage is events
    assert registry.store("apps", "v1", "deployments").storage is deployments
    assert registry.store("apps", "v1", "deployments").reads.storage is deployments
    assert registry.store("", "v1", "pods").storage is default
    assert registry.store("", "v1", "pods").reads.storage is default
    store = registry.add(ResourceInfo("stable.example.com", "v1", "crontabs", "CronTab", True), builtin=False)
    assert store.storage is crontabs and store.reads.storage is crontabs
    other = registry.add(ResourceInfo("other.example.com", "v1", "crontabs", "CronTab", True), builtin=False)
    assert other.storage is default
    assert registry.storages == [default, events, deployments, crontabs]
    registry.stop_watch_caches()


def _now(d):
    """The result of a Deferred or coroutine that must finish without the clock moving."""
    if not isinstance(d, Deferred):
        d = Deferred.fromCoroutine(d)
    outcome = []
    d.addBoth(outcome.append)
    assert outcome, "the read waited"
    if hasattr(outcome[0], "raiseException"):
        outcome[0].raiseException()
    return outcome[0]


def test_consistent_read_of_an_overridden_resource_does_not_wait_on_the_default_store():
    """A consistent LIST and GET of a resource on its own storage are served from its watch cache at once, at that storage's revision, however far the default storage's revision is ahead."""
    clock = task.Clock()
    registry, default, storages = _registry(clock, [("", "configmaps")], watch_cache=True)
    configmaps = storages[("", "configmaps")]
    namespaces = registry.store("", "v1", "namespaces")
    clock.advance(0)
    _now(namespaces.create(None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}))
    for i in range(40):
        _now(default.create(b"/elsewhere/%d" % i, b"x"))
    store = registry.store("", "v1", "configmaps")
    created = _now(store.create("default", {"apiVersion": "v1", "kind": "ConfigMap",
                                            "metadata": {"name": "cm"}, "data": {"k": "v"}}))
    on_configmaps = _now(configmaps.current_revision())
    assert created["metadata"]["resourceVersion"] == str(on_configmaps)
    assert on_configmaps < _now(default.current_revision())
    ranges = []
    configmaps.range = lambda *a, **kw: ranges.append(a) or MemoryStorage.range(configmaps, *a, **kw)

    items, meta = _now(store.list("default", ListOptions()))
    assert [item["metadata"]["name"] for item in items] == ["cm"]
    assert meta["resourceVersion"] == str(on_configmaps)
    assert _now(store.get("default", "cm"))["data"] == {"k": "v"}
    assert ranges == []     # from the watch cache, not a fallback read of storage
    registry.stop_watch_caches()


def test_health_covers_every_storage(run):
    """check_all over the registry's storages fails when an override's storage is down."""
    clock = task.Clock()
    registry, default, storages = _registry(clock, [("", "events")])
    assert run(check_all(registry.storages)) is None
    run(storages[("", "events")].close())
    with pytest.raises(Unavailable):
        run(check_all(registry.storages))


# -- against two real etcd clusters -------------------------------------------------------------


@pytest.fixture
def two_etcds(etcd):
    from etcd_server import EtcdCluster
    other = EtcdCluster(1).start()
    yield etcd, other
    other.stop()


def _keys(run, urls, prefix):
    storage = Etcd3Storage(urls, reactor)
    try:
        return [kv.key for kv in run(storage.range(prefix)).kvs]
    finally:
        run(storage.close())


def _compacted_at(run, storage, revision):
    try:
        run(storage.range(b"/", revision=revision))
    except RevisionCompacted:
        return True
    return False


def test_overridden_resource_lives_and_is_read_on_its_own_etcd(two_etcds, tmp_path, run):
    """With /configmaps on a second etcd: ConfigMaps are stored there, a consistent LIST answers at once at that
    cluster's revision, a sendInitialEvents watch ends its initial events without a 504 although the default
    cluster's revision is far ahead, both clusters are compacted, and /readyz fails when the second etcd is down."""
    from e2e.conftest import APIServerProcess
    main, other = two_etcds
    server = APIServerProcess(tmp_path / "a", args=(f"--etcd-servers={','.join(main.urls)}",
                                                    f"--etcd-servers-overrides=/configmaps#{';'.join(other.urls)}",
                                                    "--etcd-compaction-interval=1s", "--secure-port=0")).start()
    try:
        status, body = server.request("POST", "/api/v1/namespaces/default/configmaps",
                                      {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}})
        assert status == 201, body
        # Every ConfigMap is on the second etcd: ours, and the one the apiserver publishes in kube-system (and
        # each namespace's kube-root-ca.crt, which the root CA publisher writes once this apiserver has won the
        # controllers' election: before or after this look).
        assert [key for key in _keys(run, other.urls, b"/registry/configmaps/")
                if not key.endswith(b"/kube-root-ca.crt")] == [
            b"/registry/configmaps/default/cm", b"/registry/configmaps/kube-system/extension-apiserver-authentication"]
        assert _keys(run, main.urls, b"/registry/configmaps/") == []
        ahead = Etcd3Storage(main.urls, reactor)
        for i in range(30):
            run(ahead.create(b"/elsewhere/%d" % i, b"x"))
        main_revision = run(ahead.current_revision())
        run(ahead.close())

        status, listing = server.request("GET", "/api/v1/namespaces/default/configmaps")
        assert status == 200 and [i["metadata"]["name"] for i in listing["items"]
                                  if i["metadata"]["name"] != "kube-root-ca.crt"] == ["cm"]
        assert int(body["metadata"]["resourceVersion"]) <= int(listing["metadata"]["resourceVersion"]) < main_revision

        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=true"
                     "&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan")
        response = conn.getresponse()
        assert response.status == 200
        events = []
        while not events or events[-1]["type"] not in ("BOOKMARK", "ERROR"):
            events.append(json.loads(response.readline()))
        conn.close()
        assert [(e["type"], e["object"].get("metadata", {}).get("name")) for e in events][:1] == [("ADDED", "cm")]
        assert events[-1]["type"] == "BOOKMARK", events[-1]

        # Compacted at least up to the ConfigMap's write on its cluster (and as far on the default one).
        for cluster, revision in ((main, 2), (other, int(body["metadata"]["resourceVersion"]) - 1)):
            storage = Etcd3Storage(cluster.urls, reactor)
            try:
                deadline = time.monotonic() + 30
                while not _compacted_at(run, storage, revision):
                    assert time.monotonic() < deadline, f"{cluster.urls} was not compacted"
                    time.sleep(0.2)
            finally:
                run(storage.close())

        status, _ = server.request("GET", "/readyz")
        assert status == 200
        other.stop()
        deadline = time.monotonic() + 30
        while server.request("GET", "/readyz")[0] == 200:
            assert time.monotonic() < deadline, "/readyz stayed ready with the override's etcd down"
            time.sleep(0.2)
    finally:
        server.stop()


def test_rbac_sees_role_bindings_on_their_own_storage():
    """With RBAC objects routed to another storage, the authorizer's snapshot follows that storage's
    revision: a binding written there takes effect without any write to the default storage."""
    from kapiserver.auth.authz import Attributes
    from kapiserver.auth.rbac import RBACAuthorizer
    from kapiserver.auth.user import UserInfo
    clock = task.Clock()
    rbac_resources = [("rbac.authorization.k8s.io", r) for r in ("clusterroles", "clusterrolebindings", "roles",
                                                                 "rolebindings")]
    registry, default, storages = _registry(clock, rbac_resources)
    authorizer = RBACAuthorizer(registry)
    ask = Attributes(UserInfo("carol", groups=["system:authenticated"]), "get", True, "", "", "v1", "nodes", "", "")
    assert _now(authorizer.authorize(ask)).allowed is False
    group = "rbac.authorization.k8s.io"
    _now(registry.store(group, "v1", "clusterroles").create(None, {
        "apiVersion": f"{group}/v1", "kind": "ClusterRole", "metadata": {"name": "node-reader"},
        "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["nodes"]}]}))
    _now(registry.store(group, "v1", "clusterrolebindings").create(None, {
        "apiVersion": f"{group}/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "carol-reads-nodes"},
        "roleRef": {"apiGroup": group, "kind": "ClusterRole", "name": "node-reader"},
        "subjects": [{"kind": "User", "name": "carol"}]}))
    assert _now(default.current_revision()) == 1
    assert _now(authorizer.authorize(ask)).allowed is True
