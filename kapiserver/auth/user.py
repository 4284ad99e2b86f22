"""UserInfo: who a request is, as authenticators report it (user.Info upstream)."""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_AUTHENTICATED = "system:authenticated"
ALL_UNAUTHENTICATED = "system:unauthenticated"
SYSTEM_MASTERS = "system:masters"
ANONYMOUS = "system:anonymous"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"


@dataclass
class UserInfo:
    name: str
    uid: str = ""
    groups: list[str] = field(default_factory=list)
    extra: dict[str, list[str]] = field(default_factory=dict)

    def to_api(self) -> dict:
        """The authentication.k8s.io/v1 UserInfo object (empty fields omitted, as Go does)."""
        out: dict = {"username": self.name}
        if self.uid:
            out["uid"] = self.uid
        if self.groups:
            out["groups"] = list(self.groups)
        if self.extra:
            out["extra"] = {k: list(v) for k, v in self.extra.items()}
        return out

    @classmethod
    def from_api(cls, data: dict) -> "UserInfo":
        return cls(data.get("username", "") or "", data.get("uid", "") or "", list(data.get("groups") or []),
                   {k: list(v or ()) for k, v in (data.get("extra") or {}).items()})


def with_authenticated(user: UserInfo) -> UserInfo:
    """Authenticated users also belong to system:authenticated, as upstream's group adder does."""
    if user.name != ANONYMOUS and ALL_AUTHENTICATED not in user.groups and \
            ALL_UNAUTHENTICATED not in user.groups:
        user.groups = [*user.groups, ALL_AUTHENTICATED]
    return user


# The insecure port's user, as upstream's insecure serving said.
INSECURE_USER = UserInfo("system:unsecured", groups=[SYSTEM_MASTERS, ALL_AUTHENTICATED])
