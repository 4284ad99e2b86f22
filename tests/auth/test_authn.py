"""Authentication of requests: bearer tokens, basic auth, anonymous, 401, webhooks and impersonation."""

import asyncio
import base64

import pytest
from twisted.web.test.requesthelper import DummyRequest

from kapiserver.auth import authn, impersonation
from kapiserver.auth.authz import ALLOW, NO_OPINION, Decision
from kapiserver.auth.user import UserInfo
from kapiserver.auth.webhook import AuthorizationWebhook, TokenWebhook, sar_spec
from kapiserver.auth.authz import Attributes
from kapiserver.machinery.errors import StatusError


def request(**headers):
    r = DummyRequest([b""])
    for name, value in headers.items():
        r.requestHeaders.addRawHeader(name.replace("_", "-").encode(), value.encode())
    return r


def authenticate(authenticator, r):
    return asyncio.run(authenticator.authenticate(r))


AUTH = authn.Authenticator(tokens={"t": UserInfo("alice", "1", ["devs"])},
                           passwords={"pw": UserInfo("bob", "2", ["ops"])}, anonymous=True)


def test_bearer_token_and_basic_auth():
    """A known token or user:password is that user, plus system:authenticated."""
    user = authenticate(AUTH, request(authorization="Bearer t"))
    assert (user.name, user.uid, user.groups) == ("alice", "1", ["devs", "system:authenticated"])
    basic = base64.b64encode(b"bob:pw").decode()
    assert authenticate(AUTH, request(authorization=f"Basic {basic}")).name == "bob"


def test_bad_credentials_are_401_even_with_anonymous():
    """Credentials nobody accepts are 401 Unauthorized, never anonymous; a wrong user name for a password too."""
    for header in ("Bearer nope", "Basic " + base64.b64encode(b"eve:pw").decode()):
        with pytest.raises(StatusError) as info:
            authenticate(AUTH, request(authorization=header))
        assert (info.value.code, info.value.reason, info.value.message) == (401, "Unauthorized", "Unauthorized")


def test_no_credentials():
    """No credentials is system:anonymous in system:unauthenticated, or 401 with --anonymous-auth=false."""
    user = authenticate(AUTH, request())
    assert (user.name, user.groups) == ("system:anonymous", ["system:unauthenticated"])
    with pytest.raises(StatusError) as info:
        authenticate(authn.Authenticator(anonymous=False), request())
    assert info.value.code == 401


class _Client:
    def __init__(self, answer):
        self.answer = answer
        self.sent = []

    async def post(self, body, timeout=30.0, url=""):
        self.sent.append(body)
        return self.answer


def test_token_webhook_authenticates_and_caches():
    """The token webhook's TokenReview answer is the user; it is asked once per token within the TTL."""
    client = _Client({"status": {"authenticated": True, "user": {"username": "wendy", "groups": ["g"]}}})
    webhook = TokenWebhook("", client=client)
    authenticator = authn.Authenticator(token_authenticators=[webhook.authenticate])
    assert authenticate(authenticator, request(authorization="Bearer w")).name == "wendy"
    assert authenticate(authenticator, request(authorization="Bearer w")).groups == ["g", "system:authenticated"]
    assert len(client.sent) == 1 and client.sent[0]["spec"] == {"token": "w"}


def test_authorization_webhook_sends_subject_access_reviews():
    """The authorization webhook gets upstream's SubjectAccessReview spec and its answer decides."""
    client = _Client({"status": {"allowed": True}})
    webhook = AuthorizationWebhook("", client=client)
    attributes = Attributes(UserInfo("u", "9", ["g"]), "get", True, "ns", "apps", "v1", "deployments", "", "d")
    assert asyncio.run(webhook.authorize(attributes)).decision == ALLOW
    assert client.sent[0]["spec"] == {"resourceAttributes": {"namespace": "ns", "verb": "get", "group": "apps",
                                                             "version": "v1", "resource": "deployments",
                                                             "name": "d"},
                                      "user": "u", "groups": ["g"], "uid": "9"}
    assert sar_spec(Attributes(UserInfo("u"), "get", False, path="/x"))["nonResourceAttributes"] == \
        {"path": "/x", "verb": "get"}


class _Authorizer:
    def __init__(self, allowed):
        self.allowed = allowed
        self.asked = []

    async def authorize(self, attributes):
        self.asked.append((attributes.verb, attributes.resource, attributes.name))
        allowed = (attributes.resource, attributes.name) in self.allowed
        return Decision(ALLOW if allowed else NO_OPINION)


def test_impersonation_checks_each_part():
    """Impersonating a user and groups asks for impersonate on each; the result is that user."""
    authorizer = _Authorizer({("users", "jane"), ("groups", "qa")})
    r = request(impersonate_user="jane", impersonate_group="qa")
    user = asyncio.run(impersonation.impersonate(r, UserInfo("admin"), authorizer))
    assert (user.name, user.groups) == ("jane", ["qa", "system:authenticated"])
    assert authorizer.asked == [("impersonate", "users", "jane"), ("impersonate", "groups", "qa")]
    with pytest.raises(StatusError) as info:
        asyncio.run(impersonation.impersonate(request(impersonate_user="joe"), UserInfo("admin"), authorizer))
    assert info.value.message == ('users "joe" is forbidden: User "admin" cannot impersonate resource "users" in '
                                  'API group "" at the cluster scope')


def test_impersonating_a_service_account():
    """A service-account user name is checked as impersonate on serviceaccounts and gets its groups."""
    authorizer = _Authorizer({("serviceaccounts", "robot")})
    r = request(impersonate_user="system:serviceaccount:team:robot")
    user = asyncio.run(impersonation.impersonate(r, UserInfo("admin"), authorizer))
    assert user.groups == ["system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"]


def test_keystone_password_authentication():
    """Basic credentials Keystone issues a token for are that user; refused ones are 401."""
    from kapiserver.auth.keystone import KeystoneAuthenticator

    class Keystone:
        def __init__(self):
            self.sent = []

        async def post(self, body, timeout=30.0, url=""):
            self.sent.append((url, body))
            if body["auth"]["identity"]["password"]["user"]["password"] != "secret":
                raise RuntimeError("the server responded with the status code 401")
            return {"token": {}}
    client = Keystone()
    keystone = KeystoneAuthenticator("https://keystone:5000/", client=client)
    authenticator = authn.Authenticator(password_authenticators=[keystone.authenticate])
    good = base64.b64encode(b"kim:secret").decode()
    assert authenticate(authenticator, request(authorization=f"Basic {good}")).name == "kim"
    assert client.sent[0][0] == "https://keystone:5000/v3/auth/tokens"
    bad = base64.b64encode(b"kim:wrong").decode()
    with pytest.raises(StatusError):
        authenticate(authenticator, request(authorization=f"Basic {bad}"))
