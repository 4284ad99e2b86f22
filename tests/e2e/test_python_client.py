"""The official Python client against a running kapiserver."""

from __future__ import annotations

import pytest

from tests.conformance.support import wait_for

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client, watch  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402


@pytest.fixture(scope="module")
def core(k8s):
    return client.CoreV1Api(k8s)


@pytest.fixture(scope="module")
def apps(k8s):
    return client.AppsV1Api(k8s)


def _namespace(core, name):
    """``name``, created, once it has its default ServiceAccount (ServiceAccount admission refuses its pods
    until the controller has made it)."""
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    wait_for(lambda: _exists(lambda: core.read_namespaced_service_account("default", name)),
             what=f"the default ServiceAccount of {name}")
    return name


def _exists(read) -> bool:
    try:
        read()
        return True
    except ApiException as e:
        if e.status != 404:
            raise
        return False


def test_create_read_list_and_typed_models(core):
    """Objects round-trip through the typed models, which check upstream's required fields."""
    ns = _namespace(core, "py-basic")
    pod = client.V1Pod(metadata=client.V1ObjectMeta(name="p", labels={"app": "x"}),
                       spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")]))
    created = core.create_namespaced_pod(ns, pod)
    assert created.status.phase == "Pending"
    assert created.spec.dns_policy == "ClusterFirst"
    pods = core.list_namespaced_pod(ns, label_selector="app=x")
    assert [p.metadata.name for p in pods.items] == ["p"]
    assert core.list_namespaced_pod(ns, label_selector="app!=x").items == []
    assert int(pods.metadata.resource_version) >= int(created.metadata.resource_version)
    namespaces = core.list_namespace()
    assert {"default", "kube-system", "kube-public", "kube-node-lease", ns} <= \
        {n.metadata.name for n in namespaces.items}


def test_already_exists_error_is_upstreams_bytes(core):
    """A duplicate create raises ApiException whose body is upstream's exact Status JSON."""
    ns = _namespace(core, "py-errors")
    service = client.V1Service(metadata=client.V1ObjectMeta(name="mock-2"),
                               spec=client.V1ServiceSpec(ports=[client.V1ServicePort(port=80)]))
    core.create_namespaced_service(ns, service)
    with pytest.raises(ApiException) as raised:
        core.create_namespaced_service(ns, service)
    assert raised.value.status == 409
    assert raised.value.body == (
        '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"services \\"mock-2\\" '
        'already exists","reason":"AlreadyExists","details":{"name":"mock-2","kind":"services"},"code":409}\n')


def test_service_ports_strategic_merge(core):
    """Patching a new port into a service merges by port, as the upstream e2e test expects."""
    ns = _namespace(core, "py-smp")
    core.create_namespaced_service(ns, client.V1Service(
        metadata=client.V1ObjectMeta(name="svc"),
        spec=client.V1ServiceSpec(ports=[client.V1ServicePort(port=80, name="http")])))
    patched = core.patch_namespaced_service("svc", ns, {"spec": {"ports": [{"port": 443, "name": "https"}]}})
    assert sorted(p.port for p in patched.spec.ports) == [80, 443]


def test_deployment_scale_and_delete(apps, core):
    """Scale via the scale subresource, then delete with propagationPolicy."""
    ns = _namespace(core, "py-apps")
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"selector": {"matchLabels": {"a": "b"}},
                     "template": {"metadata": {"labels": {"a": "b"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    apps.create_namespaced_deployment(ns, body)
    apps.patch_namespaced_deployment_scale("d", ns, {"spec": {"replicas": 5}})
    assert apps.read_namespaced_deployment_scale("d", ns).spec.replicas == 5
    apps.delete_namespaced_deployment("d", ns, propagation_policy="Background")
    with pytest.raises(ApiException) as raised:
        apps.read_namespaced_deployment("d", ns)
    assert raised.value.status == 404


def test_watch_replays_from_resource_version(core):
    """A watch from a listed resourceVersion yields exactly the later changes, DELETED ones included."""
    ns = _namespace(core, "py-watch")
    listed = core.list_namespaced_config_map(ns, label_selector="w=1")
    core.create_namespaced_config_map(ns, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="a", labels={"w": "1"})))
    core.patch_namespaced_config_map("a", ns, {"data": {"k": "v"}})
    core.create_namespaced_config_map(ns, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="b", labels={"w": "1"})))
    core.delete_collection_namespaced_config_map(ns, label_selector="w=1")
    events = [(e["type"], e["object"].metadata.name) for e in watch.Watch().stream(
        core.list_namespaced_config_map, ns, label_selector="w=1",
        resource_version=listed.metadata.resource_version, timeout_seconds=2)]
    assert events == [("ADDED", "a"), ("MODIFIED", "a"), ("ADDED", "b"), ("DELETED", "a"), ("DELETED", "b")]


def test_pagination_with_limit_and_continue(core):
    """limit and continue page through one snapshot (remainingItemCount, which a label selector leaves out as
    upstream does, is checked by the conformance chunking tests)."""
    ns = _namespace(core, "py-pages")
    labels = {"paged": "yes"}      # the namespace also holds the root CA publisher's kube-root-ca.crt
    for i in range(7):
        core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"c{i}",
                                                                                             labels=labels)))
    first = core.list_namespaced_config_map(ns, limit=3, label_selector="paged=yes")
    assert [c.metadata.name for c in first.items] == ["c0", "c1", "c2"]
    core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c9", labels=labels)))
    names = [c.metadata.name for c in first.items]
    token = first.metadata._continue
    while token:
        page = core.list_namespaced_config_map(ns, limit=3, _continue=token, label_selector="paged=yes")
        assert page.metadata.resource_version == first.metadata.resource_version
        names += [c.metadata.name for c in page.items]
        token = page.metadata._continue
    assert names == [f"c{i}" for i in range(7)]


def test_field_selector_on_pods(core):
    """Pods can be selected by status.phase and spec.nodeName."""
    ns = _namespace(core, "py-fields")
    for name, node in (("on", "node-1"), ("off", None)):
        core.create_namespaced_pod(ns, client.V1Pod(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1PodSpec(node_name=node, containers=[client.V1Container(name="c", image="x")])))
    on_node = core.list_namespaced_pod(ns, field_selector="spec.nodeName=node-1")
    assert [p.metadata.name for p in on_node.items] == ["on"]
    pending = core.list_namespaced_pod(ns, field_selector="status.phase=Pending,metadata.name!=on")
    assert [p.metadata.name for p in pending.items] == ["off"]
    with pytest.raises(ApiException) as raised:
        core.list_namespaced_pod(ns, field_selector="spec.bogus=1")
    assert raised.value.status == 400


def test_priority_runtime_and_csi_kinds_through_typed_models(k8s):
    """The typed models of the scheduling, node and CSI kinds read our objects (their required fields are
    there: value, handler, storageClassName, status.attached)."""
    scheduling, node, storage = client.SchedulingV1Api(k8s), client.NodeV1Api(k8s), client.StorageV1Api(k8s)
    names = {pc.metadata.name: pc for pc in scheduling.list_priority_class().items}
    assert names["system-node-critical"].value == 2000001000
    assert names["system-node-critical"].preemption_policy == "PreemptLowerPriority"
    node.create_runtime_class(client.V1RuntimeClass(metadata=client.V1ObjectMeta(name="py-rc"), handler="runc"))
    assert node.read_runtime_class("py-rc").handler == "runc"
    storage.create_csi_driver(client.V1CSIDriver(metadata=client.V1ObjectMeta(name="py.csi.example.com"),
                                                 spec=client.V1CSIDriverSpec()))
    assert storage.read_csi_driver("py.csi.example.com").spec.attach_required is True
    storage.create_namespaced_csi_storage_capacity("default", client.V1CSIStorageCapacity(
        metadata=client.V1ObjectMeta(name="py-cap"), storage_class_name="standard", capacity="1Gi"))
    assert storage.list_csi_storage_capacity_for_all_namespaces().items[0].capacity == "1Gi"
    storage.create_volume_attachment(client.V1VolumeAttachment(
        metadata=client.V1ObjectMeta(name="py-va"),
        spec=client.V1VolumeAttachmentSpec(attacher="py.csi.example.com", node_name="node-1",
                                           source=client.V1VolumeAttachmentSource(persistent_volume_name="pv"))))
    assert storage.read_volume_attachment_status("py-va").status.attached is False
