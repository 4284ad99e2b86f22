"""ResourceQuota's limitedResources: consumption they name needs a covering quota."""

from __future__ import annotations

import pytest
from twisted.internet import task

from kapiserver.admission.config import AdmissionConfigError
from kapiserver.admission.quota import ResourceQuotaAdmission, parse_configuration
from kapiserver.machinery.errors import StatusError

from .conftest import FakeRegistry, call, drive, store

PODS = store("pods", "Pod")
CONFIG = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "ResourceQuotaConfiguration",
          "limitedResources": [{"resource": "pods", "matchContains": ["requests.cpu"]}]}


def pod(cpu=None, priority_class=None) -> dict:
    resources = {"requests": {"cpu": cpu}} if cpu else {}
    spec = {"containers": [{"name": "c", "image": "i", "resources": resources}]}
    if priority_class:
        spec["priorityClassName"] = priority_class
    return {"metadata": {"name": "p", "namespace": "team"}, "spec": spec}


def quota(name, hard, **spec) -> dict:
    return {"metadata": {"name": name, "namespace": "team"}, "spec": {"hard": hard, **spec}}


def admit(configuration, quotas, obj):
    plugin = ResourceQuotaAdmission(FakeRegistry(quotas=quotas), task.Clock(), parse_configuration(configuration))
    return drive(call(plugin, "create", PODS, obj, None))


def test_limited_consumption_without_quota_is_forbidden():
    """A pod requesting CPU in a namespace with no quota at all is refused with upstream's 403."""
    with pytest.raises(StatusError) as info:
        admit(CONFIG, [], pod(cpu="100m"))
    e = info.value
    assert (e.code, e.reason, e.message) == (403, "Forbidden", 'pods "p" is forbidden: insufficient quota to '
                                                               'consume: requests.cpu')
    assert e.details == {"name": "p", "kind": "pods"}


def test_consumption_not_named_passes():
    """A pod that requests no CPU consumes nothing limited, so it needs no quota."""
    assert admit(CONFIG, [], pod()) is None


def test_a_quota_limiting_the_resource_covers_it():
    """A quota whose hard names the limited resource covers it; one that does not, does not."""
    assert admit(CONFIG, [quota("compute", {"requests.cpu": "2"})], pod(cpu="100m")) is None
    with pytest.raises(StatusError) as info:
        admit(CONFIG, [quota("objects", {"pods": "10"})], pod(cpu="100m"))
    assert info.value.message.endswith("insufficient quota to consume: requests.cpu")


def test_without_configuration_nothing_is_limited():
    """No limitedResources: a namespace without quotas admits everything."""
    assert admit(None, [], pod(cpu="100m")) is None


def test_match_scopes_need_a_quota_with_that_scope():
    """A pod in a limited scope needs a quota selecting that scope, else upstream's plain (500) error."""
    configuration = dict(CONFIG, limitedResources=[{"resource": "pods", "matchScopes": [
        {"scopeName": "PriorityClass", "operator": "In", "values": ["cluster-services"]}]}])
    with pytest.raises(StatusError) as info:
        admit(configuration, [], pod(priority_class="cluster-services"))
    assert (info.value.code, info.value.reason) == (500, "")
    assert info.value.message == ("insufficient quota to match these scopes: "
                                  "[{PriorityClass In [cluster-services]}]")
    scoped = quota("critical", {"pods": "10"}, scopeSelector={"matchExpressions": [
        {"scopeName": "PriorityClass", "operator": "In", "values": ["cluster-services"]}]})
    assert admit(configuration, [scoped], pod(priority_class="cluster-services")) is None
    assert admit(configuration, [], pod(priority_class="other")) is None


@pytest.mark.parametrize("configuration, message", [
    ({"apiVersion": "resourcequota.admission.k8s.io/v1beta1", "kind": "Configuration",
      "limitedResources": [{"apiGroup": "", "resource": "pods", "matchContains": ["cpu"]}]}, None),
    ({"apiVersion": "apiserver.config.k8s.io/v1", "kind": "Configuration"},
     'no kind "Configuration" is registered for version "apiserver.config.k8s.io/v1"'),
    (dict(CONFIG, limitedResources=[{"apiGroup": ""}]), "limitedResources[0].resource: Required value"),
])
def test_configuration_versions_and_validation(configuration, message):
    """The v1 ResourceQuotaConfiguration and the v1beta1 Configuration read; a limit needs its resource."""
    if message is None:
        assert parse_configuration(configuration)[0]["matchContains"] == ["cpu"]
        return
    with pytest.raises(AdmissionConfigError) as info:
        parse_configuration(configuration)
    assert str(info.value).startswith(message)
