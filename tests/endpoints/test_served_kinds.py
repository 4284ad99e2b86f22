"""Every GA kind of the upstream 1.32 definitions we ship is served: the expected list is derived from those
definitions (a kind with x-kubernetes-group-version-kind in a v<N> version, and a <Kind>List whose items are
that kind), so it cannot drift from them.  What is not served yet is a named allowance, with the reason, that
this test reports and that must shrink as the kinds land (a kind in it that is served fails the test)."""

from __future__ import annotations

import functools
import re
import warnings

import pytest

from kapiserver.endpoints import discovery, openapi
from kapiserver.machinery import codec, schema
from kapiserver.machinery.protobuf import messages
from kapiserver.machinery.protobuf.decode import GROUP_PACKAGES
from kapiserver.registry.catalog import BUILTIN, Catalog

# (group, version, kind) -> why it is not served yet.
NOT_YET_SERVED: dict = {}

# Served kinds whose protobuf request bodies are not decoded yet (upstream's apiextensions-apiserver has them;
# kubectl sends JSON for these).
NO_PROTOBUF_TABLES = {
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition"): "no apiextensions.k8s.io protobuf tables yet",
    ("apiregistration.k8s.io", "v1", "APIService"): "no apiregistration.k8s.io protobuf tables yet",
}

_GA = re.compile(r"v\d+")


def _ref_name(site) -> str:
    ref = (site or {}).get("$ref", "") if isinstance(site, dict) else ""
    return ref.rsplit("/", 1)[-1]


def shipped_ga_kinds() -> set[tuple[str, str, str]]:
    """The GA group/version/kinds of the shipped definitions that have a list kind of their own."""
    definitions = schema.definitions()
    kinds: dict[tuple[str, str, str], str] = {}
    for name, definition in definitions.items():
        gvks = definition.get("x-kubernetes-group-version-kind") or []
        if len(gvks) == 1:   # the meta types (DeleteOptions, WatchEvent ...) name every group-version
            gvk = gvks[0]
            kinds[(gvk.get("group", ""), gvk["version"], gvk["kind"])] = name
    found = set()
    for (group, version, kind), name in kinds.items():
        if not _GA.fullmatch(version) or kind.endswith("List"):
            continue
        list_name = kinds.get((group, version, kind + "List"))
        if list_name is None:
            continue
        items = definitions[list_name].get("properties", {}).get("items", {})
        if _ref_name(items.get("items")) == name:   # APIGroupList lists "groups", not items of APIGroup
            found.add((group, version, kind))
    return found


@functools.cache
def _v2_paths() -> frozenset[str]:
    return frozenset(codec.loads(openapi.openapi_v2_document(Catalog()))["paths"])


def served_kinds() -> set[tuple[str, str, str]]:
    return {(info.group, info.version, info.kind) for info in BUILTIN}


def test_the_derived_list_is_upstreams_ga_kinds():
    """A sanity check of the derivation: it finds what upstream 1.32 serves as GA, and no meta types."""
    expected = shipped_ga_kinds()
    assert ("", "v1", "Pod") in expected and ("scheduling.k8s.io", "v1", "PriorityClass") in expected
    assert ("", "v1", "APIGroup") not in expected and ("", "v1", "Status") not in expected
    assert all(_GA.fullmatch(version) for _, version, _ in expected)
    assert set(NOT_YET_SERVED) <= expected, "an allowance names a kind upstream's definitions do not have"


def test_every_shipped_ga_kind_is_served_but_the_named_allowance():
    expected = shipped_ga_kinds()
    served = served_kinds()
    unserved = expected - served
    assert unserved <= set(NOT_YET_SERVED), f"GA kinds neither served nor in the allowance: {sorted(unserved)}"
    landed = set(NOT_YET_SERVED) - unserved
    assert not landed, f"served now: take them out of NOT_YET_SERVED: {sorted(landed)}"
    if unserved:
        warnings.warn(UserWarning(f"{len(unserved)} of {len(expected)} upstream GA kinds not served yet: " + "; ".join(
            f"{g or 'core'}/{v} {k} ({NOT_YET_SERVED[(g, v, k)]})" for g, v, k in sorted(unserved))))


@pytest.mark.parametrize("gvk", sorted(shipped_ga_kinds() - set(NOT_YET_SERVED)),
                         ids=lambda gvk: f"{gvk[0] or 'core'}/{gvk[1]}/{gvk[2]}")
def test_served_in_discovery_openapi_and_protobuf(gvk):
    """Each served GA kind is in the catalog, both discovery documents, its group-version's OpenAPI v3
    document (with its list path) and the /openapi/v2 document, and has a protobuf table."""
    group, version, kind = gvk
    catalog = Catalog()
    infos = [i for i in catalog.resources(group, version) if i.kind == kind]
    assert infos, f"{gvk} is not in the catalog"
    info = infos[0]
    listing = discovery.api_resource_list(catalog, group, version)
    assert {(r["name"], r["kind"]) for r in listing["resources"]} >= {(info.resource, kind)}
    document = discovery.aggregated_discovery(catalog, legacy=(group == ""))
    resources = [r for item in document["items"] if item["metadata"].get("name", "") == group
                 for v in item["versions"] if v["version"] == version for r in v.get("resources") or []]
    assert any(r["resource"] == info.resource and r["responseKind"]["kind"] == kind for r in resources), gvk
    gv_path = f"api/{version}" if not group else f"apis/{group}/{version}"
    body, _ = openapi.openapi_v3_document(catalog, gv_path)
    v3 = codec.loads(body)
    list_path = f"/{gv_path}/{info.resource}"
    if info.namespaced:
        list_path = f"/{gv_path}/namespaces/{{namespace}}/{info.resource}"
    assert list_path in v3["paths"], (gvk, list_path)
    assert schema.definition_name_for(group, version, kind) in v3["components"]["schemas"]
    assert list_path in _v2_paths()
    if gvk in NO_PROTOBUF_TABLES:
        assert group not in GROUP_PACKAGES, f"{gvk} has protobuf tables now: take it out of NO_PROTOBUF_TABLES"
        return
    package = f"{GROUP_PACKAGES[group]}.{version}"
    assert messages.is_kind(package, kind) and messages.is_kind(package, kind + "List"), gvk
