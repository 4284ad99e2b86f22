"""Defaults of the smaller groups: autoscaling, policy, networking, rbac, storage, scheduling,
node, discovery, coordination, certificates, events (pkg/apis/<group>/v1*/defaults.go); admissionregistration's
are in .admissionregistration, merged into DEFAULTERS here."""

from __future__ import annotations

from ...machinery.quantity import canonical_quantity, canonical_resource_list
from . import admissionregistration
from ._util import child, go_order, items, set_if_nil, sub

DEFAULT_CPU_UTILIZATION = 80


def hpa_v1(obj: dict) -> None:
    """autoscaling/v1: only minReplicas; the CPU target default lives in v1<->v2 conversion."""
    set_if_nil(sub(obj, "spec"), "minReplicas", 1)


def _scale_up_policies() -> list[dict]:
    return [{"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15}]


def _scale_down_policies() -> list[dict]:
    return [{"type": "Percent", "value": 100, "periodSeconds": 15}]


def _scaling_rules(rules, stabilization, policies) -> dict:
    """GenerateHPAScale{Up,Down}Rules: each field left unset takes the default; an explicit empty policy list is
    kept (validation refuses it), and scaleDown's window stays unset (the controller's flag decides it)."""
    rules = rules if isinstance(rules, dict) else {}
    if rules.get("policies") is None:
        rules["policies"] = policies()
    set_if_nil(rules, "selectPolicy", "Max")
    if stabilization is not None:
        set_if_nil(rules, "stabilizationWindowSeconds", stabilization)
    go_order(rules, ("stabilizationWindowSeconds", "selectPolicy", "policies"))
    return rules


def hpa_v2(obj: dict) -> None:
    spec = sub(obj, "spec")
    set_if_nil(spec, "minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}}}]
    behavior = child(spec, "behavior")
    if behavior is not None:
        behavior["scaleUp"] = _scaling_rules(behavior.get("scaleUp"), 0, _scale_up_policies)
        behavior["scaleDown"] = _scaling_rules(behavior.get("scaleDown"), None, _scale_down_policies)
        go_order(behavior, ("scaleUp", "scaleDown"))
    go_order(spec, ("scaleTargetRef", "minReplicas", "maxReplicas", "metrics", "behavior"))


def network_policy(obj: dict) -> None:
    spec = sub(obj, "spec")
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        for rule in items(spec, direction):
            for port in items(rule, "ports"):
                set_if_nil(port, "protocol", "TCP")
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress"] + (["Egress"] if spec.get("egress") else [])


def ingress_class(obj: dict) -> None:
    parameters = child(child(obj, "spec"), "parameters")
    if parameters is not None:
        set_if_nil(parameters, "scope", "Cluster")


RBAC_GROUP = "rbac.authorization.k8s.io"


def _subjects(obj: dict) -> None:
    for subject in items(obj, "subjects"):
        if not subject.get("apiGroup"):
            kind = subject.get("kind")
            if kind == "ServiceAccount":
                subject["apiGroup"] = ""
            elif kind in ("User", "Group"):
                subject["apiGroup"] = RBAC_GROUP


def role_binding(obj: dict) -> None:
    role_ref = sub(obj, "roleRef")
    if not role_ref.get("apiGroup"):
        role_ref["apiGroup"] = RBAC_GROUP
    _subjects(obj)


def storage_class(obj: dict) -> None:
    set_if_nil(obj, "reclaimPolicy", "Delete")
    set_if_nil(obj, "volumeBindingMode", "Immediate")


def csi_driver(obj: dict) -> None:
    spec = sub(obj, "spec")
    set_if_nil(spec, "attachRequired", True)
    set_if_nil(spec, "podInfoOnMount", False)
    set_if_nil(spec, "storageCapacity", False)
    set_if_nil(spec, "fsGroupPolicy", "ReadWriteOnceWithFSType")
    if not spec.get("volumeLifecycleModes"):
        spec["volumeLifecycleModes"] = ["Persistent"]
    set_if_nil(spec, "requiresRepublish", False)
    set_if_nil(spec, "seLinuxMount", False)


def csi_node(obj: dict) -> None:
    # not a default: Go writes each driver's topologyKeys, null when unset
    for driver in items(sub(obj, "spec"), "drivers"):
        driver.setdefault("topologyKeys", None)


def csi_storage_capacity(obj: dict) -> None:
    for key in ("capacity", "maximumVolumeSize"):
        if obj.get(key) is not None:
            obj[key] = canonical_quantity(obj[key])


def priority_class(obj: dict) -> None:
    set_if_nil(obj, "preemptionPolicy", "PreemptLowerPriority")


def runtime_class(obj: dict) -> None:
    canonical_resource_list(child(obj, "overhead"), "podFixed")


def endpoint_slice(obj: dict) -> None:
    for port in items(obj, "ports"):
        set_if_nil(port, "name", "")
        set_if_nil(port, "protocol", "TCP")


# (group, version, kind) -> defaulter; the version is "*" where every version agrees.
def flow_schema(obj: dict) -> None:
    """flowcontrol/v1: an unset (zero) matchingPrecedence is 1000."""
    spec = obj.get("spec")
    if isinstance(spec, dict) and not spec.get("matchingPrecedence"):
        spec["matchingPrecedence"] = 1000


def priority_level_configuration(obj: dict) -> None:
    """flowcontrol/v1: unset shares are 30 (limited) or 0 (exempt), lendablePercent 0, and a queuing
    configuration's zero fields 64 queues, hand size 8, queue length limit 50 (in Go's field order)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    exempt = spec.get("exempt")
    if isinstance(exempt, dict):
        exempt.setdefault("nominalConcurrencyShares", 0)
        exempt.setdefault("lendablePercent", 0)
        go_order(exempt, ("nominalConcurrencyShares", "lendablePercent"))
    limited = spec.get("limited")
    if isinstance(limited, dict):
        if limited.get("nominalConcurrencyShares") is None:
            limited["nominalConcurrencyShares"] = 30
        if limited.get("lendablePercent") is None:
            limited["lendablePercent"] = 0
        go_order(limited, ("nominalConcurrencyShares", "limitResponse", "lendablePercent", "borrowingLimitPercent"))
        response = limited.get("limitResponse")
        queuing = response.get("queuing") if isinstance(response, dict) else None
        if isinstance(queuing, dict):
            for field, value in (("queues", 64), ("handSize", 8), ("queueLengthLimit", 50)):
                if not queuing.get(field):
                    queuing[field] = value
            go_order(queuing, ("queues", "handSize", "queueLengthLimit"))


def custom_resource_definition(obj: dict) -> None:
    """apiextensions/v1: the names' singular (the kind in lower case) and listKind (kind + "List"), conversion
    strategy None, and a conversion webhook's service on port 443 (in Go's field order)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    names = spec.get("names")
    if isinstance(names, dict) and isinstance(names.get("kind"), str) and names["kind"]:
        if not names.get("singular"):
            names["singular"] = names["kind"].lower()
        if not names.get("listKind"):
            names["listKind"] = names["kind"] + "List"
        go_order(names, ("plural", "singular", "shortNames", "kind", "listKind", "categories"))
    if spec.get("conversion") is None:
        spec["conversion"] = {"strategy": "None"}
    conversion = spec["conversion"]
    webhook = conversion.get("webhook") if isinstance(conversion, dict) else None
    client = webhook.get("clientConfig") if isinstance(webhook, dict) else None
    service = client.get("service") if isinstance(client, dict) else None
    if isinstance(service, dict) and service.get("port") is None:
        service["port"] = 443
        go_order(service, ("namespace", "name", "path", "port"))
    go_order(spec, ("group", "names", "scope", "versions", "conversion", "preserveUnknownFields"))


DEFAULTERS = {
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition"): custom_resource_definition,
    ("flowcontrol.apiserver.k8s.io", "*", "FlowSchema"): flow_schema,
    ("flowcontrol.apiserver.k8s.io", "*", "PriorityLevelConfiguration"): priority_level_configuration,
    ("autoscaling", "v1", "HorizontalPodAutoscaler"): hpa_v1,
    ("autoscaling", "v2", "HorizontalPodAutoscaler"): hpa_v2,
    ("networking.k8s.io", "*", "NetworkPolicy"): network_policy,
    ("networking.k8s.io", "*", "IngressClass"): ingress_class,
    (RBAC_GROUP, "*", "RoleBinding"): role_binding,
    (RBAC_GROUP, "*", "ClusterRoleBinding"): role_binding,
    ("storage.k8s.io", "*", "StorageClass"): storage_class,
    ("storage.k8s.io", "*", "CSIDriver"): csi_driver,
    ("storage.k8s.io", "*", "CSINode"): csi_node,
    ("storage.k8s.io", "*", "CSIStorageCapacity"): csi_storage_capacity,
    ("scheduling.k8s.io", "*", "PriorityClass"): priority_class,
    ("node.k8s.io", "*", "RuntimeClass"): runtime_class,
    ("discovery.k8s.io", "*", "EndpointSlice"): endpoint_slice,
    **admissionregistration.DEFAULTERS,
}
