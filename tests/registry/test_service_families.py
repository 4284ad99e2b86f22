"""A Service's IP families as upstream's service storage defaults them on a single-stack (IPv4) cluster."""

from __future__ import annotations

from tests.controllers.conftest import run


def test_a_headless_selectorless_service_asks_for_both_families(store_registry):
    """Upstream defaults a headless Service without a selector to RequireDualStack and both families (its
    endpoints are the user's), on a single-stack cluster too; one with a selector, or naming its policy, keeps
    the cluster's one family. It can be updated as it is."""
    services = store_registry.store("", "v1", "services")

    def made(name, **spec):
        return run(services.create("default", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                                               "spec": {"clusterIP": "None", "ports": [{"port": 80}], **spec}}))["spec"]
    bare = made("bare")
    assert (bare["ipFamilyPolicy"], bare["ipFamilies"], bare["clusterIPs"]) == ("RequireDualStack", ["IPv4", "IPv6"],
                                                                                ["None"])
    selected = made("selected", selector={"app": "x"})
    assert (selected["ipFamilyPolicy"], selected["ipFamilies"]) == ("SingleStack", ["IPv4"])
    single = made("single", ipFamilyPolicy="SingleStack")
    assert (single["ipFamilyPolicy"], single["ipFamilies"]) == ("SingleStack", ["IPv4"])

    def labelled(old):
        new = dict(old, metadata=dict(old["metadata"], labels={"a": "b"}))
        return new
    updated, _ = run(services.update("default", "bare", labelled))
    assert updated["metadata"]["labels"] == {"a": "b"} and updated["spec"]["ipFamilies"] == ["IPv4", "IPv6"]
