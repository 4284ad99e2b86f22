"""The chain calls a plugin that declares the (group, resource) pairs it acts on (``admission_resources``)
only for those; every plugin that declares them leaves any other resource's writes alone."""

from __future__ import annotations

import copy

import pytest

from kapiserver.admission.chain import AdmissionChain
from kapiserver.admission.plugins import ORDER, PLUGINS, Initializer
from kapiserver.admission.simple import AllowPrivileged
from kapiserver.registry.attributes import CREATE, DELETE, UPDATE, for_resource

from tests.admission.conftest import drive, store


class Recorder:
    def __init__(self, name, resources=None):
        self.name, self.calls = name, []
        if resources is not None:
            self.admission_resources = frozenset(resources)

    async def admit(self, attributes):
        self.calls.append(("admit", attributes.resource.resource))

    async def validate(self, attributes):
        self.calls.append(("validate", attributes.resource.resource))


def test_the_chain_skips_a_plugin_only_for_resources_it_does_not_name():
    everything, pods, quotas = Recorder("all"), Recorder("pods", {("", "pods")}), Recorder("q", {("", "x")})
    chain = AdmissionChain([everything, pods, quotas])
    for resource in ("configmaps", "pods", "configmaps"):     # the second configmaps write from the memo
        attributes = for_resource(store(resource, "K").info, CREATE, {"metadata": {"name": "a"}}, None)
        drive(chain.admit(attributes))
        drive(chain.validate(attributes))
    assert everything.calls == [("admit", "configmaps"), ("validate", "configmaps"), ("admit", "pods"),
                                ("validate", "pods"), ("admit", "configmaps"), ("validate", "configmaps")]
    assert pods.calls == [("admit", "pods"), ("validate", "pods")]
    assert quotas.calls == []
    assert chain.plugins_for("", "pods") == ([everything, pods], [everything, pods])


class Untouchable:
    """A registry no plugin may read for a resource it does not act on."""

    def __getattr__(self, name):
        raise AssertionError(f"the plugin read the registry ({name}) for a resource it leaves alone")


def _declaring_plugins():
    initializer = Initializer(Untouchable(), authorizer=Untouchable())
    out = [AllowPrivileged(False)]
    for name in ORDER:
        plugin = PLUGINS.get(name)
        if plugin is None:
            continue
        try:
            built = plugin.new(initializer, None)
        except Exception:       # needs a configuration or the webhooks' shared state: declares nothing
            continue
        if getattr(built, "admission_resources", None) is not None:
            out.append(built)
    return out


@pytest.mark.parametrize("plugin", _declaring_plugins(), ids=lambda p: type(p).__name__)
@pytest.mark.parametrize("resource,group,kind", [("configmaps", "", "ConfigMap"), ("secrets", "", "Secret"),
                                                 ("widgets", "example.com", "Widget")])
@pytest.mark.parametrize("operation", [CREATE, UPDATE, DELETE])
def test_a_declaring_plugin_leaves_other_resources_alone(plugin, resource, group, kind, operation):
    assert (group, resource) not in plugin.admission_resources
    obj = {"apiVersion": "v1", "kind": kind, "metadata": {"name": "a", "namespace": "ns"},
           "spec": {"containers": [{"name": "c", "securityContext": {"privileged": True}}]}}
    old = copy.deepcopy(obj)
    attributes = for_resource(store(resource, kind, group).info, operation,
                              None if operation == DELETE else obj, old if operation != CREATE else None)
    before = copy.deepcopy(obj)
    for phase in ("admit", "validate"):
        if callable(getattr(plugin, phase, None)):
            drive(getattr(plugin, phase)(attributes))
    assert obj == before


def test_the_default_plugins_that_declare_resources():
    names = {type(p).__name__ for p in _declaring_plugins()}
    assert {"LimitRanger", "ServiceAccount", "Priority", "DefaultTolerationSeconds", "DefaultStorageClass",
            "StorageObjectInUseProtection", "RuntimeClass", "DefaultIngressClass", "PodSecurity",
            "AllowPrivileged"} <= names
