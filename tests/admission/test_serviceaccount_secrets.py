"""ServiceAccount admission beyond the token: pull secrets, mirror pods, enforce-mountable-secrets."""

from __future__ import annotations

import random

import pytest

from kapiserver.admission.simple import ServiceAccount
from kapiserver.machinery.errors import StatusError

from .conftest import call, drive
from .test_serviceaccount import PODS, Accounts, pod

ENFORCE = {"kubernetes.io/enforce-mountable-secrets": "true"}


def plugin(**accounts):
    for name, account in accounts.items():
        account.setdefault("metadata", {}).setdefault("name", name)
    return ServiceAccount(Accounts({("ns", name): account for name, account in accounts.items()}),
                          random.Random(1))


def refused(plugin, obj, operation="create", subresource=""):
    with pytest.raises(StatusError) as e:
        drive(call(plugin, operation, PODS, obj, obj if operation == "update" else None, subresource=subresource))
    assert e.value.code == 403
    return str(e.value)


def test_a_pod_without_pull_secrets_gets_its_accounts():
    """A pod naming no imagePullSecrets gets its service account's; one naming some keeps its own."""
    account = {"imagePullSecrets": [{"name": "reg"}, {"name": "reg2"}]}
    obj = pod()
    drive(call(plugin(default=account), "create", PODS, obj, None))
    assert obj["spec"]["imagePullSecrets"] == [{"name": "reg"}, {"name": "reg2"}]
    own = pod(imagePullSecrets=[{"name": "mine"}])
    drive(call(plugin(default=account), "create", PODS, own, None))
    assert own["spec"]["imagePullSecrets"] == [{"name": "mine"}]


def test_a_mirror_pod_is_left_alone_and_may_reference_no_secret():
    """A mirror pod gets no account nor token; naming an account, a secret or a projected token is forbidden."""
    def mirror(**spec):
        obj = pod(**spec)
        obj["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "x"}
        return obj
    obj = mirror()
    drive(call(plugin(), "create", PODS, obj, None))
    assert "serviceAccountName" not in obj["spec"] and "volumes" not in obj["spec"]
    assert refused(plugin(), mirror(serviceAccountName="default")).endswith(
        "a mirror pod may not reference service accounts")
    assert refused(plugin(), mirror(volumes=[{"name": "v", "secret": {"secretName": "s"}}])).endswith(
        "a mirror pod may not reference secrets")
    assert refused(plugin(), mirror(volumes=[{"name": "v", "projected": {"sources": [
        {"serviceAccountToken": {"path": "t"}}]}}])).endswith(
        "a mirror pod may not use ServiceAccountToken volume projections")


def test_enforce_mountable_secrets_limits_what_a_pod_references():
    """An account annotated kubernetes.io/enforce-mountable-secrets allows only the secrets it lists."""
    def account():
        return {"metadata": {"annotations": dict(ENFORCE)}, "secrets": [{"name": "ok"}],
                "imagePullSecrets": [{"name": "pull"}]}
    drive(call(plugin(default=account()), "create", PODS,
               pod(volumes=[{"name": "v", "secret": {"secretName": "ok"}}]), None))
    assert refused(plugin(default=account()), pod(volumes=[{"name": "v", "secret": {"secretName": "no"}}])) == (
        'pods "p" is forbidden: volume with secret.secretName="no" is not allowed because service account '
        'default does not reference that secret')
    env = [{"name": "E", "valueFrom": {"secretKeyRef": {"name": "no", "key": "k"}}}]
    assert refused(plugin(default=account()), pod(initContainers=[{"name": "i", "image": "i", "env": env}])) == (
        'pods "p" is forbidden: init container i with envVar E referencing secret.secretName="no" is not allowed '
        'because service account default does not reference that secret')
    assert refused(plugin(default=account()),
                   pod(containers=[{"name": "c", "image": "i", "envFrom": [{"secretRef": {"name": "no"}}]}])) == (
        'pods "p" is forbidden: container c with envFrom referencing secret.secretName="no" is not allowed '
        'because service account default does not reference that secret')
    assert refused(plugin(default=account()), pod(imagePullSecrets=[{"name": "pull"}, {"name": "x"}])) == (
        'pods "p" is forbidden: imagePullSecrets[1].name="x" is not allowed because service account default '
        'does not reference that imagePullSecret')


def test_enforce_mountable_secrets_on_ephemeral_containers():
    """Adding an ephemeral container is judged against the account too."""
    account = {"metadata": {"annotations": dict(ENFORCE)}, "secrets": [{"name": "ok"}]}
    obj = pod(serviceAccountName="default", ephemeralContainers=[
        {"name": "dbg", "image": "i", "env": [{"name": "E", "valueFrom": {"secretKeyRef": {"name": "no"}}}]}])
    assert refused(plugin(default=account), obj, "update", "ephemeralcontainers") == (
        'pods "p" is forbidden: ephemeral container dbg with envVar E referencing secret.secretName="no" is not '
        'allowed because service account default does not reference that secret')
    account["metadata"]["annotations"] = {}
    drive(call(plugin(default=account), "update", PODS, obj, obj, subresource="ephemeralcontainers"))
