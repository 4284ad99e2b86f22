"""The Attributes a Registry's Stores and subresources hand to admission, against a Registry on SQLite."""

from __future__ import annotations

import copy

import pytest

from kapiserver.admission.chain import AdmissionChain
from kapiserver.auth.user import INSECURE_USER, UserInfo
from kapiserver.registry.attributes import CONNECT, CREATE, DELETE, UPDATE
from kapiserver.registry.options import WriteOptions
from kapiserver.registry.subresources import rest_for
from kapiserver.registry.subresources.connect import connect_attributes, connect_options

from tests.controllers.conftest import run


class Recorder:
    """A plugin that keeps every Attributes it is asked to admit."""

    def __init__(self):
        self.seen = []

    async def admit(self, attributes) -> None:
        self.seen.append(attributes)

    async def validate(self, attributes) -> None:
        return None


class Alice:
    """A request context whose user is alice, recording into a list."""

    def __init__(self):
        self.warnings = []

    def current_user(self):
        return UserInfo("alice", groups=["devs"])

    def current_record(self):
        return self

    def add_warning(self, text):
        self.warnings.append(text)

    def add_audit_annotation(self, key, value):
        pass


@pytest.fixture
def recorder(registry):
    plugin = Recorder()
    registry.admission = AdmissionChain([plugin])
    run(registry.store("", "v1", "namespaces").create(None, {"metadata": {"name": "ns"}}))
    plugin.seen.clear()
    return plugin


def _pod(name="p"):
    return {"metadata": {"name": name, "namespace": "ns"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}


def test_create_update_and_delete_name_their_operation_objects_and_user(registry, recorder):
    """A create carries the new object, an update both, a delete only the old one; outside a request the
    user is the insecure port's."""
    pods = registry.store("", "v1", "pods")
    run(pods.create("ns", _pod(), WriteOptions(dry_run=False)))
    run(pods.update("ns", "p", lambda old: dict(old, metadata=dict(old["metadata"], labels={"a": "b"}))))
    run(pods.delete("ns", "p"))
    created, updated, deleted = recorder.seen
    assert (created.operation, created.name, created.namespace, created.subresource) == (CREATE, "p", "ns", "")
    assert created.old_object is None and created.object["metadata"]["name"] == "p"
    assert (created.kind.kind, created.resource.resource, created.resource.version) == ("Pod", "pods", "v1")
    assert created.user_info is INSECURE_USER and isinstance(created.options, WriteOptions)
    assert updated.operation == UPDATE and updated.object["metadata"]["labels"] == {"a": "b"}
    assert "labels" not in updated.old_object["metadata"]
    assert (deleted.operation, deleted.object, deleted.old_object["metadata"]["name"]) == (DELETE, None, "p")


def test_status_update_names_its_subresource(registry, recorder):
    """An update through pods/status is admitted with subresource "status" (it used to be always "")."""
    pods = registry.store("", "v1", "pods")
    run(pods.create("ns", _pod()))
    status = rest_for(pods, "status")

    def change(old):
        new = copy.deepcopy(old)
        new["status"] = {"phase": "Running"}
        return new
    assert run(status.update("ns", "p", change, WriteOptions()))["status"]["phase"] == "Running"
    attributes = recorder.seen[-1]
    assert (attributes.operation, attributes.subresource, attributes.name) == (UPDATE, "status", "p")
    # The QoS class the write dropped is backfilled by the status strategy before admission, as upstream's.
    assert attributes.object["status"] == {"phase": "Running", "qosClass": "BestEffort"}


def test_scale_update_names_its_subresource(registry, recorder):
    """deployments/scale is admitted as an UPDATE of the deployment with subresource "scale"."""
    deployments = registry.store("apps", "v1", "deployments")
    run(deployments.create("ns", {
        "metadata": {"name": "web", "namespace": "ns"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "i"}]}}}}))
    scale = rest_for(deployments, "scale")
    result = run(scale.update("ns", "web", lambda s: dict(s, spec={"replicas": 4}), WriteOptions()))
    assert result["kind"] == "Scale" and result["spec"] == {"replicas": 4}
    attributes = recorder.seen[-1]
    assert (attributes.operation, attributes.subresource, attributes.resource.resource) == \
        (UPDATE, "scale", "deployments")
    assert attributes.object["spec"]["replicas"] == 4


def test_chain_gives_attributes_the_requests_user_and_record(registry):
    """The chain's context supplies the user and the response record the Store's attributes lack."""
    plugin, context = Recorder(), Alice()
    registry.admission = AdmissionChain([plugin], context=context)
    run(registry.store("", "v1", "namespaces").create(None, {"metadata": {"name": "team"}}))
    attributes = plugin.seen[-1]
    assert attributes.user_info.name == "alice" and attributes.record is context
    attributes.record.add_warning("careful")
    assert context.warnings == ["careful"]


def test_connect_options_and_attributes():
    """exec's query becomes a PodExecOptions, the object of a CONNECT on pods/exec; a proxy's path its
    options' path; logs are not a connect subresource."""
    query = {"command": ["sh", "-c", "true"], "container": ["c"], "stdout": ["true"], "stderr": ["1"],
             "stdin": ["false"]}
    options = connect_options("pods", "exec", query)
    assert options == {"kind": "PodExecOptions", "apiVersion": "v1", "stdout": True, "stderr": True,
                       "container": "c", "command": ["sh", "-c", "true"]}
    assert connect_options("pods", "portforward", {"ports": ["8080", "9090"]})["ports"] == [8080, 9090]
    assert connect_options("services", "proxy", {}, ["api", "v1"], trailing_slash=True)["path"] == "/api/v1/"
    assert connect_options("nodes", "proxy", {}) == {"kind": "NodeProxyOptions", "apiVersion": "v1"}
    assert connect_options("pods", "log", {}) is None
    from kapiserver.registry.catalog import Catalog
    pods = Catalog().lookup("", "v1", "pods")
    attributes = connect_attributes(pods, "exec", "ns", "p", options)
    assert (attributes.operation, attributes.kind.kind, attributes.resource.resource, attributes.subresource) == \
        (CONNECT, "PodExecOptions", "pods", "exec")
    assert attributes.object is options and attributes.old_object is None


def test_with_request_is_what_dataclasses_replace_gives():
    """with_request copies field by field: the same attributes dataclasses.replace would make, the original
    unchanged, the patched_by list shared; a user or record already named is kept; for_resource's kind and
    resource are the resource's, shared between requests."""
    import dataclasses

    from kapiserver.registry.attributes import DISCARD, GroupVersionKind, GroupVersionResource, for_resource
    from kapiserver.registry.catalog import ResourceInfo

    info = ResourceInfo("", "v1", "configmaps", "ConfigMap", True)
    obj = {"metadata": {"name": "a", "namespace": "ns"}}
    plain = for_resource(info, CREATE, obj, None, options="opts", dry_run=True)
    assert plain.kind == GroupVersionKind("", "v1", "ConfigMap")
    assert plain.resource == GroupVersionResource("", "v1", "configmaps")
    assert (plain.name, plain.namespace, plain.object, plain.dry_run) == ("a", "ns", obj, True)
    again = for_resource(info, CREATE, obj, None)
    assert again.kind is plain.kind and again.resource is plain.resource
    record = Alice()
    user = UserInfo("alice", groups=["devs"])
    made = plain.with_request(user, record)
    assert made == dataclasses.replace(plain, user_info=user, record=record)
    assert made is not plain and plain.user_info is None and plain.record is DISCARD
    assert made.patched_by is plain.patched_by
    other = UserInfo("bob")
    kept = made.with_request(other, Alice())
    assert kept == made and kept is not made and kept.user_info is user and kept.record is record
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.name = "b"


def test_for_resource_makes_what_the_dataclass_makes():
    """for_resource fills every field Attributes has (it does not go through the dataclass's __init__): equal to
    the Attributes the constructor makes, field for field, each with its own patched_by list."""
    import dataclasses
    from types import SimpleNamespace

    from kapiserver.registry.attributes import DISCARD, Attributes, for_resource
    info = SimpleNamespace(group="apps", version="v1", kind="Deployment", resource="deployments", namespaced=True)
    obj = {"metadata": {"name": "d", "namespace": "ns"}}
    options = WriteOptions()
    made = for_resource(info, UPDATE, obj, {"metadata": {"name": "d"}}, "status", options, dry_run=True)
    expected = Attributes(UPDATE, made.kind, made.resource, "status", "d", "ns", obj, {"metadata": {"name": "d"}},
                          options, True)
    assert set(vars(made)) == {f.name for f in dataclasses.fields(Attributes)}
    assert made == expected
    assert made.user_info is None and made.record is DISCARD and made.patched_by == [] and not made.patched
    again = for_resource(info, UPDATE, obj, None)
    assert again.patched_by is not made.patched_by
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.name = "other"
    assert (made.kind.group, made.kind.version, made.kind.kind) == ("apps", "v1", "Deployment")
    assert (made.resource.group, made.resource.resource) == ("apps", "deployments")
