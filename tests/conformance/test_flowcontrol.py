"""API Priority and Fairness's configuration objects: the conformance entries "Priority and Fairness FlowSchema
API" and "Priority and Fairness PriorityLevelConfiguration API" (test/e2e/apimachinery/flowcontrol.go), the
bootstrap configuration the apiserver creates and keeps, the Dangling condition, and kubectl's tables."""

from __future__ import annotations

import urllib.request

from tests.conformance.support import MERGE, Watch, discovery_has, ok, unique, wait_for

GV = "flowcontrol.apiserver.k8s.io/v1"
FLOWSCHEMAS = f"/apis/{GV}/flowschemas"
LEVELS = f"/apis/{GV}/prioritylevelconfigurations"
SCHEMA_NAMES = {"exempt", "catch-all", "system-nodes", "system-node-high", "probes", "system-leader-election",
                "endpoint-controller", "workload-leader-election", "kube-controller-manager", "kube-scheduler",
                "kube-system-service-accounts", "service-accounts", "global-default"}
LEVEL_NAMES = {"exempt", "catch-all", "system", "node-high", "leader-election", "workload-high", "workload-low",
               "global-default"}


def condition(obj: dict, kind: str):
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == kind), None)


def walk(apiserver, collection: str, template: dict, label_key: str, spec_patch: dict, spec_update,
         check_spec) -> None:
    """The e2e test's walk: three created from generateName, get, list by label, watch from the list's
    resourceVersion while patching and updating (spec and annotations), /status read, patched and updated,
    delete one, deletecollection the rest."""
    label = unique("v")
    template["metadata"]["labels"] = {label_key: label}
    selector = f"labelSelector={label_key}%3D{label}"
    created = [ok(apiserver.request("POST", collection, template)) for _ in range(3)][-1]
    name = created["metadata"]["name"]
    read = ok(apiserver.request("GET", f"{collection}/{name}"))
    assert read["metadata"]["uid"] == created["metadata"]["uid"] and read["metadata"]["resourceVersion"]
    listed = ok(apiserver.request("GET", f"{collection}?{selector}"))
    assert len(listed["items"]) == 3
    with Watch(apiserver, f"{collection}?watch=true&{selector}&resourceVersion="
                          f"{listed['metadata']['resourceVersion']}") as watch:
        patched = ok(apiserver.request("PATCH", f"{collection}/{name}",
                                       {"metadata": {"annotations": {"patched": "true"}}, "spec": spec_patch},
                                       headers=MERGE))
        assert patched["metadata"]["annotations"]["patched"] == "true"
        check_spec(patched, 1)
        assert int(patched["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
        for _ in range(5):
            current = ok(apiserver.request("GET", f"{collection}/{name}"))
            current["metadata"]["annotations"]["updated"] = "true"
            spec_update(current["spec"])
            status, updated = apiserver.request("PUT", f"{collection}/{name}", current)
            if status != 409:
                break
        assert status == 200, updated
        assert updated["metadata"]["annotations"]["updated"] == "true"
        check_spec(updated, 2)
        while True:
            event = watch.next()
            assert event["type"] == "MODIFIED", event
            if event["object"]["metadata"].get("annotations", {}).get("patched") == "true":
                break

    status_read = ok(apiserver.request("GET", f"{collection}/{name}/status"))
    assert (status_read["apiVersion"], status_read["kind"]) == (GV, template["kind"])
    assert status_read["metadata"]["uid"] == created["metadata"]["uid"]
    status_patched = ok(apiserver.request("PATCH", f"{collection}/{name}/status", {"status": {"conditions": [
        {"type": "PatchStatusFailed", "status": "False", "reason": "e2e"}]}}, headers=MERGE))
    assert condition(status_patched, "PatchStatusFailed") is not None
    for _ in range(5):
        current = ok(apiserver.request("GET", f"{collection}/{name}"))
        current.setdefault("status", {}).setdefault("conditions", []).append(
            {"type": "StatusUpdateFailed", "status": "False", "reason": "E2E", "message": "Set from an e2e test"})
        status, status_updated = apiserver.request("PUT", f"{collection}/{name}/status", current)
        if status != 409:
            break
    assert status == 200, status_updated
    assert condition(status_updated, "StatusUpdateFailed") is not None

    ok(apiserver.request("DELETE", f"{collection}/{name}"))
    assert apiserver.request("GET", f"{collection}/{name}")[0] == 404
    assert len(ok(apiserver.request("GET", f"{collection}?{selector}"))["items"]) == 2
    ok(apiserver.request("DELETE", f"{collection}?{selector}"))
    assert ok(apiserver.request("GET", f"{collection}?{selector}"))["items"] == []


def test_priority_and_fairness_flowschema_api(apiserver):
    """Priority and Fairness FlowSchema API."""
    discovery_has(apiserver, GV, "flowschemas", "flowschemas/status")
    template = {"apiVersion": GV, "kind": "FlowSchema", "metadata": {"generateName": "e2e-example-fs-"},
                "spec": {"matchingPrecedence": 10000, "priorityLevelConfiguration": {"name": "global-default"},
                         "distinguisherMethod": {"type": "ByUser"},
                         "rules": [{"subjects": [{"kind": "User", "user": {"name": "example-e2e-non-existent-user"}}],
                                    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}]}]}}

    def check(fs, step):
        assert fs["spec"]["matchingPrecedence"] == (9999 if step == 1 else 9000)
    walk(apiserver, FLOWSCHEMAS, template, "example-e2e-fs-label", {"matchingPrecedence": 9999},
         lambda spec: spec.update(matchingPrecedence=9000), check)


def test_priority_and_fairness_prioritylevelconfiguration_api(apiserver):
    """Priority and Fairness PriorityLevelConfiguration API."""
    discovery_has(apiserver, GV, "prioritylevelconfigurations", "prioritylevelconfigurations/status")
    template = {"apiVersion": GV, "kind": "PriorityLevelConfiguration",
                "metadata": {"generateName": "e2e-example-pl-"},
                "spec": {"type": "Limited", "limited": {"nominalConcurrencyShares": 2,
                                                        "limitResponse": {"type": "Reject"}}}}

    def check(pl, step):
        assert pl["spec"]["limited"]["nominalConcurrencyShares"] == (4 if step == 1 else 6)
    walk(apiserver, LEVELS, template, "example-e2e-pl-label", {"limited": {"nominalConcurrencyShares": 4}},
         lambda spec: spec["limited"].update(nominalConcurrencyShares=6), check)


def test_the_bootstrap_configuration_is_in_place(apiserver):
    def names(collection):
        return {item["metadata"]["name"] for item in ok(apiserver.request("GET", collection))["items"]}
    wait_for(lambda: SCHEMA_NAMES <= names(FLOWSCHEMAS) and LEVEL_NAMES <= names(LEVELS), what="bootstrap")
    catch_all = ok(apiserver.request("GET", f"{LEVELS}/catch-all"))
    assert catch_all["metadata"]["annotations"] == {"apf.kubernetes.io/autoupdate-spec": "true"}
    assert catch_all["spec"] == {"type": "Limited", "limited": {
        "nominalConcurrencyShares": 5, "lendablePercent": 0, "limitResponse": {"type": "Reject"}}}
    system = ok(apiserver.request("GET", f"{LEVELS}/system"))
    assert system["spec"]["limited"] == {"nominalConcurrencyShares": 30, "lendablePercent": 33, "limitResponse": {
        "type": "Queue", "queuing": {"queues": 64, "handSize": 6, "queueLengthLimit": 50}}}
    exempt = ok(apiserver.request("GET", f"{FLOWSCHEMAS}/exempt"))
    assert exempt["spec"] == {"priorityLevelConfiguration": {"name": "exempt"}, "matchingPrecedence": 1, "rules": [{
        "subjects": [{"kind": "Group", "group": {"name": "system:masters"}}],
        "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"], "clusterScope": True,
                           "namespaces": ["*"]}],
        "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}]}]}
    found = wait_for(lambda: condition(ok(apiserver.request("GET", f"{FLOWSCHEMAS}/exempt")), "Dangling"))
    assert (found["status"], found["reason"]) == ("False", "Found")


def test_mandatory_specs_are_fixed(apiserver):
    status, body = apiserver.request("PATCH", f"{FLOWSCHEMAS}/catch-all", {"spec": {"matchingPrecedence": 9000}},
                                     headers=MERGE)
    assert status == 422, body
    assert body["details"]["causes"][0]["message"].endswith("spec of 'catch-all' must equal the fixed value")


def test_a_flowschema_naming_a_missing_level_is_dangling(apiserver):
    name, level = unique("fs"), unique("pl")
    ok(apiserver.request("POST", FLOWSCHEMAS, {
        "apiVersion": GV, "kind": "FlowSchema", "metadata": {"name": name},
        "spec": {"priorityLevelConfiguration": {"name": level},
                 "rules": [{"subjects": [{"kind": "Group", "group": {"name": "nobody"}}],
                            "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/nothing"]}]}]}}))
    try:
        found = wait_for(lambda: condition(ok(apiserver.request("GET", f"{FLOWSCHEMAS}/{name}")), "Dangling"))
        assert (found["status"], found["reason"]) == ("True", "NotFound")
        assert ok(apiserver.request("GET", f"{FLOWSCHEMAS}/{name}"))["spec"]["matchingPrecedence"] == 1000
        ok(apiserver.request("POST", LEVELS, {
            "apiVersion": GV, "kind": "PriorityLevelConfiguration", "metadata": {"name": level},
            "spec": {"type": "Limited", "limited": {"limitResponse": {"type": "Queue", "queuing": {}}}}}))
        found = wait_for(lambda: (c := condition(ok(apiserver.request("GET", f"{FLOWSCHEMAS}/{name}")),
                                                 "Dangling"))["status"] == "False" and c)
        assert found["reason"] == "Found"
        created = ok(apiserver.request("GET", f"{LEVELS}/{level}"))
        assert created["spec"]["limited"] == {"nominalConcurrencyShares": 30, "lendablePercent": 0, "limitResponse": {
            "type": "Queue", "queuing": {"queues": 64, "handSize": 8, "queueLengthLimit": 50}}}
    finally:
        apiserver.request("DELETE", f"{FLOWSCHEMAS}/{name}")
        apiserver.request("DELETE", f"{LEVELS}/{level}")


def test_kubectl_get_flowschemas_and_prioritylevelconfigurations(kubectl):
    server = kubectl.server
    wait_for(lambda: condition(ok(server.request("GET", f"{FLOWSCHEMAS}/global-default")), "Dangling"))
    lines = kubectl("get", "flowschemas").stdout.splitlines()
    assert lines[0].split() == ["NAME", "PRIORITYLEVEL", "MATCHINGPRECEDENCE", "DISTINGUISHERMETHOD", "AGE",
                                "MISSINGPL"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert SCHEMA_NAMES <= set(rows)
    assert rows["exempt"][1:4] == ["exempt", "1", "<none>"]
    assert rows["global-default"][1:4] == ["global-default", "9900", "ByUser"]
    assert rows["global-default"][-1] == "False"
    lines = kubectl("get", "prioritylevelconfigurations").stdout.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "NOMINALCONCURRENCYSHARES", "QUEUES", "HANDSIZE",
                                "QUEUELENGTHLIMIT", "AGE"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert LEVEL_NAMES <= set(rows)
    assert rows["exempt"][1:6] == ["Exempt", "<none>", "<none>", "<none>", "<none>"]
    assert rows["catch-all"][1:6] == ["Limited", "5", "<none>", "<none>", "<none>"]
    assert rows["workload-high"][1:6] == ["Limited", "40", "128", "6", "50"]


def _classified(apiserver, path: str) -> tuple:
    """The (FlowSchema UID, PriorityLevel UID) headers of a GET of ``path``."""
    with urllib.request.urlopen(apiserver.url + path, timeout=10) as response:
        return (response.headers.get("X-Kubernetes-PF-FlowSchema-UID"),
                response.headers.get("X-Kubernetes-PF-PriorityLevel-UID"))


def test_responses_name_the_matched_flowschema_and_priority_level(apiserver):
    """Part of the e2e test "should ensure that requests can be classified by adding FlowSchema and
    PriorityLevelConfiguration": responses carry the UIDs of the FlowSchema and priority level the request
    matched, here the exempt ones (the test server's user is in system:masters; no other schema may take
    matchingPrecedence 1, so the e2e test's own schemas, for other users, are tested in process in
    tests/endpoints/test_apf.py)."""
    uid = {kind: ok(apiserver.request("GET", f"{collection}/exempt"))["metadata"]["uid"]
           for kind, collection in (("fs", FLOWSCHEMAS), ("pl", LEVELS))}
    for path in ("/api/v1/namespaces", "/version", "/healthz"):
        assert wait_for(lambda: _classified(apiserver, path) == (uid["fs"], uid["pl"])), path
