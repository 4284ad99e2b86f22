"""PodSecurity through the HTTP handlers: the 403 Status body and the Warning headers clients see."""

from __future__ import annotations

import json

from treq.testing import StubTreq
from twisted.internet import reactor

from kapiserver.auth.audit import AuditLog
from kapiserver.endpoints.api import APIContext
from kapiserver.endpoints.root import APIRoot

from .conftest import admit_with, run_until


def call(client, method, url, body):
    responses, bodies = [], []
    client.request(method, url, data=json.dumps(body).encode(),
                   headers={b"Content-Type": [b"application/json"]}).addCallback(responses.append)
    run_until(lambda: bool(responses), also=client.flush)
    client.content(responses[0]).addCallback(bodies.append)
    run_until(lambda: bool(bodies), also=client.flush)
    return responses[0], json.loads(bodies[0])


def test_http_enforce_and_warn(registry, tmp_path):
    """A refused pod is a 403 Status; an admitted one carries the warn level's 299 Warning header; the audit
    log's events carry PodSecurity's annotations."""
    admit_with(registry)
    audit = AuditLog(str(tmp_path / "audit.log"))
    client = StubTreq(APIRoot(APIContext(registry, reactor, reactor), audit=audit))
    labels = {"pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/warn": "restricted"}
    response, _ = call(client, "POST", "http://k/api/v1/namespaces", {"metadata": {"name": "ns", "labels": labels}})
    assert response.code == 201
    bad = {"metadata": {"name": "bad"}, "spec": {"hostPID": True, "containers": [{"name": "c", "image": "x"}]}}
    response, status = call(client, "POST", "http://k/api/v1/namespaces/ns/pods", bad)
    assert response.code == 403 and not response.headers.getRawHeaders(b"Warning")
    assert status == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": 'pods "bad" is forbidden: violates PodSecurity "baseline:latest": '
                                 "host namespaces (hostPID=true)",
                      "reason": "Forbidden", "details": {"name": "bad", "kind": "pods"}, "code": 403}
    good = {"metadata": {"name": "good"}, "spec": {"containers": [{"name": "c", "image": "x", "securityContext": {
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True}}]}}
    response, created = call(client, "POST", "http://k/api/v1/namespaces/ns/pods", good)
    assert response.code == 201 and created["metadata"]["name"] == "good"
    assert [h.decode() for h in response.headers.getRawHeaders(b"Warning")] == [
        '299 - "would violate PodSecurity \\"restricted:latest\\": seccompProfile (pod or container \\"c\\" must '
        'set securityContext.seccompProfile.type to \\"RuntimeDefault\\" or \\"Localhost\\")"']
    audit.stop()        # its events written
    events = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
    pod_events = [e for e in events if e["objectRef"]["resource"] == "pods"]
    assert [e["annotations"]["pod-security.kubernetes.io/enforce-policy"] for e in pod_events] == \
        ["baseline:latest", "baseline:latest"]
