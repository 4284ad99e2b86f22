"""The discovery documents: legacy meta/v1 and aggregated apidiscovery.k8s.io/v2."""

from __future__ import annotations

import hashlib

import pytest

from kapiserver.endpoints import discovery
from kapiserver.machinery import codec
from kapiserver.registry.catalog import Catalog, ResourceInfo, Subresource


@pytest.fixture
def catalog() -> Catalog:
    return Catalog()


def _by_name(entries, key="name"):
    return {entry[key]: entry for entry in entries}


def test_api_versions_bytes():
    """GET /api is APIVersions with v1 and the one 0.0.0.0/0 address, in upstream's field order."""
    assert codec.encode(discovery.api_versions("10.0.0.1:6443")) == (
        b'{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":'
        b'[{"clientCIDR":"0.0.0.0/0","serverAddress":"10.0.0.1:6443"}]}\n')


def test_api_group_list_excludes_core_and_orders_versions(catalog):
    """GET /apis lists the named groups only, each with its preferred version first; the aggregator's own group
    first of all, then the built-in groups by upstream's priorities."""
    doc = discovery.api_group_list(catalog)
    assert list(doc) == ["kind", "apiVersion", "groups"]
    assert (doc["kind"], doc["apiVersion"]) == ("APIGroupList", "v1")
    names = [g["name"] for g in doc["groups"]]
    assert "" not in names and names[:3] == ["apiregistration.k8s.io", "apps", "events.k8s.io"]
    assert names[-2:] == ["discovery.k8s.io", "flowcontrol.apiserver.k8s.io"]
    autoscaling = _by_name(doc["groups"])["autoscaling"]
    assert autoscaling["versions"] == [{"groupVersion": "autoscaling/v2", "version": "v2"},
                                       {"groupVersion": "autoscaling/v1", "version": "v1"}]
    assert autoscaling["preferredVersion"] == {"groupVersion": "autoscaling/v2", "version": "v2"}
    assert list(autoscaling) == ["name", "versions", "preferredVersion"]


def test_custom_groups_follow_builtin_groups_sorted_by_name(catalog):
    """CRD groups come after every built-in group, ordered by name whatever order they were added in."""
    catalog.add(ResourceInfo("zeta.example.com", "v1", "things", "Thing", True))
    catalog.add(ResourceInfo("alpha.example.com", "v1", "widgets", "Widget", True))
    names = [g["name"] for g in discovery.api_group_list(catalog)["groups"]]
    assert names[-2:] == ["alpha.example.com", "zeta.example.com"]


def test_api_group(catalog):
    """GET /apis/{group} is one APIGroup; unknown groups and the core group give None."""
    doc = discovery.api_group(catalog, "apps")
    assert codec.encode(doc) == (
        b'{"kind":"APIGroup","apiVersion":"v1","name":"apps","versions":[{"groupVersion":"apps/v1",'
        b'"version":"v1"}],"preferredVersion":{"groupVersion":"apps/v1","version":"v1"}}\n')
    assert discovery.api_group(catalog, "nope.example.com") is None
    assert discovery.api_group(catalog, "") is None


def test_core_resource_list_entries(catalog):
    """GET /api/v1 lists resources and subresources sorted by path, with upstream's fields."""
    doc = discovery.api_resource_list(catalog, "", "v1")
    assert list(doc) == ["kind", "apiVersion", "groupVersion", "resources"]
    assert (doc["kind"], doc["groupVersion"]) == ("APIResourceList", "v1")
    names = [r["name"] for r in doc["resources"]]
    assert names == sorted(names)
    assert names.index("pods/status") < names.index("podtemplates")
    entries = _by_name(doc["resources"])
    assert list(entries["pods"]) == ["name", "singularName", "namespaced", "kind", "verbs", "shortNames",
                                     "categories", "storageVersionHash"]
    assert entries["pods"]["verbs"] == ["create", "delete", "deletecollection", "get", "list", "patch", "update",
                                        "watch"]
    assert entries["pods"]["shortNames"] == ["po"] and entries["pods"]["categories"] == ["all"]
    assert entries["pods/status"] == {"name": "pods/status", "singularName": "", "namespaced": True,
                                      "kind": "Pod", "verbs": ["get", "patch", "update"]}
    assert entries["pods/eviction"] == {"name": "pods/eviction", "singularName": "", "namespaced": True,
                                        "group": "policy", "version": "v1", "kind": "Eviction",
                                        "verbs": ["create"]}
    assert entries["serviceaccounts/token"]["group"] == "authentication.k8s.io"
    assert entries["serviceaccounts/token"]["kind"] == "TokenRequest"
    assert entries["pods/exec"]["verbs"] == ["create", "get"]
    assert entries["pods/log"] == {"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod",
                                   "verbs": ["get"]}


def test_storage_version_hash_only_for_stored_resources(catalog):
    """storageVersionHash is the upstream hash of the storage GVK, absent for non-stored resources."""
    entries = _by_name(discovery.api_resource_list(catalog, "", "v1")["resources"])
    assert entries["events"]["storageVersionHash"] == "r2yiGXH7wu8="  # upstream's value for /v1/Event
    for name in ("bindings", "componentstatuses", "pods/status"):
        assert "storageVersionHash" not in entries[name]
    reviews = _by_name(discovery.api_resource_list(catalog, "authorization.k8s.io", "v1")["resources"])
    assert all("storageVersionHash" not in r for r in reviews.values())
    # events.k8s.io/v1 events are the core events' storage: the same hash.
    events = _by_name(discovery.api_resource_list(catalog, "events.k8s.io", "v1")["resources"])["events"]
    assert events["storageVersionHash"] == "r2yiGXH7wu8="


def test_scale_subresource_names_autoscaling(catalog):
    """apps/v1 deployments/scale reports autoscaling/v1 Scale."""
    entries = _by_name(discovery.api_resource_list(catalog, "apps", "v1")["resources"])
    assert entries["deployments/scale"] == {"name": "deployments/scale", "singularName": "", "namespaced": True,
                                            "group": "autoscaling", "version": "v1", "kind": "Scale",
                                            "verbs": ["get", "patch", "update"]}


def test_resource_list_unknown_group_version(catalog):
    """Group-versions that are not served give None."""
    assert discovery.api_resource_list(catalog, "apps", "v1beta1") is None
    assert discovery.api_resource_list(catalog, "", "v2") is None


def test_aggregated_legacy_has_only_core(catalog):
    """The aggregated /api document is one unnamed group holding core/v1, freshness Current."""
    doc = discovery.aggregated_discovery(catalog, legacy=True)
    assert list(doc) == ["kind", "apiVersion", "metadata", "items"]
    assert (doc["kind"], doc["apiVersion"], doc["metadata"]) == (
        "APIGroupDiscoveryList", "apidiscovery.k8s.io/v2", {})
    [item] = doc["items"]
    assert item["metadata"] == {"creationTimestamp": None}
    [version] = item["versions"]
    assert list(version) == ["version", "resources", "freshness"]
    assert (version["version"], version["freshness"]) == ("v1", "Current")
    pods = _by_name(version["resources"], "resource")["pods"]
    assert list(pods) == ["resource", "responseKind", "scope", "singularResource", "verbs", "shortNames",
                          "categories", "subresources"]
    assert pods["scope"] == "Namespaced" and pods["singularResource"] == "pod"
    assert pods["responseKind"]["kind"] == "Pod"
    subs = _by_name(pods["subresources"], "subresource")
    assert subs["eviction"] == {"subresource": "eviction",
                                "responseKind": {"group": "policy", "version": "v1", "kind": "Eviction"},
                                "verbs": ["create"]}
    assert subs["status"]["verbs"] == ["get", "patch", "update"]
    nodes = _by_name(version["resources"], "resource")["nodes"]
    assert nodes["scope"] == "Cluster"


def test_aggregated_apis_groups_and_versions(catalog):
    """The aggregated /apis document lists every named group (no core) with versions in preference order."""
    doc = discovery.aggregated_discovery(catalog, legacy=False)
    items = {item["metadata"]["name"]: item for item in doc["items"]}
    assert "" not in items and "apps" in items
    assert items["apps"]["metadata"] == {"name": "apps", "creationTimestamp": None}
    assert [v["version"] for v in items["autoscaling"]["versions"]] == ["v2", "v1"]
    deployments = _by_name(items["apps"]["versions"][0]["resources"], "resource")["deployments"]
    scale = _by_name(deployments["subresources"], "subresource")["scale"]
    assert scale["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}


def test_aggregated_custom_resources_carry_their_group_version(catalog):
    """A CRD's responseKind names its own group and version (built-ins leave them empty, as upstream)."""
    catalog.add(ResourceInfo("stable.example.com", "v1", "crontabs", "CronTab", True, short_names=("ct",),
                             subresources=(Subresource("status", "CronTab", ("get", "patch", "update")),)))
    doc = discovery.aggregated_discovery(catalog, legacy=False)
    item = [i for i in doc["items"] if i["metadata"]["name"] == "stable.example.com"][0]
    crontabs = item["versions"][0]["resources"][0]
    assert crontabs["responseKind"] == {"group": "stable.example.com", "version": "v1", "kind": "CronTab"}
    assert crontabs["subresources"][0]["responseKind"] == {"group": "stable.example.com", "version": "v1",
                                                           "kind": "CronTab"}


def test_custom_resource_verbs_and_subresources_in_upstream_s_order(catalog):
    """A CRD's discovery lists its verbs in the order upstream's CRD discovery writes them (built-ins' sorted), and
    its status before its scale, after the resource itself, in both discovery forms."""
    from kapiserver.registry import crd
    definition = {"spec": {"group": "ex.com", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
                           "versions": [{"name": "v1", "served": True, "storage": True,
                                         "subresources": {"status": {}, "scale": {
                                             "specReplicasPath": ".spec.replicas",
                                             "statusReplicasPath": ".status.replicas"}}}]},
                  "status": {"acceptedNames": {"plural": "widgets", "kind": "Widget", "singular": "widget"},
                             "conditions": [{"type": "Established", "status": "True"}]}}
    for info in crd.resource_infos(definition):
        catalog.add(info)
    order = ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"]
    legacy = discovery.api_resource_list(catalog, "ex.com", "v1")["resources"]
    assert [r["name"] for r in legacy] == ["widgets", "widgets/status", "widgets/scale"]
    assert legacy[0]["verbs"] == order and legacy[1]["verbs"] == ["get", "patch", "update"]
    doc = discovery.aggregated_discovery(catalog, legacy=False)
    widgets = [i for i in doc["items"] if i["metadata"]["name"] == "ex.com"][0]["versions"][0]["resources"][0]
    assert widgets["verbs"] == order
    assert [s["subresource"] for s in widgets["subresources"]] == ["status", "scale"]
    pods = _by_name(discovery.api_resource_list(catalog, "", "v1")["resources"])["pods"]
    assert pods["verbs"] == sorted(pods["verbs"])


def test_aggregated_v2beta1_and_content_types(catalog):
    """Both aggregated versions are available, and the Content-Type constants are exactly kubectl's."""
    assert discovery.aggregated_discovery(catalog, legacy=True, version="v2beta1")["apiVersion"] == \
        "apidiscovery.k8s.io/v2beta1"
    assert discovery.AGGREGATED_CONTENT_TYPE == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    assert discovery.AGGREGATED_CONTENT_TYPE_V2BETA1 == \
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


def test_encode_with_etag(catalog):
    """The body ends with a newline and the ETag is the upper-case SHA-512 of the compact JSON."""
    doc = discovery.aggregated_discovery(catalog, legacy=False)
    body, etag = discovery.encode_with_etag(doc)
    assert body.endswith(b"}\n")
    assert etag == hashlib.sha512(body[:-1]).hexdigest().upper()
    assert discovery.encode_with_etag(discovery.aggregated_discovery(catalog, legacy=False))[1] == etag


def test_removed_resource_disappears(catalog):
    """Removing a group-version's last resource removes it from every document."""
    catalog.remove("coordination.k8s.io", "v1", "leases")
    assert discovery.api_group(catalog, "coordination.k8s.io") is None
    assert "coordination.k8s.io" not in [g["name"] for g in discovery.api_group_list(catalog)["groups"]]
    names = [i["metadata"]["name"] for i in discovery.aggregated_discovery(catalog, legacy=False)["items"]]
    assert "coordination.k8s.io" not in names
