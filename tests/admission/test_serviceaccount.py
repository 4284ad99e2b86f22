"""ServiceAccount admission: the pod's service account must exist; its token is mounted as upstream mounts it."""

from __future__ import annotations

import random

import pytest

from kapiserver.admission.simple import ServiceAccount
from kapiserver.machinery.errors import StatusError

from .conftest import call, drive, store

PODS = store("pods", "Pod")
MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


class Accounts:
    """A registry answering service accounts from a dict."""

    def __init__(self, accounts):
        self.accounts = accounts

    def store(self, group, version, resource):
        assert (group, version, resource) == ("", "v1", "serviceaccounts")
        return self

    async def get_shared(self, namespace, name):
        if (namespace, name) not in self.accounts:
            raise StatusError(404, "NotFound", f'serviceaccounts "{name}" not found')
        return self.accounts[(namespace, name)]

    get = get_shared      # the plugin reads again (past the cache) before it refuses


def plugin(**accounts):
    return ServiceAccount(Accounts({("ns", name): account for name, account in accounts.items()}),
                          random.Random(1))


def pod(**spec):
    spec.setdefault("containers", [{"name": "c", "image": "i"}])
    return {"metadata": {"name": "p", "namespace": "ns"}, "spec": spec}


def test_default_account_and_its_token_volume():
    obj = pod(initContainers=[{"name": "init", "image": "i"}])
    drive(call(plugin(default={}), "create", PODS, obj, None))
    spec = obj["spec"]
    assert spec["serviceAccountName"] == "default" == spec["serviceAccount"]
    volume, = spec["volumes"]
    assert volume["name"].startswith("kube-api-access-") and len(volume["name"]) == len("kube-api-access-") + 5
    assert volume["projected"] == {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                      "fieldPath": "metadata.namespace"}}]}}]}
    for container in spec["initContainers"] + spec["containers"]:
        assert container["volumeMounts"] == [{"name": volume["name"], "readOnly": True, "mountPath": MOUNT}]


@pytest.mark.parametrize("account,pod_setting,mounted", [
    ({}, None, True), ({"automountServiceAccountToken": False}, None, False),
    ({"automountServiceAccountToken": False}, True, True), ({}, False, False)])
def test_automount_follows_the_pod_then_the_account(account, pod_setting, mounted):
    spec = {} if pod_setting is None else {"automountServiceAccountToken": pod_setting}
    obj = pod(serviceAccountName="robot", **spec)
    drive(call(plugin(robot=account), "create", PODS, obj, None))
    assert bool(obj["spec"].get("volumes")) is mounted
    assert bool(obj["spec"]["containers"][0].get("volumeMounts")) is mounted


def test_a_container_mounting_its_own_token_path_keeps_it():
    own = {"name": "mine", "mountPath": MOUNT}
    obj = pod(containers=[{"name": "a", "image": "i", "volumeMounts": [own]}, {"name": "b", "image": "i"}],
              volumes=[{"name": "mine", "emptyDir": {}}])
    drive(call(plugin(default={}), "create", PODS, obj, None))
    a, b = obj["spec"]["containers"]
    assert a["volumeMounts"] == [own]
    assert b["volumeMounts"][0]["mountPath"] == MOUNT and len(obj["spec"]["volumes"]) == 2


def test_a_missing_account_is_forbidden():
    with pytest.raises(StatusError) as e:
        drive(call(plugin(), "create", PODS, pod(serviceAccountName="ghost"), None))
    assert e.value.code == 403
    assert str(e.value) == ('pods "p" is forbidden: error looking up service account ns/ghost: '
                            'serviceaccount "ghost" not found')


def test_the_default_account_is_looked_up_again_while_its_controller_makes_it():
    """As upstream's plugin: a missing `default` account is read again (ten times, 100 to 200 ms apart) before
    the pod is refused, so a pod created right after its namespace is admitted."""
    from twisted.internet.task import Clock
    accounts = Accounts({})
    accounts.clock = Clock()
    admitted = []
    d = call(ServiceAccount(accounts, random.Random(1)), "create", PODS, pod(), None)
    from twisted.internet.defer import Deferred
    Deferred.fromCoroutine(d).addBoth(admitted.append)
    accounts.clock.advance(0.15)
    assert admitted == []
    accounts.accounts[("ns", "default")] = {"metadata": {"name": "default"}}
    accounts.clock.advance(0.2)
    assert len(admitted) == 1 and not isinstance(admitted[0], Exception)
