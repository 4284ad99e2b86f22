"""The fields a field selector may name per resource, and each object's values for them."""

import pytest

from kapiserver.machinery import errors
from kapiserver.machinery.selectors import parse_field_selector
from kapiserver.registry.fields import accepts, check_field_selector, field_set


def _refusal(group: str, resource: str, text: str) -> str:
    with pytest.raises(errors.StatusError) as caught:
        check_field_selector(group, resource, parse_field_selector(text))
    assert caught.value.code == 400
    return caught.value.message


def test_pod_fields():
    """A pod offers its name, namespace, node, policies, phase and first pod IP."""
    pod = {"metadata": {"name": "web", "namespace": "prod"},
           "spec": {"nodeName": "n1", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                    "serviceAccountName": "default"},
           "status": {"phase": "Running", "podIP": "10.0.0.9",
                      "podIPs": [{"ip": "10.0.0.9"}, {"ip": "fd00::9"}]}}
    assert field_set("", "pods", pod, aliases=False) == {
        "metadata.name": "web", "metadata.namespace": "prod", "spec.nodeName": "n1",
        "spec.restartPolicy": "Always", "spec.schedulerName": "default-scheduler",
        "spec.serviceAccountName": "default", "spec.hostNetwork": "false", "status.phase": "Running",
        "status.podIP": "10.0.0.9", "status.nominatedNodeName": ""}


def test_pod_selector_conversion_and_matching():
    """spec.host is read as spec.nodeName; status.podIPs is accepted but never matches a value."""
    pod = {"metadata": {"name": "web", "namespace": "prod"}, "spec": {"nodeName": "n1", "hostNetwork": True},
           "status": {"podIPs": [{"ip": "10.0.0.9"}]}}
    fields = field_set("", "pods", pod)
    selector = check_field_selector("", "pods", parse_field_selector("spec.host=n1,spec.hostNetwork=true"))
    assert [r.field for r in selector.requirements] == ["spec.nodeName", "spec.hostNetwork"]
    assert selector.matches(fields)
    ips = check_field_selector("", "pods", parse_field_selector("status.podIPs=10.0.0.9"))
    assert not ips.matches(fields)


def test_aliases_match_without_conversion():
    """A selector used as parsed (not converted) still matches through the aliased names."""
    pod = {"metadata": {"name": "web", "namespace": "prod"}, "spec": {"nodeName": "n1"}}
    assert field_set("", "pods", pod)["spec.host"] == "n1"
    assert parse_field_selector("spec.host=n1").matches(field_set("", "pods", pod))
    event = {"metadata": {"name": "e", "namespace": "d"}, "involvedObject": {"name": "web"},
             "reportingComponent": "kubelet"}     # as stored: core/v1's shape
    fields = field_set("events.k8s.io", "events", event)
    assert parse_field_selector("regarding.name=web,reportingController=kubelet").matches(fields)
    assert "regarding.name" not in field_set("", "events", event)


def test_refusals_use_each_kinds_message():
    """Unsupported labels get the message of the kind's conversion function, or the default one."""
    assert _refusal("", "pods", "spec.foo=x") == "field label not supported: spec.foo"
    assert _refusal("", "nodes", "metadata.namespace=x") == "field label not supported: metadata.namespace"
    assert _refusal("apps", "deployments", "status.replicas=1") == (
        '"status.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"')
    assert _refusal("batch", "jobs", "status.active=1") == (
        'field label "status.active" not supported for batchv1.Job')
    assert _refusal("", "configmaps", "data.x=1") == (
        '"data.x" is not a known field selector: only "metadata.name", "metadata.namespace"')


def test_first_refused_term_in_sorted_order_is_reported():
    """Terms are checked in upstream's sorted order, so the first refused one names the error."""
    assert _refusal("", "pods", "zz=1,aa=2") == "field label not supported: aa"


@pytest.mark.parametrize("group, resource, label, expected", [
    ("", "events", "involvedObject.uid", True),
    ("", "events", "regarding.name", False),
    ("events.k8s.io", "events", "regarding.name", True),
    ("events.k8s.io", "events", "involvedObject.name", False),
    ("", "namespaces", "status.phase", True),
    ("", "namespaces", "metadata.namespace", False),
    ("", "secrets", "type", True),
    ("", "services", "spec.type", True),
    ("", "replicationcontrollers", "status.replicas", True),
    ("certificates.k8s.io", "certificatesigningrequests", "spec.signerName", True),
    ("apps", "replicasets", "status.replicas", False),
    ("example.com", "widgets", "metadata.namespace", True),
])
def test_accepted_labels(group, resource, label, expected):
    """Each resource accepts the labels its upstream conversion function accepts."""
    assert accepts(group, resource, label) is expected


def test_event_fields_in_both_api_groups():
    """Core and events.k8s.io events select on the same fields, whatever shape the object has."""
    core = {"metadata": {"name": "e1", "namespace": "d"}, "type": "Warning", "reason": "BackOff",
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": "d", "uid": "u1"},
            "source": {}, "reportingComponent": "kubelet"}
    fields = field_set("", "events", core)
    assert fields["involvedObject.name"] == "web"
    assert fields["source"] == "kubelet"  # the reporting controller (core/v1's reportingComponent) for an empty source
    assert fields["reportingComponent"] == "kubelet"
    selector = check_field_selector("events.k8s.io", "events",
                                    parse_field_selector("regarding.name=web,reportingController=kubelet"))
    assert selector.matches(fields)
    new_shape = {"metadata": {"name": "e1", "namespace": "d"}, "type": "Warning", "reason": "BackOff",
                 "regarding": {"kind": "Pod", "name": "web"}, "reportingController": "kubelet"}
    assert selector.matches(field_set("events.k8s.io", "events", new_shape))


def test_other_field_sets():
    """Nodes, namespaces, secrets, services, RCs, jobs and CSRs expose their selectable fields."""
    assert field_set("", "nodes", {"metadata": {"name": "n1"}, "spec": {"unschedulable": True}}) == {
        "metadata.name": "n1", "spec.unschedulable": "true"}
    assert field_set("", "namespaces", {"metadata": {"name": "d"}, "status": {"phase": "Active"}}) == {
        "metadata.name": "d", "status.phase": "Active", "name": "d"}
    assert field_set("", "secrets", {"metadata": {"name": "s", "namespace": "d"}, "type": "Opaque"})["type"] \
        == "Opaque"
    svc = field_set("", "services", {"metadata": {"name": "s", "namespace": "d"},
                                     "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1"}})
    assert svc["spec.type"] == "ClusterIP" and svc["spec.clusterIP"] == "10.96.0.1"
    assert field_set("", "replicationcontrollers", {"metadata": {"name": "r", "namespace": "d"}})[
        "status.replicas"] == "0"
    assert field_set("batch", "jobs", {"metadata": {"name": "j", "namespace": "d"},
                                       "status": {"succeeded": 3}})["status.successful"] == "3"
    assert field_set("certificates.k8s.io", "certificatesigningrequests",
                     {"metadata": {"name": "c"}, "spec": {"signerName": "x/y"}}) == {
        "metadata.name": "c", "spec.signerName": "x/y"}


def test_metadata_only_resources():
    """Other resources offer metadata.name, plus metadata.namespace when namespaced."""
    assert field_set("", "configmaps", {"metadata": {"name": "c", "namespace": "d"}}) == {
        "metadata.name": "c", "metadata.namespace": "d"}
    assert field_set("storage.k8s.io", "storageclasses", {"metadata": {"name": "sc"}}) == {
        "metadata.name": "sc"}
    cluster_scoped = check_field_selector("storage.k8s.io", "storageclasses",
                                          parse_field_selector("metadata.namespace=x"))
    assert not cluster_scoped.matches(field_set("storage.k8s.io", "storageclasses",
                                                {"metadata": {"name": "sc"}}))


def test_custom_resource_selectable_fields():
    """A CRD's selectableFields are accepted and read from the object; other labels are refused."""
    paths = [".spec.color", ".spec.size", ".status.ready"]
    shirt = {"metadata": {"name": "s1", "namespace": "d"}, "spec": {"color": "blue", "size": 3},
             "status": {"ready": True}}
    fields = field_set("stable.example.com", "shirts", shirt, selectable_fields=paths)
    assert fields == {"metadata.name": "s1", "metadata.namespace": "d", "spec.color": "blue", "spec.size": "3",
                      "status.ready": "true"}
    selector = check_field_selector("stable.example.com", "shirts",
                                    parse_field_selector("spec.color=blue,spec.size!=4"), selectable_fields=paths)
    assert selector.matches(fields)
    with pytest.raises(errors.StatusError) as caught:
        check_field_selector("stable.example.com", "shirts", parse_field_selector("spec.fabric=silk"),
                             selectable_fields=paths)
    assert caught.value.message == "field label not supported: spec.fabric"
    assert _refusal("stable.example.com", "shirts", "spec.color=blue") == (
        '"spec.color" is not a known field selector: only "metadata.name", "metadata.namespace"')


@pytest.mark.parametrize("metadata", [{"name": "a", "namespace": "ns"}, {"name": 7}, {"name": None}, {}, None, "x",
                                      {"namespace": "ns"}])
def test_metadata_fields_read_as_the_general_path_reads_them(metadata):
    """name and namespace read straight from metadata: the same strings the dotted-path walk gives, for
    objects whose metadata is missing, not a map, or holds no strings."""
    from kapiserver.registry.fields import _get, _s
    obj = {"kind": "ConfigMap"} if metadata is None else {"kind": "ConfigMap", "metadata": metadata}
    fields = field_set("", "configmaps", obj)
    assert fields["metadata.name"] == _s(_get(obj, "metadata.name"))
    assert fields["metadata.namespace"] == _s(_get(obj, "metadata.namespace"))
    assert field_set("", "configmaps", obj) == fields     # the path's parts remembered: the same again
