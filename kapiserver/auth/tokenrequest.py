"""TokenRequest (serviceaccounts/token, `kubectl create token`): a bound service-account JWT."""

from __future__ import annotations

import copy
import datetime
import time

from ..machinery import errors
from ..machinery.errors import StatusError
from . import jwt

DEFAULT_SECONDS = 3600
MIN_SECONDS = 600


async def token_request(security, registry, namespace: str, name: str, body) -> dict:
    """The TokenRequest answering ``body`` (the request's TokenRequest) for service account ``name``,
    its token signed by ``security``'s service-account key; objects are read through ``registry``."""
    if security is None or security.service_accounts is None or security.service_accounts.signing_key is None:
        raise StatusError(503, "ServiceUnavailable",
                          "serviceaccounts/token is not available: no service account signing key is configured")
    account = await registry.store("", "v1", "serviceaccounts").get(namespace, name)
    if not isinstance(body, dict):
        raise errors.bad_request("the body of the request was not a TokenRequest")
    spec = copy.deepcopy(body.get("spec") or {})
    sa = security.service_accounts
    seconds = spec.get("expirationSeconds")
    seconds = DEFAULT_SECONDS if seconds is None else seconds
    problems = []
    if not isinstance(seconds, int) or seconds < MIN_SECONDS:
        problems.append(errors.invalid("spec.expirationSeconds", seconds,
                                       "may not specify a duration less than 10 minutes"))
    elif seconds > 1 << 32:
        problems.append(errors.invalid("spec.expirationSeconds", seconds,
                                       "may not specify a duration larger than 2^32 seconds"))
    pod = None
    ref = spec.get("boundObjectRef")
    if ref:
        kind = ref.get("kind")
        if kind not in ("Pod", "Secret", "Node"):
            problems.append(errors.not_supported("spec.boundObjectRef.kind", kind, ["Pod", "Node", "Secret"]))
        else:
            resource = {"Pod": "pods", "Secret": "secrets", "Node": "nodes"}[kind]
            target = await registry.store("", "v1", resource).get(
                None if kind == "Node" else namespace, ref.get("name", ""))
            uid = target["metadata"].get("uid", "")
            if ref.get("uid") and ref["uid"] != uid:
                raise errors.conflict(errors.GroupResource("", resource), ref.get("name", ""),
                                      f"the UID in the bound object reference ({ref['uid']}) does not match the "
                                      f"UID in record. The object might have been deleted and then recreated")
            ref["uid"] = uid
            if kind == "Pod":
                pod = {"name": ref.get("name", ""), "uid": uid}
    if problems:
        raise errors.invalid_object("authentication.k8s.io", "TokenRequest", name, problems)
    if sa.max_expiration and seconds > sa.max_expiration:
        seconds = sa.max_expiration
    audiences = list(spec.get("audiences") or sa.audiences)
    now = time.time()
    claims = jwt.bound_claims(sa.issuer, audiences, namespace, name, account["metadata"].get("uid", ""),
                              seconds, pod=pod, now=now)
    token = jwt.sign(claims, sa.signing_key)
    expires = datetime.datetime.fromtimestamp(claims["exp"], datetime.timezone.utc)
    return {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace,
                         "creationTimestamp": None},
            "spec": {"audiences": audiences, "expirationSeconds": seconds, "boundObjectRef": ref or None},
            "status": {"token": token, "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}}
