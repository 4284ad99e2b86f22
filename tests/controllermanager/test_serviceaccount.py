"""serviceaccount-controller and root-ca-certificate-publisher-controller: what upstream's e2e framework waits
for in every new namespace."""

import pytest

from kapiserver.client.resources import CONFIG_MAPS, SERVICE_ACCOUNTS
from kapiserver.controllermanager.rootcacertpublisher import DESCRIPTION
from tests.controllermanager.conftest import eventually, run
from tests.e2e.conftest import APIServerProcess


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory):
    """An apiserver that runs neither controller itself (its own copies would publish another CA)."""
    server = APIServerProcess(tmp_path_factory.mktemp("apiserver") / "data",
                              args=("--embedded-controllers=namespace-controller,garbage-collector-controller",))
    server.start()
    yield server
    server.stop()


def test_every_namespace_gets_a_default_service_account_again_after_deletion(controllers, client, namespace):
    controllers("serviceaccount-controller")
    account = eventually(lambda: run(client.get(SERVICE_ACCOUNTS, "default", namespace)))
    assert account["metadata"]["namespace"] == namespace
    run(client.delete(SERVICE_ACCOUNTS, "default", namespace))
    recreated = eventually(lambda: run(client.get(SERVICE_ACCOUNTS, "default", namespace)))
    assert recreated["metadata"]["uid"] != account["metadata"]["uid"]


def test_root_ca_configmap_is_published_and_restored(controllers, client, namespace, tmp_path):
    bundle = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    (tmp_path / "ca.crt").write_text(bundle)
    controllers("root-ca-certificate-publisher-controller", root_ca_file=str(tmp_path / "ca.crt"))
    cm = eventually(lambda: run(client.get(CONFIG_MAPS, "kube-root-ca.crt", namespace)))
    assert cm["data"] == {"ca.crt": bundle}
    assert cm["metadata"]["annotations"]["kubernetes.io/description"] == DESCRIPTION
    cm["data"] = {"ca.crt": "tampered"}
    run(client.update(CONFIG_MAPS, cm))
    eventually(lambda: run(client.get(CONFIG_MAPS, "kube-root-ca.crt", namespace))["data"] == {"ca.crt": bundle})
    run(client.delete(CONFIG_MAPS, "kube-root-ca.crt", namespace))
    eventually(lambda: run(client.get(CONFIG_MAPS, "kube-root-ca.crt", namespace))["data"] == {"ca.crt": bundle})
