"""kube-apiserver's --embedded-controllers: the namespace and garbage collector controllers it runs itself, the
same code as kube-controller-manager's, through a loopback listener that only its own token opens."""

from __future__ import annotations

import pytest
from twisted.web.resource import Resource
from twisted.web.test.requesthelper import DummyRequest

from kapiserver.config import ServerConfig
from kapiserver.controllermanager.embedded import LoopbackSite
from kapiserver.flags import OptionError
from kapiserver.listener import QuietSite


class _Privileged(Resource):
    isLeaf = True


def test_loopback_site_serves_only_its_token():
    """A request without the token, or with another, gets 401; with it, the privileged site's resource."""
    privileged_root = _Privileged()
    site = LoopbackSite(QuietSite(privileged_root), token="sekrit")
    for header in (None, "Bearer other", "Bearer sekrit2", "sekrit"):
        request = DummyRequest([b"api"])
        if header:
            request.requestHeaders.addRawHeader(b"authorization", header.encode())
        refused = site.getResourceFor(request)
        assert refused is not privileged_root
        refused.render(request)
        assert request.responseCode == 401
    request = DummyRequest([b"api"])
    request.requestHeaders.addRawHeader(b"authorization", b"Bearer sekrit")
    assert site.getResourceFor(request) is privileged_root


def test_every_site_gets_a_token_of_its_own():
    """Without a token given, each loopback site makes a random one."""
    first, second = LoopbackSite(QuietSite(Resource())), LoopbackSite(QuietSite(Resource()))
    assert first.token != second.token and len(first.token) >= 32


def test_embedded_controllers_flag():
    """All seven by default; empty for none; upstream's aliases accepted; anything else refused."""
    assert ServerConfig.from_options({}).embedded_controllers == (
        "namespace-controller", "garbage-collector-controller", "serviceaccount-controller",
        "serviceaccount-token-controller", "root-ca-certificate-publisher-controller", "persistentvolumeclaim-protection-controller",
        "persistentvolume-protection-controller")
    assert ServerConfig.from_options({"embedded-controllers": ""}).embedded_controllers == ()
    assert ServerConfig.from_options({"embedded-controllers": "garbagecollector"}).embedded_controllers == \
        ("garbage-collector-controller",)
    with pytest.raises(OptionError):
        ServerConfig.from_options({"embedded-controllers": "deployment-controller"})


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory):
    """An apiserver with RBAC on the secure port and its default --embedded-controllers."""
    from tests.e2e.conftest import APIServerProcess, free_port
    base = tmp_path_factory.mktemp("embedded")
    server = APIServerProcess(base / "data", args=(f"--secure-port={free_port()}", "--bind-address=127.0.0.1",
                                                   "--authorization-mode=RBAC"))
    server.start()
    yield server
    server.stop()


def test_the_apiservers_own_controllers_work_with_authorization_on(client):
    """With RBAC on, the apiserver's namespace and garbage collector controllers (its loopback clients) still
    collect a dependent and finalize a deleted namespace."""
    from kapiserver.client.resources import CONFIG_MAPS, NAMESPACES
    from kapiserver.client.rest import APIError
    from tests.conformance.support import unique
    from tests.controllermanager.conftest import eventually, run
    name = unique("emb")
    run(client.create(NAMESPACES, {"metadata": {"name": name}}))
    owner = run(client.create(CONFIG_MAPS, {"metadata": {"name": "owner", "namespace": name}}))
    run(client.create(CONFIG_MAPS, {"metadata": {"name": "dependent", "namespace": name, "ownerReferences": [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}]}}))
    run(client.delete(CONFIG_MAPS, "owner", name))

    def missing(resource, obj_name, namespace=None):
        try:
            run(client.get(resource, obj_name, namespace))
            return False
        except APIError as e:
            return e.code == 404
    eventually(lambda: missing(CONFIG_MAPS, "dependent", name))
    run(client.delete(NAMESPACES, name))
    eventually(lambda: missing(NAMESPACES, name))


def test_controller_manager_leads_only_with_a_live_lease():
    from kapiserver.controllermanager.embedded import controller_manager_leads
    lease = {"spec": {"holderIdentity": "cm", "renewTime": "2026-01-01T00:00:00.000000Z", "leaseDurationSeconds": 15}}
    renewed = 1767225600.0
    assert controller_manager_leads(lease, renewed + 10)
    assert not controller_manager_leads(lease, renewed + 16)
    assert not controller_manager_leads({"spec": {**lease["spec"], "holderIdentity": ""}}, renewed + 1)
    assert not controller_manager_leads(None, renewed)


def test_the_apiservers_controllers_step_aside_while_a_controller_manager_leads(apiserver, client):
    """While someone holds a live kube-system/kube-controller-manager Lease, the apiserver's copies stop (a
    new namespace gets no default ServiceAccount from them); once the Lease is released they run again."""
    import time
    from twisted.internet import reactor
    from kapiserver.client.leaderelection import LeaderElector, LeaseClient
    from kapiserver.client.resources import NAMESPACES, SERVICE_ACCOUNTS
    from kapiserver.client.rest import APIError
    from tests.conformance.support import unique
    from tests.controllermanager.conftest import eventually, run, run_until
    elector = LeaderElector(LeaseClient(client), reactor, "a-controller-manager", "kube-controller-manager",
                            release_on_cancel=True)

    def stepped_aside():
        return apiserver.log_path.read_text().count("the apiserver's own controllers step aside")
    before = stepped_aside()
    run(elector.start())
    assert elector.leading
    # The embedded controllers look at the Lease every 2 s: wait until they have seen it (on a loaded machine
    # a fixed wait may end before they look).
    eventually(lambda: stepped_aside() > before)
    name = unique("aside")
    run(client.create(NAMESPACES, {"metadata": {"name": name}}))
    stop = time.monotonic() + 2
    run_until(lambda: time.monotonic() >= stop, timeout=4)

    def account():
        try:
            return run(client.get(SERVICE_ACCOUNTS, "default", name))
        except APIError:
            return None
    assert account() is None
    run(elector.stop())
    assert eventually(account)
