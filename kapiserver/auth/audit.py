"""
The audit log (--audit-log-path): one audit.k8s.io/v1 Event per request at
the Metadata level, written as a JSON line when the response completes.
"""

from __future__ import annotations

import datetime
import sys

from ..machinery import codec
from ..machinery.meta import new_uid


def _timestamp(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class AuditLog:
    def __init__(self, path: str):
        # "-" is standard out, as upstream.
        self.stream = sys.stdout if path == "-" else open(path, "a", buffering=1)

    def event(self, request, info, received: float, finished: float) -> dict:
        auth = getattr(request, "kapi_auth", None)
        event = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
                 "auditID": getattr(request, "kapi_audit_id", None) or new_uid(), "stage": "ResponseComplete",
                 "requestURI": request.uri.decode("utf-8", "replace"),
                 "verb": info.verb if info is not None else request.method.decode().lower()}
        if auth is not None:
            who = auth.authenticated or auth.user
            event["user"] = who.to_api()
            if auth.authenticated is not None and auth.user is not auth.authenticated:
                event["impersonatedUser"] = auth.user.to_api()
        else:
            event["user"] = {}
        client = request.getClientAddress()
        event["sourceIPs"] = [getattr(client, "host", "")] if getattr(client, "host", "") else []
        agent = request.getHeader(b"user-agent")
        if agent:
            event["userAgent"] = agent.decode("utf-8", "replace")
        if info is not None and info.is_resource_request:
            ref = {"resource": info.resource}
            for key, value in (("namespace", info.namespace), ("name", info.name),
                               ("apiGroup", info.api_group), ("apiVersion", info.api_version),
                               ("subresource", info.subresource)):
                if value:
                    ref[key] = value
            event["objectRef"] = ref
        code = request.code or 200
        status: dict = {"metadata": {}, "code": code}
        if code >= 400:
            status["status"] = "Failure"
        event["responseStatus"] = status
        event["requestReceivedTimestamp"] = _timestamp(received)
        event["stageTimestamp"] = _timestamp(finished)
        if auth is not None and auth.decision:
            event["annotations"] = {"authorization.k8s.io/decision": auth.decision,
                                    "authorization.k8s.io/reason": auth.reason}
        extra = getattr(request, "kapi_audit_annotations", None)
        if extra:   # recorded while serving the request (admission's, e.g. PodSecurity's)
            event.setdefault("annotations", {}).update(extra)
        return event

    def log(self, request, info, received: float, finished: float) -> None:
        self.stream.write(codec.encode(self.event(request, info, received, finished)).decode())
