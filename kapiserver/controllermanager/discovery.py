"""Discovery through the API (/api and /apis): every served resource with its verbs, built-in, custom
(CRDs) and aggregated alike, as client-go's ServerPreferredResources gives the namespace and garbage
collector controllers what to delete and what to watch."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Dict, FrozenSet, List

from ..client.resources import Resource
from ..client.rest import APIError, Client


@dataclass(frozen=True)
class APIResource:
    resource: Resource
    verbs: FrozenSet[str]

    def supports(self, *verbs: str) -> bool:
        return set(verbs) <= self.verbs


@dataclass
class Discovery:
    """What discovery found: ``resources`` (top-level resources, no subresources), and the group-versions it
    could not read with the error of each (upstream's ErrGroupDiscoveryFailed)."""
    resources: List[APIResource] = field(default_factory=list)
    failed: Dict[str, str] = field(default_factory=dict)

    def failure_message(self) -> str:
        """Upstream's ErrGroupDiscoveryFailed text."""
        parts = ", ".join(f"{gv}: {error}" for gv, error in sorted(self.failed.items()))
        return f"unable to retrieve the complete list of server APIs: {parts}"


async def _group_versions(client: Client, preferred_only: bool) -> List[str]:
    versions = ["v1"]
    core = await client.request("GET", "/api")
    versions = list(core.get("versions") or versions)
    if preferred_only:
        versions = versions[:1]
    groups = await client.request("GET", "/apis")
    for group in groups.get("groups") or []:
        if preferred_only:
            preferred = (group.get("preferredVersion") or {}).get("groupVersion")
            if preferred:
                versions.append(preferred)
                continue
        versions.extend(v["groupVersion"] for v in group.get("versions") or [])
    return versions


async def discover(client: Client, preferred_only: bool = True) -> Discovery:
    """Every resource the server serves: in each group's preferred version (or every version); a
    group-version whose list fails (an unavailable aggregated API) is recorded in ``failed``."""
    found = Discovery()
    for gv in await _group_versions(client, preferred_only):
        group, _, version = gv.rpartition("/")
        path = f"/apis/{gv}" if group else f"/api/{gv}"
        try:
            listing = await client.request("GET", path)
        except APIError as e:
            found.failed[gv] = e.message or e.reason or str(e.code)
            continue
        for item in listing.get("resources") or []:
            if "/" in item.get("name", ""):
                continue
            resource = Resource(item.get("group") or group, item.get("version") or version, item["name"],
                                item.get("kind", ""), bool(item.get("namespaced")))
            found.resources.append(APIResource(resource, frozenset(item.get("verbs") or ())))
    return found


# Lists and watches of metadata only, as upstream's metadata informers and clients ask for them (a server picks, of the two,
# the one its endpoint gives: the List for a list, the object for a watch's events).
METADATA_ACCEPT = ("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,"
                   "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json")


def metadata_client(client: Client) -> Client:
    """``client`` (same connections, credentials and TLS) asking for PartialObjectMetadata(List)."""
    meta = copy.copy(client)
    meta.headers = {**client.headers, "Accept": METADATA_ACCEPT}
    return meta
