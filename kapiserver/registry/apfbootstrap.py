"""
API Priority and Fairness's bootstrap configuration: the FlowSchemas and PriorityLevelConfigurations every
kube-apiserver 1.32 keeps (the mandatory ones, exempt and catch-all) or offers (the suggested ones), with the
values of upstream's bootstrap package, written here as data.  ``controllers/apf.py`` keeps them in storage;
validation holds the mandatory ones to their fixed specs.
"""

from __future__ import annotations

import copy

GROUP, VERSION = "flowcontrol.apiserver.k8s.io", "v1"
AUTOUPDATE = "apf.kubernetes.io/autoupdate-spec"

_EVERYTHING = {"resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
                                  "clusterScope": True, "namespaces": ["*"]}],
               "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}]}
_EVERYONE = [{"kind": "Group", "group": {"name": "system:unauthenticated"}},
             {"kind": "Group", "group": {"name": "system:authenticated"}}]
_KUBE_SYSTEM_SAS = [{"kind": "ServiceAccount", "serviceAccount": {"namespace": "kube-system", "name": "*"}}]
_LEADER_LOCKS = ("get", "create", "update")


def _group(name: str) -> dict:
    return {"kind": "Group", "group": {"name": name}}


def _user(name: str) -> dict:
    return {"kind": "User", "user": {"name": name}}


def _sa(name: str) -> dict:
    return {"kind": "ServiceAccount", "serviceAccount": {"namespace": "kube-system", "name": name}}


def _rule(verbs, groups, resources, namespaces, cluster_scope: bool) -> dict:
    rule = {"verbs": list(verbs), "apiGroups": list(groups), "resources": list(resources)}
    if cluster_scope:
        rule["clusterScope"] = True
    rule["namespaces"] = list(namespaces)
    return rule


# (name, priority level, matchingPrecedence, distinguisher method or None, subjects, rules beside subjects)
_FLOW_SCHEMAS = {
    "exempt": ("exempt", 1, None, [_group("system:masters")], _EVERYTHING),
    "catch-all": ("catch-all", 10000, "ByUser", _EVERYONE, _EVERYTHING),
    "system-nodes": ("system", 500, "ByUser", [_group("system:nodes")], _EVERYTHING),
    "system-node-high": ("node-high", 400, "ByUser", [_group("system:nodes")], {"resourceRules": [
        _rule(["*"], [""], ["nodes", "nodes/status"], ["*"], True),
        _rule(["*"], ["coordination.k8s.io"], ["leases"], ["*"], False)]}),
    "probes": ("exempt", 2, None, _EVERYONE, {"nonResourceRules": [
        {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/readyz", "/livez"]}]}),
    "system-leader-election": ("leader-election", 100, "ByUser",
                               [_user("system:kube-controller-manager"), _user("system:kube-scheduler")]
                               + _KUBE_SYSTEM_SAS, {"resourceRules": [
                                   _rule(_LEADER_LOCKS, ["coordination.k8s.io"], ["leases"], ["*"], False)]}),
    "endpoint-controller": ("workload-high", 150, "ByUser",
                            [_user("system:kube-controller-manager"), _sa("endpoint-controller"),
                             _sa("endpointslicemirroring-controller")], {"resourceRules": [
                                 _rule(_LEADER_LOCKS, [""], ["endpoints"], ["*"], False)]}),
    "workload-leader-election": ("leader-election", 200, "ByUser", _KUBE_SYSTEM_SAS, {"resourceRules": [
        _rule(_LEADER_LOCKS, [""], ["endpoints", "configmaps"], ["*"], False),
        _rule(_LEADER_LOCKS, ["coordination.k8s.io"], ["leases"], ["*"], False)]}),
    "kube-controller-manager": ("workload-high", 800, "ByNamespace", [_user("system:kube-controller-manager")],
                                _EVERYTHING),
    "kube-scheduler": ("workload-high", 800, "ByNamespace", [_user("system:kube-scheduler")], _EVERYTHING),
    "kube-system-service-accounts": ("workload-high", 900, "ByNamespace", _KUBE_SYSTEM_SAS, _EVERYTHING),
    "service-accounts": ("workload-low", 9000, "ByUser", [_group("system:serviceaccounts")], _EVERYTHING),
    "global-default": ("global-default", 9900, "ByUser", _EVERYONE, _EVERYTHING),
}

# name -> (nominalConcurrencyShares, lendablePercent, (queues, handSize, queueLengthLimit) or None to reject);
# exempt is the one Exempt level.
_PRIORITY_LEVELS = {
    "catch-all": (5, 0, None),
    "system": (30, 33, (64, 6, 50)),
    "node-high": (40, 25, (64, 6, 50)),
    "leader-election": (10, 0, (16, 4, 50)),
    "workload-high": (40, 50, (128, 6, 50)),
    "workload-low": (100, 90, (128, 6, 50)),
    "global-default": (20, 50, (128, 6, 50)),
}

MANDATORY_FLOW_SCHEMAS = ("exempt", "catch-all")
MANDATORY_PRIORITY_LEVELS = ("exempt", "catch-all")
SUGGESTED_FLOW_SCHEMAS = ("system-nodes", "system-node-high", "probes", "system-leader-election",
                          "endpoint-controller", "workload-leader-election", "kube-controller-manager",
                          "kube-scheduler", "kube-system-service-accounts", "service-accounts", "global-default")
SUGGESTED_PRIORITY_LEVELS = ("system", "node-high", "leader-election", "workload-high", "workload-low",
                             "global-default")


def _meta(name: str) -> dict:
    return {"name": name, "annotations": {AUTOUPDATE: "true"}}


def flow_schema(name: str) -> dict:
    """The bootstrap FlowSchema ``name`` (as stored: defaults applied), a fresh copy."""
    level, precedence, method, subjects, rules = _FLOW_SCHEMAS[name]
    spec = {"priorityLevelConfiguration": {"name": level}, "matchingPrecedence": precedence}
    if method:
        spec["distinguisherMethod"] = {"type": method}
    spec["rules"] = [dict({"subjects": copy.deepcopy(subjects)}, **copy.deepcopy(rules))]
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "FlowSchema", "metadata": _meta(name), "spec": spec}


def priority_level(name: str) -> dict:
    """The bootstrap PriorityLevelConfiguration ``name`` (as stored: defaults applied), a fresh copy."""
    if name == "exempt":
        spec = {"type": "Exempt", "exempt": {"nominalConcurrencyShares": 0, "lendablePercent": 0}}
    else:
        shares, lendable, queuing = _PRIORITY_LEVELS[name]
        response = {"type": "Reject"} if queuing is None else {
            "type": "Queue", "queuing": {"queues": queuing[0], "handSize": queuing[1],
                                         "queueLengthLimit": queuing[2]}}
        spec = {"type": "Limited", "limited": {"nominalConcurrencyShares": shares, "limitResponse": response,
                                               "lendablePercent": lendable}}
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "PriorityLevelConfiguration", "metadata": _meta(name),
            "spec": spec}
