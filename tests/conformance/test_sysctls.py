"""Sysctls [LinuxOnly] [NodeConformance] "should reject invalid sysctls": the API refuses a pod whose
sysctl names are malformed, naming each bad one and none of the good ones, with upstream's message."""

from __future__ import annotations


def pod(name, sysctls, **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"securityContext": {"sysctls": sysctls},
                     "containers": [{"name": "c", "image": "busybox"}], **spec}}


def test_invalid_sysctls_are_rejected(apiserver):
    status, body = apiserver.request("POST", "/api/v1/namespaces/default/pods", pod("sysctl-bad", [
        {"name": "foo-", "value": "bar"}, {"name": "kernel.shmmax", "value": "100000000"},
        {"name": "safe-and-unsafe", "value": "100000000"}, {"name": "bar..", "value": "42"}]))
    assert status == 422 and body["reason"] == "Invalid"
    assert 'Invalid value: "foo-"' in body["message"] and 'Invalid value: "bar.."' in body["message"]
    assert "safe-and-unsafe" not in body["message"] and "kernel.shmmax" not in body["message"]
    assert body["details"]["causes"][0] == {
        "reason": "FieldValueInvalid", "field": "spec.securityContext.sysctls[0].name",
        "message": 'Invalid value: "foo-": must have at most 253 characters and match regex '
                   r"^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$"}


def test_sysctl_names_may_use_slashes_and_must_be_distinct(apiserver):
    status, body = apiserver.request("POST", "/api/v1/namespaces/default/pods", pod("sysctl-dup", [
        {"name": "net/ipv4/ip_forward", "value": "1"}, {"name": "kernel.msgmax", "value": "1"},
        {"name": "kernel.msgmax", "value": "2"}]))
    assert status == 422
    assert [c["field"] for c in body["details"]["causes"]] == ["spec.securityContext.sysctls[2].name"]
    assert body["details"]["causes"][0]["reason"] == "FieldValueDuplicate"


def test_namespaced_sysctls_refused_when_sharing_the_hosts_namespace(apiserver):
    status, body = apiserver.request("POST", "/api/v1/namespaces/default/pods", pod(
        "sysctl-host", [{"name": "net.ipv4.ip_forward", "value": "1"}, {"name": "kernel.shmmax", "value": "1"}],
        hostNetwork=True, hostIPC=True))
    assert status == 422
    assert [c["message"] for c in body["details"]["causes"]] == [
        'Invalid value: "net.ipv4.ip_forward": may not be specified when \'hostNetwork\' is true',
        'Invalid value: "kernel.shmmax": may not be specified when \'hostIPC\' is true']


def test_valid_sysctls_are_accepted(apiserver):
    status, body = apiserver.request("POST", "/api/v1/namespaces/default/pods", pod("sysctl-ok", [
        {"name": "kernel.shm_rmid_forced", "value": "1"}, {"name": "net.ipv4.ping_group_range", "value": "0 200"}]))
    assert status == 201, body
