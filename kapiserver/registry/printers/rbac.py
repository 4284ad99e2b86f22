"""
Printers for rbac.authorization.k8s.io/v1 bindings.  Roles and ClusterRoles have none
upstream: they get the default table (NAME, CREATED AT).
"""

from __future__ import annotations

from datetime import datetime

from . import _base as b


def subjects_strings(subjects) -> tuple[list[str], list[str], list[str], list[str]]:
    """Users, groups, service accounts (``ns/name``) and anything else (``kind/ns/name``)."""
    users, groups, service_accounts, others = [], [], [], []
    for subject in subjects or []:
        kind, ns, name = subject.get("kind", ""), subject.get("namespace", ""), subject.get("name", "")
        if kind == "ServiceAccount":
            service_accounts.append(f"{ns}/{name}")
        elif kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
        else:
            others.append(f"{kind}/{ns}/{name}")
    return users, groups, service_accounts, others


def _columns(kind: str, definition: str):
    def columns() -> list[dict]:
        return [
            b.name_column(),
            b.column("Role", "string", b.doc(definition, "roleRef")),
            b.age_column(),
            b.column("Users", "string", f"Users in the {kind}", 1),
            b.column("Groups", "string", f"Groups in the {kind}", 1),
            b.column("ServiceAccounts", "string", f"ServiceAccounts in the {kind}", 1),
        ]
    return columns


def _cells(binding: dict, now: datetime) -> list:
    ref = binding.get("roleRef") or {}
    users, groups, service_accounts, _ = subjects_strings(binding.get("subjects"))
    return [b.name(binding), f"{ref.get('kind', '')}/{ref.get('name', '')}", b.age(binding, now),
            ", ".join(users), ", ".join(groups), ", ".join(service_accounts)]


_GROUP = "rbac.authorization.k8s.io"
PRINTERS = {
    (_GROUP, "rolebindings"): b.Printer(_columns("roleBinding", "rbac.v1beta1.RoleBinding"), _cells),
    (_GROUP, "clusterrolebindings"): b.Printer(
        _columns("clusterRoleBinding", "rbac.v1beta1.ClusterRoleBinding"), _cells),
}
