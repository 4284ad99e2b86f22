"""
The discovery documents, as pure builders over a :class:`~kapiserver.registry.catalog.Catalog`.

Legacy (``meta/v1``): ``GET /api`` -> APIVersions, ``GET /apis`` -> APIGroupList,
``GET /apis/{group}`` -> APIGroup, ``GET /api/v1`` and ``GET /apis/{group}/{version}`` ->
APIResourceList.  Aggregated (``apidiscovery.k8s.io/v2`` and ``v2beta1``): ``GET /api`` and
``GET /apis`` -> APIGroupDiscoveryList, chosen by the Accept header (the caller negotiates).

Every builder returns plain dicts whose key order is the field order of upstream's Go structs,
so ``codec.encode`` yields upstream's bytes.  Nothing here caches: the caller keys a cache on
the catalog's generation and may use :func:`encode_with_etag` for the bytes and ETag.
"""

from __future__ import annotations

import hashlib
from typing import Optional

from kapiserver.machinery import codec
from kapiserver.registry.catalog import GROUP_ORDER, Catalog, ResourceInfo, Subresource

AGGREGATED_CONTENT_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATED_CONTENT_TYPE_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
AGGREGATED_API_VERSIONS = {"v2": "apidiscovery.k8s.io/v2", "v2beta1": "apidiscovery.k8s.io/v2beta1"}

_BUILTIN_GROUPS = frozenset(group for group, _ in GROUP_ORDER)
# Built-in groups outside *.k8s.io; CRDs may not use these (nor, without approval, *.k8s.io).
_BUILTIN_PLAIN_GROUPS = frozenset({"", "apps", "autoscaling", "batch", "extensions", "policy"})


def is_builtin_group(group: str) -> bool:
    """Whether a group is one of Kubernetes' own (as opposed to a CRD's)."""
    return group in _BUILTIN_GROUPS or group in _BUILTIN_PLAIN_GROUPS or group.endswith(".k8s.io")


def encode_with_etag(document: dict) -> tuple[bytes, str]:
    """The body as the apiserver writes it, and the ETag value (unquoted) for it.

    Upstream's ETag is the upper-case hex SHA-512 of the compact JSON; clients treat it as opaque.
    """
    compact = codec.dumps(document)
    return compact + b"\n", hashlib.sha512(compact).hexdigest().upper()


# --- legacy discovery ----------------------------------------------------------------------------


def api_versions(server_address: str) -> dict:
    """``GET /api``: the legacy group's versions and the address clients should use."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _ordered_groups(catalog: Catalog) -> list[tuple[str, list[str]]]:
    """Named groups in upstream's order: built-in groups by their priority (the catalog's
    order), then every other group (CRDs, all at the same low priority) by name."""
    groups = [(g, vs) for g, vs in catalog.groups if g and vs]
    known = [entry for entry in groups if is_builtin_group(entry[0])]
    others = sorted((entry for entry in groups if not is_builtin_group(entry[0])), key=lambda e: e[0])
    return known + others


def _group_version(group: str, version: str) -> dict:
    return {"groupVersion": f"{group}/{version}" if group else version, "version": version}


def _api_group_body(group: str, versions: list[str]) -> dict:
    return {
        "name": group,
        "versions": [_group_version(group, v) for v in versions],
        "preferredVersion": _group_version(group, versions[0]),
    }


def _with_remote(catalog: Catalog, remote) -> list[tuple[str, list[str], Optional[list]]]:
    """The served groups and the remote APIServices' groups (``remote``: (group, groupPriorityMinimum,
    [(version, APIResourceList or None)]) in discovery's order), as (group, versions, remote versions or None):
    built-in groups first, then custom resource groups (priority 1000) and remote groups by falling priority
    and name.  A group served here keeps its own versions."""
    local = _ordered_groups(catalog)
    served = {g for g, _ in local}
    builtin = [(g, vs, None) for g, vs in local if is_builtin_group(g)]
    ranked = [(1000, g, vs, None) for g, vs in local if not is_builtin_group(g)]
    ranked += [(priority, g, [v for v, _ in versions], versions)
               for g, priority, versions in remote if g not in served and versions]
    ranked.sort(key=lambda entry: (-entry[0], entry[1]))
    return builtin + [(g, vs, rv) for _, g, vs, rv in ranked]


def api_group_list(catalog: Catalog, remote=()) -> dict:
    """``GET /apis``: every named group (the legacy core group is served at /api instead), the remote
    APIServices' groups among them."""
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_api_group_body(g, vs) for g, vs, _ in _with_remote(catalog, remote)],
    }


def remote_api_group(group: str, remote) -> Optional[dict]:
    """``GET /apis/{group}`` of a remote APIService's group, or None."""
    for name, _, versions in remote:
        if name == group and versions:
            return {"kind": "APIGroup", "apiVersion": "v1", **_api_group_body(group, [v for v, _ in versions])}
    return None


def api_group(catalog: Catalog, group: str) -> Optional[dict]:
    """``GET /apis/{group}``, or None when no such group is served."""
    versions = catalog.versions(group) if group else []
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_api_group_body(group, versions)}


def _has_storage(info: ResourceInfo) -> bool:
    # Upstream reports storageVersionHash only for resources kept in storage.  The ones that are
    # not (bindings, the reviews, componentstatuses) are exactly those that cannot be watched.
    return "watch" in info.verbs


def _verbs(info: ResourceInfo, verbs) -> list:
    """A resource's (or subresource's) verbs as discovery lists them: sorted for a built-in group's, in their own
    order for a custom resource's (upstream's CRD discovery writes them out in a fixed order)."""
    return sorted(verbs) if is_builtin_group(info.group) else list(verbs)


def _resource_entry(info: ResourceInfo) -> dict:
    entry = {
        "name": info.resource,
        "singularName": info.singular_name,
        "namespaced": info.namespaced,
        "kind": info.kind,
        "verbs": _verbs(info, info.discovery_verbs or info.verbs),
    }
    if info.short_names:
        entry["shortNames"] = list(info.short_names)
    if info.categories:
        entry["categories"] = list(info.categories)
    if _has_storage(info):
        entry["storageVersionHash"] = info.storage_version_hash
    return entry


def _subresource_entry(info: ResourceInfo, sub: Subresource) -> dict:
    entry = {"name": f"{info.resource}/{sub.name}", "singularName": "", "namespaced": info.namespaced}
    # group/version appear only when the subresource's kind lives in another group-version
    # (scale -> autoscaling/v1, eviction -> policy/v1, token -> authentication.k8s.io/v1).
    if sub.group or sub.version:
        entry["group"] = sub.group
        entry["version"] = sub.version or info.version
    entry["kind"] = sub.kind
    entry["verbs"] = _verbs(info, sub.verbs)
    return entry


def _resource_entries(catalog: Catalog, group: str, version: str) -> list[dict]:
    entries: list[tuple[str, dict]] = []
    for info in catalog.resources(group, version):
        entries.append((info.resource, _resource_entry(info)))
        for sub in info.subresources:
            entries.append((f"{info.resource}/{sub.name}", _subresource_entry(info, sub)))
    # Upstream registers a built-in group's storage paths in sorted order ("pods", "pods/attach", ...,
    # "podtemplates"); a custom resource is followed by its status, then its scale.
    if is_builtin_group(group):
        entries.sort(key=lambda pair: pair[0])
    return [entry for _, entry in entries]


def api_resource_list(catalog: Catalog, group: str, version: str) -> Optional[dict]:
    """``GET /api/v1`` (group "") or ``GET /apis/{group}/{version}``; None when not served."""
    if group == "" and version != "v1":
        return None
    resources = catalog.resources(group, version)
    if not resources:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": _resource_entries(catalog, group, version),
    }


# --- aggregated discovery ------------------------------------------------------------------------


def _response_kind(group: str, version: str, kind: str) -> dict:
    return {"group": group, "version": version, "kind": kind}


def _discovery_resource(info: ResourceInfo, builtin: bool) -> dict:
    # Upstream fills responseKind from the legacy APIResource: built-in top-level resources
    # carry no group/version there, so theirs are empty; CRDs report their own group/version.
    group, version = (info.group, info.version) if not builtin else ("", "")
    entry = {
        "resource": info.resource,
        "responseKind": _response_kind(group, version, info.kind),
        "scope": "Namespaced" if info.namespaced else "Cluster",
        "singularResource": info.singular_name,
        "verbs": _verbs(info, info.discovery_verbs or info.verbs),
    }
    if info.short_names:
        entry["shortNames"] = list(info.short_names)
    if info.categories:
        entry["categories"] = list(info.categories)
    subresources = []
    for sub in sorted(info.subresources, key=lambda s: s.name) if builtin else info.subresources:
        if sub.group or sub.version:
            kind = _response_kind(sub.group, sub.version or info.version, sub.kind)
        else:
            kind = _response_kind(group, version, sub.kind)
        subresources.append({"subresource": sub.name, "responseKind": kind, "verbs": _verbs(info, sub.verbs)})
    if subresources:
        entry["subresources"] = subresources
    return entry


def _discovery_group(catalog: Catalog, group: str, versions: list[str]) -> Optional[dict]:
    builtin = is_builtin_group(group)
    version_entries = []
    for version in versions:
        resources = catalog.resources(group, version)
        if not resources:
            continue
        entry: dict = {"version": version}
        entry["resources"] = [_discovery_resource(info, builtin) for info in resources]
        entry["freshness"] = "Current"
        version_entries.append(entry)
    if not version_entries:
        return None
    # ObjectMeta of Go 1.32 always writes creationTimestamp (null); the core group's name "" is omitted.
    metadata: dict = {"name": group} if group else {}
    metadata["creationTimestamp"] = None
    return {"metadata": metadata, "versions": version_entries}


def _remote_resource(resource: dict, subresources: list[dict]) -> dict:
    """An aggregated discovery resource from an extension apiserver's APIResource (its responseKind's group
    and version are the APIResource's own, empty when it has none)."""
    entry = {
        "resource": resource.get("name", ""),
        "responseKind": _response_kind(resource.get("group", ""), resource.get("version", ""),
                                       resource.get("kind", "")),
        "scope": "Namespaced" if resource.get("namespaced") else "Cluster",
        "singularResource": resource.get("singularName", ""),
        "verbs": list(resource.get("verbs") or []),
    }
    if resource.get("shortNames"):
        entry["shortNames"] = list(resource["shortNames"])
    if resource.get("categories"):
        entry["categories"] = list(resource["categories"])
    if subresources:
        entry["subresources"] = [
            {"subresource": sub["name"].partition("/")[2],
             "responseKind": _response_kind(sub.get("group", ""), sub.get("version", ""), sub.get("kind", "")),
             "verbs": list(sub.get("verbs") or [])} for sub in subresources]
    return entry


def _remote_discovery_group(group: str, versions: list) -> Optional[dict]:
    """A remote group's aggregated entry, from the resource lists its discovery checks fetched; a version
    not fetched (its APIService unavailable) is listed Stale with no resources."""
    entries = []
    for version, resource_list in versions:
        if resource_list is None:
            entries.append({"version": version, "freshness": "Stale"})
            continue
        resources = [r for r in resource_list.get("resources") or [] if "/" not in r.get("name", "")]
        subresources = [r for r in resource_list.get("resources") or [] if "/" in r.get("name", "")]
        entries.append({"version": version, "resources": [
            _remote_resource(r, [s for s in subresources if s["name"].partition("/")[0] == r.get("name")])
            for r in resources], "freshness": "Current"})
    return {"metadata": {"name": group, "creationTimestamp": None}, "versions": entries}


def aggregated_discovery(catalog: Catalog, legacy: bool, version: str = "v2", remote=()) -> dict:
    """``GET /api`` (legacy=True: the core group only) or ``GET /apis`` (every named group, the remote
    APIServices' among them) as an APIGroupDiscoveryList of ``apidiscovery.k8s.io/<version>`` (``v2`` or
    ``v2beta1``)."""
    if legacy:
        items = [item for item in [_discovery_group(catalog, "", catalog.versions(""))] if item is not None]
    else:
        items = [item for g, vs, rv in _with_remote(catalog, remote)
                 if (item := (_discovery_group(catalog, g, vs) if rv is None else _remote_discovery_group(g, rv)))
                 is not None]
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": AGGREGATED_API_VERSIONS[version],
        "metadata": {},
        "items": items,
    }
