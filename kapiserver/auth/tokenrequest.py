"""TokenRequest (serviceaccounts/token, `kubectl create token`): a bound service-account JWT, issued as upstream's
TokenREST.Create issues it."""

from __future__ import annotations

import time
from typing import Optional

from ..machinery import errors
from ..machinery.errors import StatusError
from ..machinery.meta import OBJECT_META_ORDER, rfc3339
from . import jwt
from .context import add_audit_annotation, add_warning

GROUP = "authentication.k8s.io"
KIND = "TokenRequest"
DEFAULT_SECONDS = 3600
MIN_SECONDS = 600
MAX_SECONDS = 1 << 32
# The expiration the ServiceAccount admission plugin gives projected tokens, which upstream stretches (with its
# default --service-account-extend-token-expiration) to a year, warning after the hour asked for.
WARN_ONLY_SECONDS = 3600 + 7
EXTENDED_SECONDS = 365 * 24 * 3600
ISSUED_CREDENTIAL_ID = "authentication.kubernetes.io/issued-credential-id"
# What upstream's create handler clears from a request's metadata (rest.WipeObjectMetaSystemFields).
_SYSTEM_FIELDS = ("creationTimestamp", "uid", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink")
_REF_FIELDS = ("kind", "apiVersion", "name", "uid")


async def token_request(security, registry, namespace: str, name: str, body) -> dict:
    """The TokenRequest answering ``body`` (the request's TokenRequest) for service account ``name``,
    its token signed by ``security``'s service-account key; objects are read through ``registry``."""
    if security is None or security.service_accounts is None or security.service_accounts.signing_key is None:
        raise StatusError(503, "ServiceUnavailable",
                          "serviceaccounts/token is not available: no service account signing key is configured")
    if not isinstance(body, dict):
        raise errors.bad_request("the body of the request was not a TokenRequest")
    sa = security.service_accounts
    metadata = request_metadata(body.get("metadata"), namespace, name)
    account = await registry.store("", "v1", "serviceaccounts").get(namespace, name)
    spec = request_spec(body.get("spec"), sa.audiences)
    now = time.time()
    metadata["creationTimestamp"] = rfc3339(now)
    problems = validate_token_request(spec)
    if problems:
        # Upstream names no object in this error (it validates before the request is bound to one).
        raise errors.invalid_object(GROUP, KIND, "", problems)
    bound = await bound_objects(registry, namespace, name, spec["boundObjectRef"])
    seconds = spec["expirationSeconds"]
    if sa.max_expiration and seconds > sa.max_expiration:
        add_warning(f"requested expiration of {seconds} seconds shortened to {sa.max_expiration} seconds")
        seconds = spec["expirationSeconds"] = sa.max_expiration
    lifetime, warn_after = seconds, 0
    if _extends_expiration(sa, bound, seconds, spec["audiences"]):
        lifetime, warn_after = EXTENDED_SECONDS, seconds
    claims = jwt.bound_claims(sa.issuer, spec["audiences"], namespace, name, account["metadata"].get("uid", ""),
                              lifetime, now=now, warn_after=warn_after, **bound)
    token = jwt.sign(claims, sa.signing_key)
    add_audit_annotation(ISSUED_CREDENTIAL_ID, f"JTI={claims['jti']}")
    return {"kind": KIND, "apiVersion": f"{GROUP}/v1", "metadata": _ordered(metadata), "spec": spec,
            "status": {"token": token, "expirationTimestamp": rfc3339(now + seconds)}}


def request_metadata(given, namespace: str, name: str) -> dict:
    """The request's metadata as TokenREST.Create keeps it: system fields cleared and a namespace other than the
    request's refused (the create handler), a name other than the service account's refused, both filled in."""
    metadata = {k: v for k, v in given.items() if k in OBJECT_META_ORDER and k not in _SYSTEM_FIELDS} \
        if isinstance(given, dict) else {}
    if metadata.get("namespace") and metadata["namespace"] != namespace:
        raise errors.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request")
    if metadata.get("name") and metadata["name"] != name:
        raise errors.invalid_object(GROUP, KIND, name, [
            errors.invalid("metadata.name", metadata["name"], "must match the service account name if specified")])
    metadata["name"], metadata["namespace"] = name, namespace
    return metadata


def request_spec(given, audiences: list[str]) -> dict:
    """TokenRequestSpec's fields, defaulted: the API server's audiences, an hour."""
    given = given if isinstance(given, dict) else {}
    seconds = given.get("expirationSeconds")
    ref = given.get("boundObjectRef")
    if isinstance(ref, dict):
        ref = {k: ref[k] for k in _REF_FIELDS if ref.get(k)}
    return {"audiences": list(given.get("audiences") or audiences),
            "expirationSeconds": DEFAULT_SECONDS if seconds is None else seconds,
            "boundObjectRef": ref if isinstance(ref, dict) else None}


def validate_token_request(spec: dict) -> list:
    """Upstream's ValidateTokenRequest: an expiration of at least ten minutes and at most 2^32 seconds."""
    seconds, field = spec["expirationSeconds"], "spec.expirationSeconds"
    if not isinstance(seconds, int) or seconds < MIN_SECONDS:
        return [errors.invalid(field, seconds, "may not specify a duration less than 10 minutes")]
    if seconds > MAX_SECONDS:
        return [errors.invalid(field, seconds, "may not specify a duration larger than 2^32 seconds")]
    return []


async def bound_objects(registry, namespace: str, name: str, ref: Optional[dict]) -> dict:
    """The objects (pod, secret, node: each a name and uid) a token is bound to, as TokenREST.Create finds them:
    a core Pod running as the service account (and the node it runs on), Secret or Node, its uid the reference's
    if that gives one; any other kind is refused."""
    if ref is None:
        return {}
    group, version, kind = group_version_kind(ref.get("apiVersion", ""), ref.get("kind", ""))
    ref_name = ref.get("name", "")
    if group == "" and kind == "Pod":
        pod = await registry.store("", "v1", "pods").get(namespace, ref_name)
        if (pod.get("spec") or {}).get("serviceAccountName", "") != name:
            raise errors.bad_request(
                f"cannot bind token for serviceaccount {_quote(name)} to pod running with different serviceaccount "
                "name.")
        bound = {"pod": _ref(pod)}
        node_name = (pod.get("spec") or {}).get("nodeName")
        if node_name:
            bound["node"] = await _pods_node(registry, node_name)
    elif group == "" and kind == "Node":
        bound = {"node": _ref(await registry.store("", "v1", "nodes").get(None, ref_name))}
    elif group == "" and kind == "Secret":
        bound = {"secret": _ref(await registry.store("", "v1", "secrets").get(namespace, ref_name))}
    else:
        raise errors.bad_request(f"cannot bind token to object of type {group}/{version}, Kind={kind}")
    uid = next(iter(bound.values()))["uid"]
    if ref.get("uid") and ref["uid"] != uid:
        raise errors.conflict(errors.GroupResource(group, kind), ref_name,
                              f"the UID in the bound object reference ({ref['uid']}) does not match the UID in "
                              "record. The object might have been deleted and then recreated")
    return bound


async def _pods_node(registry, node_name: str) -> dict:
    """The node a bound pod runs on; only its name when there is no such Node (upstream still names it)."""
    try:
        return _ref(await registry.store("", "v1", "nodes").get(None, node_name))
    except StatusError as e:
        if e.code == 404:
            return {"name": node_name, "uid": ""}
        raise errors.internal_error(e.message) from None


def group_version_kind(api_version: str, kind: str) -> tuple[str, str, str]:
    """schema.FromAPIVersionAndKind: an apiVersion that does not parse leaves the group and version empty."""
    if not isinstance(api_version, str) or api_version in ("", "/") or api_version.count("/") > 1:
        return "", "", kind
    group, _, version = api_version.rpartition("/")
    return group, version, kind


def _extends_expiration(sa, bound: dict, seconds: int, audiences: list[str]) -> bool:
    """Whether a token lives a year though asked for WARN_ONLY_SECONDS, as upstream's extendExpiration has it:
    pod-bound tokens for none but the API server's audiences (upstream's --service-account-extend-token-expiration,
    on by default; ServiceAccountTokens may carry it as extend_expiration)."""
    return getattr(sa, "extend_expiration", True) and "pod" in bound and seconds == WARN_ONLY_SECONDS and \
        set(audiences) <= set(sa.audiences)


def _ref(obj: dict) -> dict:
    metadata = obj.get("metadata") or {}
    return {"name": metadata.get("name", ""), "uid": metadata.get("uid", "")}


def _ordered(metadata: dict) -> dict:
    return {k: metadata[k] for k in OBJECT_META_ORDER if k in metadata}


def _quote(text: str) -> str:
    """Go's %q of a plain name."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
