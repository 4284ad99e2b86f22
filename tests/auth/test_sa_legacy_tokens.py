"""Legacy (Secret-based) service-account tokens: last-use tracking and the invalid-since label."""

import asyncio
import base64

from kapiserver.auth import authn, certs, jwt
from kapiserver.controllermanager.serviceaccounttoken import legacy_claims
from tests.auth.fakes import ObjectStore

DAY = 20000 * 86400          # 2024-10-04 00:00 UTC
TODAY = "2024-10-04"


class _Registry:
    def __init__(self, **stores):
        self.stores = stores

    def store(self, group, version, resource):
        return self.stores[resource]


def _setup(labels=None, referenced=False):
    key = certs.new_key()
    token = jwt.sign(legacy_claims("ns", "tok", "robot", "u"), key)
    secret = {"metadata": {"name": "tok", "namespace": "ns", "uid": "su", "labels": dict(labels or {})},
              "type": "kubernetes.io/service-account-token",
              "data": {"token": base64.b64encode(token.encode()).decode()}}
    account = {"metadata": {"name": "robot", "uid": "u"}}
    if referenced:
        account["secrets"] = [{"name": "tok"}]
    secrets = ObjectStore({"tok": secret})
    sa = authn.ServiceAccountTokens([key.public_key()], key, ["iss", jwt.LEGACY_ISSUER], ["iss"])
    authenticator = authn.Authenticator(service_accounts=sa, clock=lambda: DAY + 3600,
                                        registry=_Registry(secrets=secrets,
                                                           serviceaccounts=ObjectStore({"robot": account})))
    return token, secrets, authenticator


def test_a_legacy_tokens_use_is_recorded_on_its_secret_once_a_day():
    """The Secret is labelled kubernetes.io/legacy-token-last-used with today's date, and not written again today."""
    token, secrets, authenticator = _setup()
    user = asyncio.run(authenticator.authenticate_token(token))
    assert user.name == "system:serviceaccount:ns:robot"
    assert secrets.objects["tok"]["metadata"]["labels"] == {"kubernetes.io/legacy-token-last-used": TODAY}
    asyncio.run(authenticator.authenticate_token(token))
    assert secrets.updates == 1


def test_a_legacy_token_marked_invalid_is_nobody():
    """A Secret labelled kubernetes.io/legacy-token-invalid-since no longer authenticates its token."""
    token, secrets, authenticator = _setup({"kubernetes.io/legacy-token-invalid-since": "2024-01-01"})
    assert asyncio.run(authenticator.authenticate_token(token)) is None
    assert secrets.updates == 0


def test_a_legacy_token_for_a_changed_account_is_nobody():
    """An account recreated under the same name (another uid) invalidates the old Secret's token."""
    token, secrets, authenticator = _setup()
    authenticator.registry.stores["serviceaccounts"].objects["robot"]["metadata"]["uid"] = "other"
    assert asyncio.run(authenticator.authenticate_token(token)) is None
