"""Which webhook rules match a request's Attributes: operations, and resources with their subresources."""

from __future__ import annotations

import pytest

from kapiserver.admission.matching import rule_matches
from kapiserver.registry.attributes import Attributes, GroupVersionKind, GroupVersionResource


def attributes(operation: str, resource: str, subresource: str = "", group: str = "", namespace: str = "ns"):
    return Attributes(operation, GroupVersionKind(group, "v1", "Kind"), GroupVersionResource(group, "v1", resource),
                      subresource, "x", namespace, {"metadata": {"name": "x"}})


def rule(operations, resources, groups=("*",), scope=None) -> dict:
    found = {"operations": list(operations), "apiGroups": list(groups), "apiVersions": ["*"],
             "resources": list(resources)}
    if scope:
        found["scope"] = scope
    return found


@pytest.mark.parametrize("given,request_attributes,matches", [
    (rule(["UPDATE"], ["pods/status"]), attributes("UPDATE", "pods", "status"), True),
    (rule(["UPDATE"], ["pods/status"]), attributes("UPDATE", "pods"), False),
    (rule(["UPDATE"], ["pods"]), attributes("UPDATE", "pods", "status"), False),
    (rule(["UPDATE"], ["*"]), attributes("UPDATE", "pods", "status"), False),
    (rule(["UPDATE"], ["*/scale"]), attributes("UPDATE", "deployments", "scale", "apps"), True),
    (rule(["UPDATE"], ["deployments/*"]), attributes("UPDATE", "deployments", "scale", "apps"), True),
    (rule(["*"], ["*/*"]), attributes("CONNECT", "pods", "exec"), True),
    (rule(["CONNECT"], ["pods/exec"]), attributes("CONNECT", "pods", "exec"), True),
    (rule(["CONNECT"], ["pods/exec"]), attributes("CONNECT", "pods", "attach"), False),
    (rule(["CREATE"], ["pods/exec"]), attributes("CONNECT", "pods", "exec"), False),
    (rule(["CREATE"], ["nodes"], scope="Namespaced"), attributes("CREATE", "nodes", namespace=""), False),
    (rule(["CREATE"], ["nodes"], scope="Cluster"), attributes("CREATE", "nodes", namespace=""), True),
])
def test_rule_matching(given, request_attributes, matches):
    """A rule names the subresources it wants ("pods/status", "*/scale", "pods/*", "*/*"); "*" is the
    resources alone; operations include CONNECT; scope follows the request's namespace."""
    assert rule_matches(given, request_attributes) is matches
