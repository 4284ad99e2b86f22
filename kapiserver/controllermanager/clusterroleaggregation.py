"""clusterrole-aggregation-controller: a ClusterRole with an aggregationRule holds the union of the rules of the
ClusterRoles its clusterRoleSelectors match (each selector's roles by name, each rule once), written by server-side
apply as upstream's field manager; admin, edit and view get theirs from the aggregate-to-* labelled roles."""

from __future__ import annotations

from typing import List

from ..client.cache import split_key
from ..client.resources import CLUSTER_ROLES
from ..client.rest import APIError
from ..machinery.errors import StatusError
from ..machinery.selectors import label_selector_from_dict
from .context import ControllerContext, QueueController

FIELD_MANAGER = "clusterrole-aggregation-controller"


def aggregated_rules(role: dict, cluster_roles: List[dict]) -> List[dict]:
    """The rules ``role`` (with an aggregationRule) should hold, from ``cluster_roles`` as they are now."""
    rules: List[dict] = []
    visited = set()
    selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
    name = role["metadata"]["name"]
    for selector in selectors:
        try:
            parsed = label_selector_from_dict(selector)
        except StatusError:
            continue
        matching = sorted((r for r in cluster_roles if parsed.matches(r["metadata"].get("labels") or {})),
                          key=lambda r: r["metadata"]["name"])
        for other in matching:
            other_name = other["metadata"]["name"]
            if other_name == name or other_name in visited:
                continue
            visited.add(other_name)
            for rule in other.get("rules") or []:
                if rule not in rules:
                    rules.append(rule)
    return rules


class ClusterRoleAggregationController(QueueController):
    name = "clusterrole-aggregation-controller"
    default_workers = 5

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.cluster_roles = self.informer(CLUSTER_ROLES)
        self.cluster_roles.add_event_handler(on_add=self._changed, on_update=lambda old, new: self._changed(new),
                                             on_delete=self._changed)

    def _changed(self, _role: dict) -> None:
        # Any role may be selected by any aggregated one: every aggregated role is looked at again.
        for role in self.cluster_roles.indexer.list():
            if role.get("aggregationRule"):
                self.enqueue(role)

    async def sync(self, key: str) -> None:
        _, name = split_key(key)
        role = self.cluster_roles.indexer.get(name)
        if role is None or not role.get("aggregationRule"):
            return
        rules = aggregated_rules(role, self.cluster_roles.indexer.list())
        if (role.get("rules") or []) == rules:
            return
        apply = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name},
                 "rules": rules}
        try:
            await self.client.patch(CLUSTER_ROLES, name, apply, patch_type="apply", field_manager=FIELD_MANAGER,
                                    force=True)
        except APIError as e:
            if e.code == 404:
                return
            if e.code != 415:
                raise       # retried rate-limited, as any other error
            # Upstream falls back to an update only where apply is not served (UnsupportedMediaType).
            await self.client.update(CLUSTER_ROLES, {**role, "rules": rules})


def start_clusterrole_aggregation_controller(ctx: ControllerContext) -> ClusterRoleAggregationController:
    return ClusterRoleAggregationController(ctx)
