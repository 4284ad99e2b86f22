"""serviceaccount-token-controller: a kubernetes.io/service-account-token Secret gets a legacy token the
apiserver accepts (while the Secret holds it), the CA and the namespace; it goes with its account."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.request

import pytest

from kapiserver.client.resources import SECRETS, SERVICE_ACCOUNTS
from kapiserver.client.rest import APIError
from tests.controllers.conftest import settle
from tests.controllermanager.conftest import eventually, run, run_until
from tests.e2e.conftest import APIServerProcess, free_port


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory):
    """An apiserver authenticating on its secure port (service-account tokens checked against their Secret),
    with no token controller of its own: the tests pin kube-controller-manager's."""
    port = free_port()
    server = APIServerProcess(tmp_path_factory.mktemp("tokens") / "data", args=(
        f"--secure-port={port}", "--bind-address=127.0.0.1", "--authorization-mode=RBAC",
        "--embedded-controllers=serviceaccount-controller,root-ca-certificate-publisher-controller,"
        "garbage-collector-controller"))
    server.secure_port = port
    server.start()
    yield server
    server.stop()


def whoami(server, token):
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    request = urllib.request.Request(
        f"https://127.0.0.1:{server.secure_port}/apis/authentication.k8s.io/v1/selfsubjectreviews",
        data=json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}).encode(),
        method="POST", headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status, json.loads(response.read())["status"]["userInfo"]["username"]
    except urllib.error.HTTPError as e:
        return e.code, None


def missing(client, name, namespace):
    try:
        run(client.get(SECRETS, name, namespace))
        return False
    except APIError as e:
        return e.code == 404


def test_a_token_secret_is_filled_accepted_and_goes_with_its_account(apiserver, controllers, client, namespace):
    key = apiserver.data_dir / "pki" / "sa.key"
    ca = apiserver.data_dir / "pki" / "ca.crt"
    controllers("serviceaccount-token-controller", service_account_private_key_file=str(key),
                root_ca_file=str(ca))
    account = run(client.create(SERVICE_ACCOUNTS, {"metadata": {"name": "robot", "namespace": namespace}}))
    run(client.create(SECRETS, {"metadata": {"name": "robot-token", "namespace": namespace, "annotations": {
        "kubernetes.io/service-account.name": "robot"}}, "type": "kubernetes.io/service-account-token"}))
    secret = eventually(lambda: (s := run(client.get(SECRETS, "robot-token", namespace))).get("data", {}).get("token")
                        and s)
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["namespace"] == namespace and data["ca.crt"] == ca.read_text()
    assert secret["metadata"]["annotations"]["kubernetes.io/service-account.uid"] == account["metadata"]["uid"]
    assert whoami(apiserver, data["token"]) == (201, f"system:serviceaccount:{namespace}:robot")

    # A Secret naming an account that does not exist is deleted.
    run(client.create(SECRETS, {"metadata": {"name": "ghost-token", "namespace": namespace, "annotations": {
        "kubernetes.io/service-account.name": "ghost"}}, "type": "kubernetes.io/service-account-token"}))
    eventually(lambda: missing(client, "ghost-token", namespace))

    # The token is valid while its Secret holds it; the account's deletion takes its Secrets.
    run(client.delete(SERVICE_ACCOUNTS, "robot", namespace))
    eventually(lambda: missing(client, "robot-token", namespace))
    assert whoami(apiserver, data["token"])[0] == 401


def test_a_deleted_token_secret_leaves_its_accounts_secrets(apiserver, controllers, client, namespace):
    """Upstream's removeSecretReference: a token Secret deleted is taken out of its account's ``secrets`` list, the
    account's other references kept."""
    controllers("serviceaccount-token-controller",
                service_account_private_key_file=str(apiserver.data_dir / "pki" / "sa.key"))
    run(client.create(SERVICE_ACCOUNTS, {"metadata": {"name": "robot", "namespace": namespace},
                                         "secrets": [{"name": "robot-token"}, {"name": "robot-other"}]}))
    run(client.create(SECRETS, {"metadata": {"name": "robot-token", "namespace": namespace, "annotations": {
        "kubernetes.io/service-account.name": "robot"}}, "type": "kubernetes.io/service-account-token"}))
    eventually(lambda: run(client.get(SECRETS, "robot-token", namespace)).get("data", {}).get("token"))
    run(client.delete(SECRETS, "robot-token", namespace))
    eventually(lambda: run(client.get(SERVICE_ACCOUNTS, "robot", namespace)).get("secrets") ==
               [{"name": "robot-other"}])


def test_only_a_missing_token_namespace_or_ca_is_written(apiserver, controllers, client, namespace):
    """Upstream's secretUpdateNeeded: a token Secret holding a token and a namespace is left as it is (no uid
    annotation added); with no root CA there is no ca.crt to write."""
    controllers("serviceaccount-token-controller",
                service_account_private_key_file=str(apiserver.data_dir / "pki" / "sa.key"))
    run(client.create(SERVICE_ACCOUNTS, {"metadata": {"name": "robot", "namespace": namespace}}))
    given = {"token": base64.b64encode(b"made-elsewhere").decode(), "namespace": base64.b64encode(b"other").decode()}
    kept = run(client.create(SECRETS, {"metadata": {"name": "robot-given", "namespace": namespace, "annotations": {
        "kubernetes.io/service-account.name": "robot"}}, "type": "kubernetes.io/service-account-token", "data": given}))
    run(client.create(SECRETS, {"metadata": {"name": "robot-token", "namespace": namespace, "annotations": {
        "kubernetes.io/service-account.name": "robot"}}, "type": "kubernetes.io/service-account-token"}))
    filled = eventually(lambda: (s := run(client.get(SECRETS, "robot-token", namespace))).get("data", {}).get("token")
                        and s)
    assert sorted(filled["data"]) == ["namespace", "token"]
    settle(0.3)
    again = run(client.get(SECRETS, "robot-given", namespace))
    assert again["metadata"]["resourceVersion"] == kept["metadata"]["resourceVersion"] and again["data"] == given


def test_without_a_private_key_nothing_runs(controllers, client, namespace):
    controllers("serviceaccount-token-controller")
    run(client.create(SERVICE_ACCOUNTS, {"metadata": {"name": "robot", "namespace": namespace}}))
    run(client.create(SECRETS, {"metadata": {"name": "robot-token", "namespace": namespace, "annotations": {
        "kubernetes.io/service-account.name": "robot"}}, "type": "kubernetes.io/service-account-token"}))
    import time
    stop = time.monotonic() + 1.0        # long enough for the controller to have filled it, were it running
    run_until(lambda: time.monotonic() >= stop, timeout=2)
    assert not (run(client.get(SECRETS, "robot-token", namespace)).get("data") or {}).get("token")


def test_the_apiserver_alone_fills_token_secrets_too(tmp_path):
    """With its default --embedded-controllers the apiserver runs the token controller with its own signing key,
    so a user of the apiserver alone gets a working long-lived token."""
    import time
    port = free_port()
    server = APIServerProcess(tmp_path / "data", args=(f"--secure-port={port}", "--bind-address=127.0.0.1",
                                                       "--authorization-mode=RBAC"))
    server.secure_port = port
    server.start()
    try:
        for path, body in (("/api/v1/namespaces/default/serviceaccounts", {"metadata": {"name": "bot"}}),
                           ("/api/v1/namespaces/default/secrets", {
                               "metadata": {"name": "bot-token",
                                            "annotations": {"kubernetes.io/service-account.name": "bot"}},
                               "type": "kubernetes.io/service-account-token"})):
            assert server.request("POST", path, body)[0] == 201
        deadline = time.monotonic() + 30
        while not (server.request("GET", "/api/v1/namespaces/default/secrets/bot-token")[1].get("data") or {}).get(
                "token"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        token = base64.b64decode(server.request("GET", "/api/v1/namespaces/default/secrets/bot-token")[1]["data"]
                                 ["token"]).decode()
        assert whoami(server, token) == (201, "system:serviceaccount:default:bot")
    finally:
        server.stop()


def test_without_a_private_key_the_controller_is_skipped():
    """Not started, so the controller manager gives it no health check (as upstream skips it)."""
    from kapiserver.controllermanager.serviceaccounttoken import start_tokens_controller

    class Context:
        @staticmethod
        def option(name):
            return None
    controller = start_tokens_controller(Context())
    assert getattr(controller, "skipped", False) is True


def test_a_reference_removal_that_failed_is_made_again_on_the_retry():
    """The deleted Secret's account and uid are forgotten only once its reference is gone: an error (a 5xx) is
    retried through the queue with them still known."""
    from kapiserver.controllermanager.serviceaccounttoken import TokensController

    class Indexer:
        @staticmethod
        def get_by_key(namespace, name):
            return None

    class Stub:
        _deleted = {"ns/bot-token": ("bot", "uid-1")}
        secrets = type("Informer", (), {"indexer": Indexer})()
        calls = []

        async def _remove_reference(self, *args):
            self.calls.append(args)
            if len(self.calls) == 1:
                raise APIError(503, {"message": "unavailable"})
    stub = Stub()
    with pytest.raises(APIError):
        run(TokensController.sync(stub, "ns/bot-token"))
    run(TokensController.sync(stub, "ns/bot-token"))
    assert stub.calls == [("ns", "bot-token", "bot", "uid-1")] * 2 and stub._deleted == {}
