"""ResourceQuota admission against upstream's plugin (staging/src/k8s.io/apiserver/pkg/admission/plugin/
resourcequota/controller.go) and the core evaluators (pkg/quota/v1/evaluator/core): the constraints a quota puts on
pods, the wording of its refusals, and which writes are charged."""

from __future__ import annotations

import pytest
from twisted.internet import task

from kapiserver.admission.quota import ResourceQuotaAdmission
from kapiserver.machinery.errors import StatusError

from .conftest import FakeRegistry, call, drive, store

PODS = store("pods", "Pod")


def quota(name, hard, used=None, **spec) -> dict:
    q = {"metadata": {"name": name, "namespace": "team", "resourceVersion": "1"}, "spec": {"hard": hard, **spec}}
    if used is not None:
        q["status"] = {"hard": dict(hard), "used": used}
    return q


def container(name, requests=None, limits=None, **extra) -> dict:
    resources = {k: v for k, v in (("requests", requests), ("limits", limits)) if v}
    return {"name": name, "image": "i", "resources": resources, **extra}


def pod(containers, init_containers=(), **spec) -> dict:
    body = {"containers": list(containers), **spec}
    if init_containers:
        body["initContainers"] = list(init_containers)
    return {"metadata": {"name": "p", "namespace": "team"}, "spec": body}


def admit(quotas, obj, operation="create", resource=PODS, old=None, registry=None):
    plugin = ResourceQuotaAdmission(registry or FakeRegistry(quotas=quotas), task.Clock())
    return drive(call(plugin, operation, resource, obj, old))


def refusal(quotas, obj, **kwargs) -> str:
    with pytest.raises(StatusError) as info:
        admit(quotas, obj, **kwargs)
    assert (info.value.code, info.value.reason) == (403, "Forbidden")
    return info.value.message


def test_every_container_must_set_what_a_quota_on_cpu_or_memory_limits():
    """A quota on limits.cpu makes each container (init containers too) set its own cpu limit, even when the pod's
    total is not zero; the names are listed sorted per resource."""
    hard = {"limits.cpu": "4", "requests.memory": "1Gi"}
    used = {"limits.cpu": "0", "requests.memory": "0"}
    message = refusal([quota("compute", hard, used)], pod(
        [container("b", {"memory": "1Mi"}, {"cpu": "1"}), container("a")], [container("setup", limits={"cpu": "1"})]))
    assert message == ('pods "p" is forbidden: failed quota: compute: must specify limits.cpu for: a; '
                       'requests.memory for: a,setup')


def test_a_quota_on_ephemeral_storage_or_extended_resources_requires_nothing():
    """Only cpu and memory are required per container (upstream keeps that for compatibility alone): a pod that
    sets no ephemeral-storage or extended request is admitted under quotas on them."""
    hard = {"requests.ephemeral-storage": "1Gi", "limits.ephemeral-storage": "1Gi", "requests.example.com/dongle": "1"}
    assert admit([quota("storage", hard, {k: "0" for k in hard})], pod([container("c")])) is None


def test_exceeded_quota_shows_quantities_as_upstream_prints_them():
    """requested, used and limited print as Go's Quantity.String: 1Gi and 512Mi, not byte counts; the used and
    hard amounts as written, in canonical form (1024Mi is 1Gi)."""
    limited = quota("mem", {"requests.memory": "1024Mi", "requests.cpu": "2"},
                    {"requests.memory": "512Mi", "requests.cpu": "0.5"})
    message = refusal([limited], pod([container("c", {"memory": "1Gi", "cpu": "2"}, {"memory": "1Gi"})]))
    assert message == ('pods "p" is forbidden: exceeded quota: mem, requested: requests.cpu=2,requests.memory=1Gi, '
                       'used: requests.cpu=500m,requests.memory=512Mi, limited: requests.cpu=2,requests.memory=1Gi')


SERVICES = store("services", "Service")
CLAIMS = store("persistentvolumeclaims", "PersistentVolumeClaim")


def service(kind, ports=1, **spec) -> dict:
    return {"metadata": {"name": "s", "namespace": "team", "resourceVersion": "5", "uid": "u"},
            "spec": {"type": kind, "ports": [{"port": 80 + i} for i in range(ports)], **spec}}


def claim(storage, storage_class="gold") -> dict:
    return {"metadata": {"name": "c", "namespace": "team", "resourceVersion": "5", "uid": "u"},
            "spec": {"storageClassName": storage_class, "resources": {"requests": {"storage": storage}}}}


def test_a_service_update_is_charged_what_it_adds():
    """ClusterIP to NodePort adds node ports (upstream's services evaluator handles updates): refused past the
    quota, with only the added amount as requested; an update adding nothing passes a full quota."""
    q = quota("svc", {"services.nodeports": "1", "services.loadbalancers": "0"},
              {"services.nodeports": "0", "services.loadbalancers": "0"})
    message = refusal([q], service("NodePort", 2), operation="update", resource=SERVICES,
                      old=service("ClusterIP", 2))
    assert message == ('services "s" is forbidden: exceeded quota: svc, requested: services.nodeports=2, '
                       'used: services.nodeports=0, limited: services.nodeports=1')
    full = quota("svc", {"services.nodeports": "2"}, {"services.nodeports": "2"})
    assert admit([full], service("NodePort", 2, sessionAffinity="ClientIP"), operation="update",
                 resource=SERVICES, old=service("NodePort", 2)) is None


def test_growing_a_claim_is_charged_the_growth():
    """A claim resized from 1Gi to 5Gi is charged 4Gi of requests.storage and of its class's storage."""
    hard = {"requests.storage": "10Gi", "gold.storageclass.storage.k8s.io/requests.storage": "4Gi"}
    q = quota("storage", hard, {"requests.storage": "1Gi", "gold.storageclass.storage.k8s.io/requests.storage": "1Gi"})
    message = refusal([q], claim("5Gi"), operation="update", resource=CLAIMS, old=claim("1Gi"))
    assert message == ('persistentvolumeclaims "c" is forbidden: exceeded quota: storage, requested: '
                       'gold.storageclass.storage.k8s.io/requests.storage=4Gi, used: '
                       'gold.storageclass.storage.k8s.io/requests.storage=1Gi, limited: '
                       'gold.storageclass.storage.k8s.io/requests.storage=4Gi')
    registry = FakeRegistry(quotas=[quota("storage", {"requests.storage": "10Gi"}, {"requests.storage": "1Gi"})])
    assert admit(None, claim("3Gi"), operation="update", resource=CLAIMS, old=claim("1Gi"),
                 registry=registry) is None
    assert registry.quotas["storage"]["status"]["used"] == {"requests.storage": "3Gi"}
