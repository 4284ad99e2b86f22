"""ResourceQuota on extended resources and with scopes: parts of "ResourceQuota, quota scope, BestEffort and
NotBestEffort scope", "ResourceQuota, quota scope, Terminating and NotTerminating scope" and the extended
resource part of "ResourceQuota, object count quota, pod"."""

from __future__ import annotations

import time



def create(server, path, body, expect=201):
    status, out = server.request("POST", path, body)
    assert status == expect, out
    return out


def pod(name, requests=None, **spec):
    container = {"name": "c", "image": "busybox"}
    if requests:
        container["resources"] = {"requests": requests, "limits": requests}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [container], **spec}}


def used(server, namespace, name, want, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        got = ((server.request("GET", f"/api/v1/namespaces/{namespace}/resourcequotas/{name}")[1]
                .get("status") or {}).get("used") or {})
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def test_extended_resources_are_counted(apiserver, namespace):
    create(apiserver, f"/api/v1/namespaces/{namespace}/resourcequotas", {
        "apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "dongles"},
        "spec": {"hard": {"requests.example.com/dongle": "3"}}})
    create(apiserver, f"/api/v1/namespaces/{namespace}/pods", pod("one", {"example.com/dongle": "2"}))
    assert used(apiserver, namespace, "dongles", {"requests.example.com/dongle": "2"}) == \
        {"requests.example.com/dongle": "2"}
    refused = create(apiserver, f"/api/v1/namespaces/{namespace}/pods", pod("two", {"example.com/dongle": "2"}),
                     expect=403)
    assert refused["message"] == (
        'pods "two" is forbidden: exceeded quota: dongles, requested: requests.example.com/dongle=2, '
        'used: requests.example.com/dongle=2, limited: requests.example.com/dongle=3')


def test_best_effort_and_not_best_effort_scopes(apiserver, namespace):
    for name, scope in (("quota-besteffort", "BestEffort"), ("quota-notbesteffort", "NotBestEffort")):
        create(apiserver, f"/api/v1/namespaces/{namespace}/resourcequotas", {
            "apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name},
            "spec": {"hard": {"pods": "1"}, "scopes": [scope]}})
    create(apiserver, f"/api/v1/namespaces/{namespace}/pods", pod("best-effort"))
    assert used(apiserver, namespace, "quota-besteffort", {"pods": "1"}) == {"pods": "1"}
    assert used(apiserver, namespace, "quota-notbesteffort", {"pods": "0"}) == {"pods": "0"}
    create(apiserver, f"/api/v1/namespaces/{namespace}/pods", pod("burstable", {"cpu": "100m", "memory": "10Mi"}))
    assert used(apiserver, namespace, "quota-notbesteffort", {"pods": "1"}) == {"pods": "1"}
    assert used(apiserver, namespace, "quota-besteffort", {"pods": "1"}) == {"pods": "1"}
    refused = create(apiserver, f"/api/v1/namespaces/{namespace}/pods", pod("best-effort-2"), expect=403)
    assert "exceeded quota: quota-besteffort" in refused["message"]


def test_terminating_and_not_terminating_scopes(apiserver, namespace):
    for name, scope in (("quota-terminating", "Terminating"), ("quota-not-terminating", "NotTerminating")):
        create(apiserver, f"/api/v1/namespaces/{namespace}/resourcequotas", {
            "apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name},
            "spec": {"hard": {"pods": "1", "requests.cpu": "500m"}, "scopes": [scope]}})
    create(apiserver, f"/api/v1/namespaces/{namespace}/pods", pod("long", {"cpu": "200m"}))
    assert used(apiserver, namespace, "quota-not-terminating", {"pods": "1", "requests.cpu": "200m"}) == \
        {"pods": "1", "requests.cpu": "200m"}
    assert used(apiserver, namespace, "quota-terminating", {"pods": "0", "requests.cpu": "0"}) == \
        {"pods": "0", "requests.cpu": "0"}
    create(apiserver, f"/api/v1/namespaces/{namespace}/pods", pod("short", {"cpu": "200m"}, activeDeadlineSeconds=3600))
    assert used(apiserver, namespace, "quota-terminating", {"pods": "1", "requests.cpu": "200m"}) == \
        {"pods": "1", "requests.cpu": "200m"}
