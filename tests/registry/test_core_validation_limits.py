"""LimitRange and ResourceQuota validation as upstream's ValidateLimitRange, ValidateResourceQuota and
ValidateResourceQuotaUpdate word it (objects defaulted first, as on the create path)."""

from __future__ import annotations

import copy

from kapiserver.registry.defaults import apply_defaults
from kapiserver.registry.validation import validate
from tests.registry.conftest import defaulted_errors


def errors(kind, obj, old=None):
    return defaulted_errors(kind, obj, old)


def limit_range(*limits):
    return {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "l", "namespace": "default"},
            "spec": {"limits": list(limits)}}


def quota(**spec):
    return {"apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": "q", "namespace": "default", "resourceVersion": "1"}, "spec": spec}


def go_quantity(value, scale=0, text=None):
    return (f"resource.Quantity{{i:resource.int64Amount{{value:{value}, scale:{scale}}}, "
            f"d:resource.infDecAmount{{Dec:(*inf.Dec)(nil)}}, s:\"{text if text is not None else value}\", "
            f"Format:\"DecimalSI\"}}")


def test_limit_range_valid_item_passes():
    """A Container item with min <= defaultRequest <= default <= max and a ratio max/min allows is accepted."""
    assert errors("LimitRange", limit_range({
        "type": "Container", "min": {"cpu": "100m"}, "max": {"cpu": "2"}, "default": {"cpu": "1"},
        "defaultRequest": {"cpu": "500m"}, "maxLimitRequestRatio": {"cpu": "4"}},
        {"type": "Pod", "max": {"memory": "1Gi"}},
        {"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}})) == []


def test_limit_range_default_above_max():
    """A default above max is refused at default[...] and, once defaulted into defaultRequest, there too."""
    assert errors("LimitRange", limit_range({"type": "Container", "max": {"cpu": "1"}, "default": {"cpu": "2"}})) == [
        f"spec.limits[0].defaultRequest[cpu]: Invalid value: {go_quantity(2)}: "
        "default request value 2 is greater than max value 1",
        f"spec.limits[0].default[cpu]: Invalid value: {go_quantity(1)}: default value 2 is greater than max value 1"]


def test_limit_range_min_above_max():
    """min above max is refused at min[...] (and at the defaults max filled in)."""
    assert errors("LimitRange", limit_range({"type": "Pod", "min": {"cpu": "2"}, "max": {"cpu": "1"}})) == [
        f"spec.limits[0].min[cpu]: Invalid value: {go_quantity(2)}: min value 2 is greater than max value 1"]


def test_limit_range_types_and_names():
    """Types must be standard or qualified and unique; Pod items take no defaults; a PVC item needs storage
    bounds; resource names follow validateContainerResourceName for Pod and Container."""
    assert errors("LimitRange", limit_range(
        {"type": "Bogus"}, {"type": "Pod", "default": {"cpu": "1"}, "max": {"foo": "1"}},
        {"type": "PersistentVolumeClaim", "max": {"cpu": "1"}}, {"type": "Bogus"})) == [
        'spec.limits[0].type: Invalid value: "Bogus": must be a standard limit type or fully qualified',
        'spec.limits[1].max[foo]: Invalid value: "foo": must be a standard resource type or fully qualified',
        'spec.limits[1].max[foo]: Invalid value: "foo": must be a standard resource for containers',
        "spec.limits[1].default: Forbidden: may not be specified when `type` is 'Pod'",
        "spec.limits[2].limits: Required value: either minimum or maximum storage value is required, "
        "but neither was provided",
        'spec.limits[3].type: Invalid value: "Bogus": must be a standard limit type or fully qualified',
        'spec.limits[3].type: Duplicate value: "Bogus"']


def test_limit_range_ratios():
    """maxLimitRequestRatio is at least 1 and at most max/min."""
    assert errors("LimitRange", limit_range({"type": "Container", "maxLimitRequestRatio": {"cpu": "500m"}})) == [
        f"spec.limits[0].maxLimitRequestRatio[cpu]: Invalid value: {go_quantity(500, -3, '500m')}: "
        "ratio 500m is less than 1"]
    assert errors("LimitRange", limit_range({"type": "Pod", "min": {"cpu": "1"}, "max": {"cpu": "2"},
                                             "maxLimitRequestRatio": {"cpu": "3"}})) == [
        f"spec.limits[0].maxLimitRequestRatio[cpu]: Invalid value: {go_quantity(3)}: "
        "ratio 3 is greater than max/min = 2.000000"]


def test_limit_range_extended_resource_defaults_must_match():
    """Resources that may not be overcommitted need default == defaultRequest."""
    assert errors("LimitRange", limit_range({"type": "Container", "default": {"example.com/gpu": "2"},
                                             "defaultRequest": {"example.com/gpu": "1"}})) == [
        f"spec.limits[0].defaultRequest[example.com/gpu]: Invalid value: {go_quantity(1)}: "
        "default value 2 must equal to defaultRequest value 1 in example.com/gpu"]


def test_quota_hard_names_and_values():
    """spec.hard names are standard quota resources or qualified; values not negative, whole for counts."""
    assert errors("ResourceQuota", quota(hard={
        "foo": "1", "pods": "1500m", "cpu": "-1", "count/deployments.apps": "2", "requests.example.com/gpu": "1",
        "storage": "1", "requests.storage": "1Gi", "hugepages-2Mi": "1Gi", "resourcequotas": "1"})) == [
        'spec.hard[cpu]: Invalid value: "-1": must be greater than or equal to 0',
        'spec.hard[foo]: Invalid value: "foo": must be a standard resource type or fully qualified',
        'spec.hard[foo]: Invalid value: "foo": must be a standard resource for quota',
        f"spec.hard[pods]: Invalid value: {go_quantity(1500, -3, '1500m')}: must be an integer",
        'spec.hard[storage]: Invalid value: "storage": must be a standard resource for quota']


def test_quota_scopes():
    """Scopes must be known, fit the resources limited, and not conflict."""
    rendered = '[]core.ResourceQuotaScope{"BestEffort", "NotBestEffort"}'
    assert errors("ResourceQuota", quota(hard={"pods": "1"}, scopes=["BestEffort", "NotBestEffort"])) == [
        f"spec.scopes: Invalid value: {rendered}: conflicting scopes"]
    assert errors("ResourceQuota", quota(hard={"cpu": "1"}, scopes=["BestEffort"])) == [
        'spec.scopes: Invalid value: []core.ResourceQuotaScope{"BestEffort"}: unsupported scope applied to resource']
    assert errors("ResourceQuota", quota(hard={"pods": "1"}, scopes=["Foo"])) == [
        'spec.scopes: Invalid value: []core.ResourceQuotaScope{"Foo"}: unsupported scope']
    assert errors("ResourceQuota", quota(hard={"pods": "1"}, scopes=["Terminating", "PriorityClass"])) == []


def test_quota_scope_selector():
    """scopeSelector expressions: BestEffort-like scopes take Exists only; In and NotIn need values."""
    assert errors("ResourceQuota", quota(hard={"pods": "1"}, scopeSelector={"matchExpressions": [
        {"scopeName": "BestEffort", "operator": "In", "values": ["x"]},
        {"scopeName": "PriorityClass", "operator": "In"},
        {"scopeName": "PriorityClass", "operator": "Exists", "values": ["a"]}]})) == [
        'spec.scopeSelector.matchExpressions.operator: Invalid value: "In": must be \'Exists\' when scope is any of '
        "ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, "
        "ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity",
        "spec.scopeSelector.matchExpressions.values: Required value: must be at least one value when `operator` "
        "is 'In' or 'NotIn' for scope selector",
        'spec.scopeSelector.matchExpressions.values: Invalid value: []string{"a"}: must be no value when '
        "`operator` is 'Exist' or 'DoesNotExist' for scope selector"]
    assert errors("ResourceQuota", quota(hard={"pods": "1"}, scopeSelector={"matchExpressions": [
        {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]})) == []


def test_quota_scopes_immutable():
    """An update may not change the scopes."""
    assert errors("ResourceQuota", quota(hard={"pods": "1"}, scopes=["BestEffort"]), quota(hard={"pods": "1"})) == [
        'spec.scopes: Invalid value: []core.ResourceQuotaScope{"BestEffort"}: field is immutable']
    assert errors("ResourceQuota", quota(hard={"pods": "2"}), quota(hard={"pods": "1"})) == []


def node(**spec):
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n", "resourceVersion": "1"}, "spec": spec}


def node_errors(obj, old=None):
    obj = copy.deepcopy(obj)
    apply_defaults("", "v1", "Node", obj)
    return [str(e) for e in validate("", "v1", "Node", obj, old, False)]


def test_node_pod_cidrs_and_provider_id_set_once():
    """podCIDRs and providerID may go from unset to a value, never change after."""
    assert node_errors(node(podCIDRs=["10.0.0.0/24"], providerID="a"),
                       node(podCIDRs=["10.1.0.0/24"], providerID="b")) == [
        'spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid',
        'spec.providerID: Forbidden: node updates may not change providerID except from "" to valid']
    assert node_errors(node(podCIDRs=["10.0.0.0/24"], providerID="a"), node()) == []


def test_node_taints_and_cidrs_on_create():
    """Taints are judged under metadata.taints as upstream reports them; podCIDRs are CIDRs, one per family."""
    assert node_errors(node(podCIDRs=["10.0.0.0/24", "10.1.0.0/24"], taints=[
        {"key": "a", "effect": "NoSchedule"}, {"key": "a", "effect": "NoSchedule"}])) == [
        'metadata.taints[1]: Duplicate value: core.Taint{Key:"a", Value:"", Effect:"NoSchedule", '
        'TimeAdded:(*v1.Time)(nil)}: taints must be unique by key and effect pair',
        'spec.podCIDRs: Invalid value: []string{"10.0.0.0/24", "10.1.0.0/24"}: may specify no more than one CIDR '
        "for each IP family"]
    assert node_errors(node(podCIDRs=["10.0.0.0/24", "fd00::/64"])) == []


def test_node_capacity_quantities():
    """Capacity may not be negative, and pods is a whole number."""
    obj = node()
    obj["status"] = {"capacity": {"cpu": "-1", "pods": "1500m"}, "allocatable": {"cpu": "1"}}
    assert node_errors(obj) == [
        'status.capacity.cpu: Invalid value: "-1": must be greater than or equal to 0',
        f"status.capacity.pods: Invalid value: {go_quantity(1500, -3, '1500m')}: must be an integer"]


def endpoints(*addresses):
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "e", "namespace": "default"},
            "subsets": [{"addresses": list(addresses), "ports": [{"port": 80}]}]}


def test_endpoint_addresses_are_ips():
    """Endpoint IPs must parse (two errors, as upstream's IsValidIP and ValidateNonSpecialIP give); hostnames
    are labels."""
    assert errors("Endpoints", endpoints({"ip": "10.0.0.1", "hostname": "web-0", "nodeName": "n1"},
                                         {"ip": "fd00::1"})) == []
    assert errors("Endpoints", endpoints({"ip": "nope"}, {"ip": "10.0.0.2", "hostname": "Web"})) == [
        'subsets[0].addresses[0].ip: Invalid value: "nope": must be a valid IP address, '
        "(e.g. 10.9.8.7 or 2001:db8::ffff)",
        'subsets[0].addresses[0].ip: Invalid value: "nope": must be a valid IP address',
        'subsets[0].addresses[1].hostname: Invalid value: "Web": a lowercase RFC 1123 label must consist of lower '
        "case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. "
        "'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]


def test_a_nodes_pod_cidr_is_judged_on_update_as_go_parses_it():
    """Upstream's node strategy runs ValidateNode on an update too: a podCIDR set by a patch must be a CIDR as
    ParseCIDRSloppy reads it (a prefix length needed; an IPv4 address's leading zeros allowed)."""
    from kapiserver.registry.validation.core import validate_node_update
    old = {"metadata": {"name": "n", "resourceVersion": "1"}, "spec": {}}
    for cidr in ("garbage", "10.0.0.1", "10.0.0.0/255.255.255.0"):
        new = {"metadata": {"name": "n", "resourceVersion": "1"}, "spec": {"podCIDR": cidr, "podCIDRs": [cidr]}}
        assert [str(e) for e in validate_node_update(new, old, False)] == [
            f'spec.podCIDRs[0]: Invalid value: []string{{"{cidr}"}}: must be valid CIDR']
    sloppy = {"metadata": {"name": "n", "resourceVersion": "1"},
              "spec": {"podCIDR": "010.000.0.0/24", "podCIDRs": ["010.000.0.0/24"]}}
    assert validate_node_update(sloppy, old, False) == []


def test_status_writes_are_judged_by_each_resources_status_rules():
    """validation.status_rule: a ResourceQuota's /status write is ValidateResourceQuotaStatusUpdate's (its
    quantities checked, the spec not judged again); a resource without status rules of its own is judged as its
    update."""
    from twisted.internet import task

    from kapiserver.registry.registry import Registry
    from kapiserver.storage.memory import MemoryStorage
    clock = task.Clock()
    registry = Registry(MemoryStorage(clock), clock)
    quota = registry.store("", "v1", "resourcequotas").strategy
    old = {"apiVersion": "v1", "kind": "ResourceQuota",
           "metadata": {"name": "q", "namespace": "default", "resourceVersion": "1"},
           "spec": {"hard": {"pods": "-1"}}}
    assert quota.validate_subresource_update("status", {**old, "status": {"used": {"pods": "2"}}}, old) == []
    errs = quota.validate_subresource_update("status", {**old, "status": {"used": {"pods": "-2"}}}, old)
    assert [e.field for e in errs] == ["status.used[pods]"]
    assert registry.store("", "v1", "configmaps").strategy.status_rule is None
