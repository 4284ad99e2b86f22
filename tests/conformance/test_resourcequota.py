"""ResourceQuota as the [sig-api-machinery] ResourceQuota conformance entries drive it: status.used
computed promptly, object counts captured on create and released on delete, compute usage of pods,
quota scopes (BestEffort, NotBestEffort, Terminating, NotTerminating), and the quota's own API
(update, patch, delete, deletecollection, /status)."""

from __future__ import annotations

from fractions import Fraction


from tests.conformance.support import STRATEGIC, Watch, ok, unique, wait_for

SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9,
            "m": Fraction(1, 1000)}


def quantity(text) -> Fraction:
    text = str(text)
    for suffix, factor in sorted(SUFFIXES.items(), key=lambda kv: -len(kv[0])):
        if text.endswith(suffix):
            return Fraction(text[:-len(suffix)]) * factor
    return Fraction(text)


def quotas(ns, name=""):
    return f"/api/v1/namespaces/{ns}/resourcequotas" + (f"/{name}" if name else "")


def default_quota(name):
    """The e2e tests' default quota: counts and compute of every kind the tests touch."""
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name}, "spec": {"hard": {
        "pods": "5", "services": "10", "services.nodeports": "1", "services.loadbalancers": "1",
        "replicationcontrollers": "10", "resourcequotas": "1", "cpu": "1", "memory": "500Mi",
        "configmaps": "10", "secrets": "10", "persistentvolumeclaims": "10", "requests.storage": "10Gi",
        "ephemeral-storage": "50Gi", "gold.storageclass.storage.k8s.io/persistentvolumeclaims": "10",
        "gold.storageclass.storage.k8s.io/requests.storage": "10Gi", "count/replicasets.apps": "5",
        "requests.example.com/dongle": "3"}}}


def scoped_quota(name, scope):
    hard = {"pods": "5"}
    if scope in ("Terminating", "NotTerminating"):
        hard.update({"requests.cpu": "1", "requests.memory": "500Mi", "limits.cpu": "2", "limits.memory": "1Gi"})
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name},
            "spec": {"hard": hard, "scopes": [scope]}}


def quota_pod(name, requests=None, limits=None, **spec):
    resources = {k: v for k, v in (("requests", requests), ("limits", limits)) if v}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {
        "nodeSelector": {"x-test.k8s.io/unsatisfiable": "not-schedulable"},
        "containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10", "resources": resources}], **spec}}


def count_quotas(server, ns):
    return len(ok(server.request("GET", quotas(ns)))["items"])


def wait_used(server, ns, name, used, timeout=15):
    """Wait until the quota's status.used has every given entry at the given value (others are ignored)."""
    seen = []

    def matches():
        status = ok(server.request("GET", quotas(ns, name))).get("status") or {}
        have = status.get("used")
        seen[:] = [have]
        if have is None:
            return False
        return all(k in have and quantity(have[k]) == quantity(v) for k, v in used.items()) and have
    try:
        return wait_for(matches, timeout=timeout, what=f"quota {name} to show used {used}")
    except AssertionError:
        raise AssertionError(f"quota {name}: status.used is {seen[0]}, not {used}") from None


def create_quota(server, ns, quota):
    return ok(server.request("POST", quotas(ns), quota))


def delete(server, path, **query):
    suffix = "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
    ok(server.request("DELETE", path + suffix), 200, 202)


def test_resourcequota_object_count_quota_resourcequotas(apiserver, namespace):
    """ResourceQuota, object count quota, resourcequotas"""
    count = count_quotas(apiserver, namespace)
    create_quota(apiserver, namespace, default_quota("test-quota"))
    wait_used(apiserver, namespace, "test-quota", {"resourcequotas": str(count + 1)})


def test_resourcequota_object_count_quota_service(apiserver, namespace):
    """ResourceQuota, object count quota, service"""
    ns = namespace
    count = count_quotas(apiserver, ns)
    create_quota(apiserver, ns, default_quota("test-quota"))
    wait_used(apiserver, ns, "test-quota", {"resourcequotas": str(count + 1)})

    def service(name, kind, allocate=None):
        spec = {"type": kind, "ports": [{"port": 80, "targetPort": 80}]}
        if allocate is not None:
            spec["allocateLoadBalancerNodePorts"] = allocate
        return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}

    services = f"/api/v1/namespaces/{ns}/services"
    ok(apiserver.request("POST", services, service("test-service", "ClusterIP")))
    ok(apiserver.request("POST", services, service("test-service-np", "NodePort")))
    status, refused = apiserver.request("POST", services, service("test-service-lb", "LoadBalancer", True))
    assert status == 403, (status, refused)
    wait_used(apiserver, ns, "test-quota", {"resourcequotas": str(count + 1), "services": "2",
                                            "services.nodeports": "1"})
    delete(apiserver, f"{services}/test-service")
    delete(apiserver, f"{services}/test-service-np")
    wait_used(apiserver, ns, "test-quota", {"services": "0", "services.nodeports": "0"})


def count_object_test(apiserver, ns, kind):
    """Count what is there, allow one more, create one, delete it (secret and configmap entries)."""
    path = f"/api/v1/namespaces/{ns}/{kind}"
    found = len(ok(apiserver.request("GET", path))["items"])
    count = count_quotas(apiserver, ns)
    quota = default_quota("test-quota")
    quota["spec"]["hard"][kind] = str(found + 1)
    create_quota(apiserver, ns, quota)
    wait_used(apiserver, ns, "test-quota", {"resourcequotas": str(count + 1), kind: str(found)})
    if kind == "secrets":
        obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "test-secret"},
               "data": {"data-1": "dmFsdWUtMQo=", "data-2": "dmFsdWUtMgo=", "data-3": "dmFsdWUtMwo="}}
    else:
        obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "test-configmap"}, "data": {"a": "b"}}
    created = ok(apiserver.request("POST", path, obj))
    wait_used(apiserver, ns, "test-quota", {"resourcequotas": str(count + 1), kind: str(found + 1)})
    delete(apiserver, f"{path}/{created['metadata']['name']}")
    wait_used(apiserver, ns, "test-quota", {kind: str(found)})


def test_resourcequota_object_count_quota_secret(apiserver, namespace):
    """ResourceQuota, object count quota, secret"""
    count_object_test(apiserver, namespace, "secrets")


def test_resourcequota_object_count_quota_configmap(apiserver, namespace):
    """ResourceQuota, object count quota, configmap"""
    count_object_test(apiserver, namespace, "configmaps")


def test_resourcequota_object_count_quota_pod(apiserver, namespace):
    """ResourceQuota, object count quota, pod"""
    ns = namespace
    pods = f"/api/v1/namespaces/{ns}/pods"
    count = count_quotas(apiserver, ns)
    create_quota(apiserver, ns, default_quota("test-quota"))
    used = {"resourcequotas": str(count + 1)}
    wait_used(apiserver, ns, "test-quota", used)

    requests = {"cpu": "500m", "memory": "252Mi", "ephemeral-storage": "30Gi", "example.com/dongle": "2"}
    pod = ok(apiserver.request("POST", pods, quota_pod("test-pod", requests, {"example.com/dongle": "2"})))
    used.update({"pods": "1", "cpu": "500m", "memory": "252Mi", "ephemeral-storage": "30Gi",
                 "requests.example.com/dongle": "2"})
    wait_used(apiserver, ns, "test-quota", used)

    status, body = apiserver.request("POST", pods, quota_pod("fail-pod", {"cpu": "600m", "memory": "100Mi"}))
    assert status == 403, (status, body)
    status, body = apiserver.request("POST", pods, quota_pod(
        "fail-pod-for-extended-resource", {"cpu": "500m", "memory": "100Mi", "ephemeral-storage": "30Gi",
                                           "example.com/dongle": "2"}, {"example.com/dongle": "2"}))
    assert status == 403, (status, body)

    pod["spec"]["containers"][0]["resources"]["requests"] = {"cpu": "100m", "memory": "100Mi",
                                                             "ephemeral-storage": "10Gi"}
    status, body = apiserver.request("PUT", f"{pods}/test-pod", pod)
    assert status >= 400, (status, body)
    wait_used(apiserver, ns, "test-quota", used)

    delete(apiserver, f"{pods}/test-pod", gracePeriodSeconds=0)
    used.update({"pods": "0", "cpu": "0", "memory": "0", "ephemeral-storage": "0",
                 "requests.example.com/dongle": "0"})
    wait_used(apiserver, ns, "test-quota", used)


def test_resourcequota_object_count_quota_replicationcontroller(apiserver, namespace):
    """ResourceQuota, object count quota, replicationController"""
    ns = namespace
    count = count_quotas(apiserver, ns)
    create_quota(apiserver, ns, default_quota("test-quota"))
    wait_used(apiserver, ns, "test-quota", {"resourcequotas": str(count + 1), "replicationcontrollers": "0"})
    rcs = f"/api/v1/namespaces/{ns}/replicationcontrollers"
    ok(apiserver.request("POST", rcs, {
        "apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "test-rc"},
        "spec": {"replicas": 0, "selector": {"name": "test-rc"}, "template": {
            "metadata": {"labels": {"name": "test-rc"}},
            "spec": {"containers": [{"name": "test-rc", "image": "registry.k8s.io/pause:3.10"}]}}}}))
    wait_used(apiserver, ns, "test-quota", {"replicationcontrollers": "1"})
    delete(apiserver, f"{rcs}/test-rc", propagationPolicy="Background")
    wait_used(apiserver, ns, "test-quota", {"replicationcontrollers": "0"})


def test_resourcequota_object_count_quota_replicaset(apiserver, namespace):
    """ResourceQuota, object count quota, replicaSet"""
    ns = namespace
    count = count_quotas(apiserver, ns)
    create_quota(apiserver, ns, default_quota("test-quota"))
    wait_used(apiserver, ns, "test-quota", {"resourcequotas": str(count + 1), "count/replicasets.apps": "0"})
    rss = f"/apis/apps/v1/namespaces/{ns}/replicasets"
    ok(apiserver.request("POST", rss, {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "test-rs"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"name": "test-rs"}}, "template": {
            "metadata": {"labels": {"name": "test-rs"}},
            "spec": {"terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "test-rs", "image": "registry.k8s.io/pause:3.10"}]}}}}))
    wait_used(apiserver, ns, "test-quota", {"count/replicasets.apps": "1"})
    delete(apiserver, f"{rss}/test-rs")
    wait_used(apiserver, ns, "test-quota", {"count/replicasets.apps": "0"})


def test_resourcequota_quota_scope_besteffort_and_notbesteffort_scope(apiserver, namespace):
    """ResourceQuota, quota scope, BestEffort and NotBestEffort scope"""
    ns = namespace
    pods = f"/api/v1/namespaces/{ns}/pods"
    create_quota(apiserver, ns, scoped_quota("quota-besteffort", "BestEffort"))
    wait_used(apiserver, ns, "quota-besteffort", {"pods": "0"})
    create_quota(apiserver, ns, scoped_quota("quota-not-besteffort", "NotBestEffort"))
    wait_used(apiserver, ns, "quota-not-besteffort", {"pods": "0"})

    ok(apiserver.request("POST", pods, quota_pod("pfpod")))
    wait_used(apiserver, ns, "quota-besteffort", {"pods": "1"})
    wait_used(apiserver, ns, "quota-not-besteffort", {"pods": "0"})
    delete(apiserver, f"{pods}/pfpod", gracePeriodSeconds=0)
    wait_used(apiserver, ns, "quota-besteffort", {"pods": "0"})

    ok(apiserver.request("POST", pods, quota_pod("pfpod", {"cpu": "500m", "memory": "200Mi"},
                                                 {"cpu": "1", "memory": "400Mi"})))
    wait_used(apiserver, ns, "quota-not-besteffort", {"pods": "1"})
    wait_used(apiserver, ns, "quota-besteffort", {"pods": "0"})
    delete(apiserver, f"{pods}/pfpod", gracePeriodSeconds=0)
    wait_used(apiserver, ns, "quota-not-besteffort", {"pods": "0"})


def test_resourcequota_quota_scope_terminating_and_notterminating_scope(apiserver, namespace):
    """ResourceQuota, quota scope, Terminating and NotTerminating scope"""
    ns = namespace
    pods = f"/api/v1/namespaces/{ns}/pods"
    zero = {"pods": "0", "requests.cpu": "0", "requests.memory": "0", "limits.cpu": "0", "limits.memory": "0"}
    create_quota(apiserver, ns, scoped_quota("quota-terminating", "Terminating"))
    wait_used(apiserver, ns, "quota-terminating", zero)
    create_quota(apiserver, ns, scoped_quota("quota-not-terminating", "NotTerminating"))
    wait_used(apiserver, ns, "quota-not-terminating", zero)

    requests, limits = {"cpu": "500m", "memory": "200Mi"}, {"cpu": "1", "memory": "400Mi"}
    usage = {"pods": "1", "requests.cpu": "500m", "requests.memory": "200Mi", "limits.cpu": "1",
             "limits.memory": "400Mi"}
    ok(apiserver.request("POST", pods, quota_pod("test-pod", requests, limits)))
    wait_used(apiserver, ns, "quota-not-terminating", usage)
    wait_used(apiserver, ns, "quota-terminating", zero)
    delete(apiserver, f"{pods}/test-pod", gracePeriodSeconds=0)
    wait_used(apiserver, ns, "quota-not-terminating", zero)

    ok(apiserver.request("POST", pods, quota_pod("terminating-pod", requests, limits, activeDeadlineSeconds=3600)))
    wait_used(apiserver, ns, "quota-terminating", usage)
    wait_used(apiserver, ns, "quota-not-terminating", zero)
    delete(apiserver, f"{pods}/terminating-pod", gracePeriodSeconds=0)
    wait_used(apiserver, ns, "quota-terminating", zero)


def test_resourcequota_update_and_delete(apiserver, namespace):
    """ResourceQuota, update and delete"""
    ns = namespace
    quota = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "test-quota"},
             "spec": {"hard": {"cpu": "1", "memory": "500Mi"}}}
    create_quota(apiserver, ns, quota)
    got = ok(apiserver.request("GET", quotas(ns, "test-quota")))
    assert quantity(got["spec"]["hard"]["cpu"]) == 1 and quantity(got["spec"]["hard"]["memory"]) == 500 * 2**20
    quota["spec"]["hard"] = {"cpu": "2", "memory": "1Gi"}
    updated = ok(apiserver.request("PUT", quotas(ns, "test-quota"), quota))
    assert updated["spec"]["hard"] == {"cpu": "2", "memory": "1Gi"}
    got = ok(apiserver.request("GET", quotas(ns, "test-quota")))
    assert got["spec"]["hard"] == {"cpu": "2", "memory": "1Gi"}
    delete(apiserver, quotas(ns, "test-quota"))
    assert apiserver.request("GET", quotas(ns, "test-quota"))[0] == 404


def test_resourcequota_manage_lifecycle_of_a_resourcequota(apiserver, namespace):
    """ResourceQuota, manage lifecycle of a ResourceQuota"""
    ns, name = namespace, unique("e2e-quota")
    create_quota(apiserver, ns, {"apiVersion": "v1", "kind": "ResourceQuota",
                                 "metadata": {"name": name, "labels": {"e2e-rq-label": name}},
                                 "spec": {"hard": {"cpu": "1", "memory": "500Mi"}}})
    got = ok(apiserver.request("GET", quotas(ns, name)))
    assert got["spec"]["hard"] == {"cpu": "1", "memory": "500Mi"}
    listed = ok(apiserver.request("GET", f"/api/v1/resourcequotas?labelSelector=e2e-rq-label%3D{name}"))
    assert len(listed["items"]) == 1
    patched = ok(apiserver.request("PATCH", quotas(ns, name), {
        "metadata": {"labels": {name: "patched"}}, "spec": {"hard": {"memory": "750Mi"}}}, headers=STRATEGIC))
    assert patched["metadata"]["labels"][name] == "patched"
    assert patched["spec"]["hard"]["memory"] == "750Mi"
    ok(apiserver.request("DELETE", quotas(ns) + f"?labelSelector=e2e-rq-label%3D{name}"))
    assert apiserver.request("GET", quotas(ns, name))[0] == 404


def test_resourcequota_apply_changes_to_a_resourcequota_status(apiserver, namespace):
    """ResourceQuota, apply changes to a ResourceQuota status"""
    ns, name = namespace, unique("e2e-rq-status")
    selector = f"labelSelector=e2e-rq-label%3D{name}"
    rv = ok(apiserver.request("GET", f"/api/v1/resourcequotas?{selector}"))["metadata"]["resourceVersion"]
    create_quota(apiserver, ns, {"apiVersion": "v1", "kind": "ResourceQuota",
                                 "metadata": {"name": name, "labels": {"e2e-rq-label": name}},
                                 "spec": {"hard": {"cpu": "500m", "memory": "500Mi"}}})
    initial = ok(apiserver.request("GET", quotas(ns, name)))
    assert initial["spec"]["hard"] == {"cpu": "500m", "memory": "500Mi"}

    def watch_until(since, hard):
        with Watch(apiserver, quotas(ns) + f"?watch=true&{selector}&resourceVersion={since}") as w:
            while True:
                event = w.next()
                status_hard = (event["object"].get("status") or {}).get("hard") or {}
                if {k: quantity(v) for k, v in status_hard.items()} == {k: quantity(v) for k, v in hard.items()}:
                    return event["object"]

    answers = []

    def put_status():
        # The quota controller writes the status too: a 409 means read again and retry, as any client does.
        current = ok(apiserver.request("GET", quotas(ns, name)))
        current["status"] = {"hard": dict(initial["spec"]["hard"])}
        status, body = apiserver.request("PUT", quotas(ns, name) + "/status", current)
        assert status in (200, 409), (status, body)
        if status == 200:
            answers.append(body)
        return status == 200
    wait_for(put_status, what="the status PUT without a conflict")
    updated = answers[0]
    watch_until(rv, updated["spec"]["hard"])

    rv = ok(apiserver.request("GET", f"/api/v1/resourcequotas?{selector}"))["metadata"]["resourceVersion"]
    spec_patched = ok(apiserver.request("PATCH", quotas(ns, name), {"spec": {"hard": {"cpu": "1", "memory": "1Gi"}}},
                                        headers=STRATEGIC))
    assert spec_patched["spec"]["hard"] == {"cpu": "1", "memory": "1Gi"}
    ok(apiserver.request("PATCH", quotas(ns, name) + "/status",
                         {"status": {"hard": dict(spec_patched["spec"]["hard"])}}, headers=STRATEGIC))
    watch_until(rv, {"cpu": "1", "memory": "1Gi"})

    got = ok(apiserver.request("GET", quotas(ns, name) + "/status"))
    assert quantity(got["status"]["hard"]["cpu"]) == 1
    assert quantity(got["status"]["hard"]["memory"]) == 2**30

    rv = ok(apiserver.request("GET", f"/api/v1/resourcequotas?{selector}"))["metadata"]["resourceVersion"]
    repatched = ok(apiserver.request("PATCH", quotas(ns, name) + "/status",
                                     {"status": {"hard": {"cpu": "2", "memory": "2Gi"}}}, headers=STRATEGIC))
    assert repatched["status"]["hard"] == {"cpu": "2", "memory": "2Gi"}
    assert repatched["spec"]["hard"] == {"cpu": "1", "memory": "1Gi"}
    watch_until(rv, {"cpu": "2", "memory": "2Gi"})

    # The quota's status is reconciled back to its spec (upstream, by the resource quota controller's resync).
    def reconciled():
        got = ok(apiserver.request("GET", quotas(ns, name)))
        hard = got.get("status", {}).get("hard", {})
        return (got["spec"]["hard"] == {"cpu": "1", "memory": "1Gi"} and quantity(hard.get("cpu", 0)) == 1
                and quantity(hard.get("memory", 0)) == 2**30)
    wait_for(reconciled, timeout=20, interval=1, what="status.hard to be reconciled with spec.hard")
