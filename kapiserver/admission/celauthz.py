"""
CEL's ``authorizer`` variable for admission (ValidatingAdmissionPolicy, and the webhooks' and policies'
matchConditions): its checks ask the server's authorizer.  The authorizer answers asynchronously and CEL
evaluates synchronously, so a check not yet decided fails its evaluation and is recorded; the caller decides
the recorded checks (``resolve``) and evaluates again.
"""

from __future__ import annotations

from typing import Optional

# How many times one evaluation may be run again for the authorizer checks it asks for.
MAX_AUTHZ_ROUNDS = 4


class AuthzChecks:
    """The authorizer checks of one request's policy evaluations: answered from what has been decided, else
    recorded as pending (the evaluation gets an error) until ``resolve`` asks the authorizer.
    An evaluation that asked for checks is run again once they are decided, at most MAX_AUTHZ_ROUNDS times."""

    def __init__(self, authorizer, user_info):
        self.authorizer, self.user_info = authorizer, user_info
        self.decisions: dict = {}
        self.pending: dict = {}

    def decide(self, user: Optional[tuple], fields: dict, verb: str):
        from ..machinery import cel
        key = (user, tuple(sorted(fields.items())), verb)
        if key in self.decisions:
            return self.decisions[key]
        self.pending[key] = (user, fields, verb)
        return cel.celpy.CELEvalError("authorization check not yet decided", ValueError, None)

    async def resolve(self) -> bool:
        """Decide every pending check; whether there were any."""
        if not self.pending:
            return False
        for key, (user, fields, verb) in list(self.pending.items()):
            self.decisions[key] = await self._authorize(user, fields, verb)
        self.pending.clear()
        return True

    async def _authorize(self, user: Optional[tuple], fields: dict, verb: str):
        from ..auth.authz import ALLOW, DENY
        from ..auth.authz import Attributes as Request
        from ..auth.user import UserInfo
        from ..machinery import cel
        if self.authorizer is None:
            return cel.AuthzDecision(False, "", "no authorizer is configured")
        who = self.user_info if user is None else UserInfo(user[0], groups=list(user[1]))
        if "path" in fields:
            request = Request(who, verb, False, path=fields["path"])
        else:
            request = Request(who, verb, True, fields.get("namespace", ""), fields.get("group", ""), "*",
                              fields.get("resource", ""), fields.get("subresource", ""), fields.get("name", ""))
        try:
            decision = await self.authorizer.authorize(request)
        except Exception as e:          # the authorizer failed: the decision says so
            return cel.AuthzDecision(False, "", str(e) or type(e).__name__)
        return cel.AuthzDecision(decision.decision == ALLOW, decision.reason,
                                 "" if decision.decision in (ALLOW, DENY) or not decision.error else decision.error)


def request_authorizer(checks: AuthzChecks, attributes):
    """The ``authorizer`` CEL value for the request of ``attributes`` (its resource, for ``requestResource``)."""
    from ..machinery import cel
    gvr = attributes.resource
    return cel.Authorizer(checks.decide, {
        "group": gvr.group, "resource": gvr.resource, "subresource": attributes.subresource,
        "namespace": attributes.namespace, "name": attributes.name})
