"""Objects and reads the endpoints, EndpointSlice and mirroring tests share."""

from __future__ import annotations

import time

from kapiserver.client.resources import ENDPOINT_SLICES, ENDPOINTS, PODS
from kapiserver.client.rest import APIError
from kapiserver.machinery.meta import rfc3339
from tests.controllermanager.conftest import run


def pod(name, labels, ports=(), **spec):
    """A pod of one container exposing ``ports`` ((name, number) pairs, or numbers)."""
    container_ports = [{"name": p[0], "containerPort": p[1]} if isinstance(p, tuple) else {"containerPort": p}
                       for p in ports]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": dict(labels)},
            "spec": {"containers": [{"name": "c", "image": "busybox", "ports": container_ports}], **spec}}


def service(name, selector, ports, **spec):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {**({"selector": selector} if selector is not None else {}), "ports": ports, **spec}}


def endpoints_of(client, namespace, name):
    try:
        return run(client.get(ENDPOINTS, name, namespace))
    except APIError as e:
        if e.code == 404:
            return None
        raise


def addresses(endpoints, field="addresses"):
    """{pod name: ip} under ``field`` of every subset."""
    return {a["targetRef"]["name"]: a["ip"] for s in (endpoints or {}).get("subsets") or [] for a in s.get(field) or []}


def slices_of(client, namespace, service_name):
    return run(client.list(ENDPOINT_SLICES, namespace,
                           label_selector=f"kubernetes.io/service-name={service_name}"))["items"]


def slice_endpoints(slices):
    """{pod name: endpoint} over the slices."""
    return {e["targetRef"]["name"]: e for s in slices for e in s.get("endpoints") or []}


def running_ip(client, namespace, name):
    current = run(client.get(PODS, name, namespace))
    return current["status"].get("podIP") if current["status"].get("phase") == "Running" else None


def set_ready(client, namespace, name, ready: bool):
    """Report the pod's Ready condition as a kubelet whose readiness probe changed would."""
    status = "True" if ready else "False"
    run(client.patch(PODS, name, {"status": {"conditions": [
        {"type": "Ready", "status": status, "lastTransitionTime": rfc3339(time.time())},
        {"type": "ContainersReady", "status": status, "lastTransitionTime": rfc3339(time.time())}]}}, namespace, patch_type="strategic",
        subresource="status"))
