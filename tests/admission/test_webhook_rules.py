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


def test_selectors_match_the_object_or_the_old_object_and_the_namespace():
    """As upstream's matcher: an object selector holds when either the new or the old object's labels match
    (an update that removes a label is still seen); a namespace selector reads the request's namespace, or
    the namespace itself for a request about one, and says nothing of cluster-scoped requests."""
    import asyncio
    from kapiserver.admission.matching import selectors_match

    def run(object_selector, namespace_selector, attrs, namespace_labels=None):
        async def labels(name):
            return (namespace_labels or {}).get(name, {})
        return asyncio.run(selectors_match(object_selector, namespace_selector, attrs, labels))
    update = Attributes("UPDATE", GroupVersionKind("", "v1", "Pod"), GroupVersionResource("", "v1", "pods"), "",
                        "x", "ns", {"metadata": {"labels": {}}}, {"metadata": {"labels": {"watched": "yes"}}})
    wanted = {"matchLabels": {"watched": "yes"}}
    assert run(wanted, None, update)
    assert not run({"matchLabels": {"watched": "no"}}, None, update)
    assert run(None, {"matchLabels": {"team": "a"}}, update, {"ns": {"team": "a"}})
    assert not run(None, {"matchLabels": {"team": "a"}}, update, {"ns": {"team": "b"}})
    namespace = Attributes("CREATE", GroupVersionKind("", "v1", "Namespace"),
                           GroupVersionResource("", "v1", "namespaces"), "", "ns", "",
                           {"metadata": {"labels": {"team": "a"}}})
    assert run(None, {"matchLabels": {"team": "a"}}, namespace)
    node = Attributes("CREATE", GroupVersionKind("", "v1", "Node"), GroupVersionResource("", "v1", "nodes"), "",
                      "n", "", {"metadata": {}})
    assert run(None, {"matchLabels": {"team": "a"}}, node)
