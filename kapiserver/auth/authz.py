"""
Authorization: request attributes, the modes of --authorization-mode
(AlwaysAllow, AlwaysDeny, ABAC, RBAC, Webhook, Node) evaluated in order, the
first to allow or deny deciding, and the 403 upstream writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Optional

from ..machinery.errors import GroupResource, StatusError, aggregate
from .user import SYSTEM_MASTERS, UserInfo

ALLOW, DENY, NO_OPINION = "Allow", "Deny", "NoOpinion"
READONLY_VERBS = frozenset(("get", "list", "watch"))


@dataclass
class Attributes:
    user: UserInfo
    verb: str
    is_resource_request: bool = True
    namespace: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""
    # Filled by label/field selectors on SubjectAccessReviews; not used by the modes here.
    extra: dict = field(default_factory=dict)


def attributes_from_request(user: UserInfo, info) -> Attributes:
    if not info.is_resource_request:
        return Attributes(user, info.verb, False, path=info.path)
    return Attributes(user, info.verb, True, info.namespace, info.api_group, info.api_version, info.resource,
                      info.subresource, info.name, info.path)


@dataclass
class Decision:
    decision: str
    reason: str = ""
    error: str = ""

    @property
    def allowed(self) -> bool:
        return self.decision == ALLOW


class AlwaysAllow:
    async def authorize(self, attributes: Attributes) -> Decision:
        return Decision(ALLOW)

    async def rules_for(self, user: UserInfo, namespace: str):
        return ([{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                [{"verbs": ["*"], "nonResourceURLs": ["*"]}], False, None)


class AlwaysDeny:
    async def authorize(self, attributes: Attributes) -> Decision:
        return Decision(DENY, "Everything is forbidden.")

    async def rules_for(self, user: UserInfo, namespace: str):
        return [], [], False, None


class PrivilegedGroups:
    """system:masters may do everything whatever the modes say, as upstream.  Not a rule resolver (upstream
    leaves the superuser authorizer out of the rule resolvers): a SelfSubjectRulesReview shows what the
    modes grant, system:masters' everything coming from cluster-admin's binding."""

    rule_resolver = False

    def __init__(self, groups=(SYSTEM_MASTERS,), users=()):
        self.groups = frozenset(groups)
        self.users = frozenset(users)

    async def authorize(self, attributes: Attributes) -> Decision:
        if attributes.user.name in self.users or self.groups & set(attributes.user.groups):
            return Decision(ALLOW)
        return Decision(NO_OPINION)


class ABAC:
    """--authorization-policy-file: one JSON Policy object per line."""

    def __init__(self, path: str):
        self.policies = []
        with open(path) as f:
            for number, line in enumerate(f, start=1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                try:
                    policy = json.loads(line)
                except ValueError as e:
                    raise ValueError(f"{path}: line {number}: {e}") from None
                self.policies.append(policy.get("spec", policy) if policy.get("kind") == "Policy" else policy)

    @staticmethod
    def _subject_matches(spec: dict, user: UserInfo) -> bool:
        matched = False
        if spec.get("user"):
            if spec["user"] != "*" and spec["user"] != user.name:
                return False
            matched = True
        if spec.get("group"):
            if spec["group"] != "*" and spec["group"] not in user.groups:
                return False
            matched = True
        return matched

    def _matches(self, spec: dict, a: Attributes) -> bool:
        if not self._subject_matches(spec, a.user):
            return False
        if spec.get("readonly") and a.verb not in READONLY_VERBS:
            return False
        if a.is_resource_request:
            def field_ok(key, value):
                wanted = spec.get(key, "")
                return wanted == "*" or wanted == value
            return field_ok("namespace", a.namespace) and field_ok("resource", a.resource) and \
                field_ok("apiGroup", a.api_group)
        path = spec.get("nonResourcePath", "")
        return path == "*" or path == a.path or (path.endswith("*") and a.path.startswith(path[:-1]))

    async def authorize(self, attributes: Attributes) -> Decision:
        for spec in self.policies:
            if self._matches(spec, attributes):
                return Decision(ALLOW)
        return Decision(NO_OPINION, "No policy matched.")

    async def rules_for(self, user: UserInfo, namespace: str):
        resource, non_resource = [], []
        for spec in self.policies:
            if not self._subject_matches(spec, user):
                continue
            verbs = ["get", "list", "watch"] if spec.get("readonly") else ["*"]
            if spec.get("namespace") in ("*", namespace) and spec.get("resource"):
                resource.append({"verbs": verbs, "apiGroups": [spec.get("apiGroup") or "*"],
                                 "resources": [spec["resource"]]})
            if spec.get("nonResourcePath"):
                non_resource.append({"verbs": verbs, "nonResourceURLs": [spec["nonResourcePath"]]})
        return resource, non_resource, False, None


class Union:
    """The modes in order; the first Allow or Deny decides."""

    def __init__(self, authorizers: list):
        self.authorizers = authorizers

    async def authorize(self, attributes: Attributes) -> Decision:
        reasons = []
        for authorizer in self.authorizers:
            decision = await authorizer.authorize(attributes)
            if decision.decision != NO_OPINION:
                return decision
            if decision.reason:
                reasons.append(decision.reason)
        # Every mode's reason, one a line, as upstream's union.
        return Decision(NO_OPINION, "\n".join(reasons))

    async def rules_for(self, user: UserInfo, namespace: str):
        """(resource rules, non-resource rules, incomplete, evaluation error or None) of every mode that
        resolves rules, their errors aggregated as upstream's union of rule resolvers."""
        resource, non_resource, incomplete, errors = [], [], False, []
        for authorizer in self.authorizers:
            if not getattr(authorizer, "rule_resolver", True):
                continue
            rules = getattr(authorizer, "rules_for", None)
            if rules is None:
                # The webhook (upstream's answers incomplete, with this error); anything else likewise.
                incomplete = True
                errors.append("webhook authorizer does not support user rule resolution")
                continue
            r, n, i, *rest = await rules(user, namespace)
            resource += r
            non_resource += n
            incomplete = incomplete or i
            if rest and rest[0]:
                errors.append(rest[0])
        return resource, non_resource, incomplete, (aggregate(errors) or None)


def forbidden_message(a: Attributes) -> str:
    """`User "bob" cannot list resource "pods" in API group "" in the namespace "default"`, as upstream."""
    user = a.user.name
    if not a.is_resource_request:
        return f'User "{user}" cannot {a.verb} path "{a.path}"'
    resource = a.resource + (f"/{a.subresource}" if a.subresource else "")
    where = f'in the namespace "{a.namespace}"' if a.namespace else "at the cluster scope"
    return f'User "{user}" cannot {a.verb} resource "{resource}" in API group "{a.api_group}" {where}'


def forbidden(a: Attributes, reason: str = "") -> StatusError:
    message = forbidden_message(a) + (f": {reason}" if reason else "")
    qualified = GroupResource(a.api_group, a.resource) if a.is_resource_request else GroupResource("", "")
    if a.name and a.is_resource_request:
        text = f'{qualified} "{a.name}" is forbidden: {message}'
    elif a.is_resource_request and a.resource:
        text = f"{qualified} is forbidden: {message}"
    else:
        text = f"forbidden: {message}"
    details: dict = {}
    if a.name and a.is_resource_request:
        details["name"] = a.name
    if qualified.group:
        details["group"] = qualified.group
    if qualified.resource:
        details["kind"] = qualified.resource
    return StatusError(403, "Forbidden", text, details)


def build(modes: list[str], rbac=None, policy_file: str = "", webhook=None, node=None,
          super_user: str = "") -> Union:
    """The union for --authorization-mode; privileged groups (and the RBAC super-user) come first."""
    authorizers: list = [PrivilegedGroups(users=(super_user,) if super_user else ())]
    for mode in modes:
        if mode == "AlwaysAllow":
            authorizers.append(AlwaysAllow())
        elif mode == "AlwaysDeny":
            authorizers.append(AlwaysDeny())
        elif mode == "ABAC":
            authorizers.append(ABAC(policy_file))
        elif mode == "RBAC":
            authorizers.append(rbac)
        elif mode == "Webhook":
            authorizers.append(webhook)
        elif mode == "Node":
            if node is not None:
                authorizers.append(node)
    return Union([a for a in authorizers if a is not None])


AUTHORIZATION_MODES = ("AlwaysAllow", "AlwaysDeny", "ABAC", "Webhook", "RBAC", "Node")


def check_modes(modes: list[str]) -> Optional[str]:
    """Why the --authorization-mode list is unusable, or None."""
    seen = set()
    for mode in modes:
        if mode not in AUTHORIZATION_MODES:
            return f"authorization-mode {mode!r} is not a valid mode"
        if mode in seen:
            return f"authorization-mode {mode!r} has mode specified more than once"
        seen.add(mode)
    return None
