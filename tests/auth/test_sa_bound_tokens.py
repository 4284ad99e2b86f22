"""Bound service-account tokens at authentication (TokenReview): the objects they are bound to are looked up."""

import asyncio

from kapiserver.auth import authn, certs, jwt
from tests.auth.fakes import ObjectStore

NOW = 5000


class _Registry:
    def __init__(self, **resources):
        self.resources = resources

    def store(self, group, version, resource):
        return ObjectStore(self.resources.get(resource, {}))


def _obj(name, uid, deleted=None):
    meta = {"name": name, "uid": uid}
    if deleted:
        meta["deletionTimestamp"] = deleted
    return {"metadata": meta}


def _setup(**resources):
    key = certs.new_key()
    sa = authn.ServiceAccountTokens([key.public_key()], key, ["iss"], ["iss"])
    resources.setdefault("serviceaccounts", {"robot": _obj("robot", "u")})
    authenticator = authn.Authenticator(service_accounts=sa, registry=_Registry(**resources), clock=lambda: NOW)
    return key, authenticator


def _token(key, **bound):
    return jwt.sign(jwt.bound_claims("iss", ["iss"], "ns", "robot", "u", 3600, now=NOW - 10, **bound), key)


def test_a_pod_bound_token_dies_with_its_pod():
    """A token bound to a pod is nobody once the pod is gone, or is another pod of that name."""
    key, authenticator = _setup(pods={"p": _obj("p", "pu")})
    assert asyncio.run(authenticator.authenticate_token(_token(key, pod={"name": "p", "uid": "pu"}))) is not None
    assert asyncio.run(authenticator.authenticate_token(_token(key, pod={"name": "gone", "uid": "g"}))) is None
    assert asyncio.run(authenticator.authenticate_token(_token(key, pod={"name": "p", "uid": "other"}))) is None


def test_a_pod_deleted_over_a_minute_ago_no_longer_vouches():
    """A pod whose deletion began more than a minute ago invalidates its tokens; a recent deletion does not."""
    key, authenticator = _setup(pods={"old": _obj("old", "o", "1970-01-01T01:00:00Z"),
                                      "new": _obj("new", "n", "1970-01-01T01:23:00Z")})
    assert asyncio.run(authenticator.authenticate_token(_token(key, pod={"name": "old", "uid": "o"}))) is None
    assert asyncio.run(authenticator.authenticate_token(_token(key, pod={"name": "new", "uid": "n"}))) is not None


def test_secret_and_node_bound_tokens_are_checked():
    """Tokens bound to a secret or (alone) to a node are nobody once that object is gone."""
    key, authenticator = _setup(secrets={"s": _obj("s", "su")}, nodes={"n1": _obj("n1", "nu")})
    assert asyncio.run(authenticator.authenticate_token(_token(key, secret={"name": "s", "uid": "su"}))) is not None
    assert asyncio.run(authenticator.authenticate_token(_token(key, secret={"name": "t", "uid": "tu"}))) is None
    assert asyncio.run(authenticator.authenticate_token(_token(key, node={"name": "n1", "uid": "nu"}))) is not None
    assert asyncio.run(authenticator.authenticate_token(_token(key, node={"name": "n2", "uid": "nu"}))) is None


def test_a_pod_bound_token_reports_its_node():
    """A pod-bound token's user carries the pod and the node it ran on (the node is not looked up)."""
    key, authenticator = _setup(pods={"p": _obj("p", "pu")})
    token = _token(key, pod={"name": "p", "uid": "pu"}, node={"name": "gone-node", "uid": "nu"})
    user = asyncio.run(authenticator.authenticate_token(token))
    assert user.extra[authn.POD_NAME] == ["p"] and user.extra[authn.POD_UID] == ["pu"]
    assert user.extra[authn.NODE_NAME] == ["gone-node"] and user.extra[authn.NODE_UID] == ["nu"]
    assert user.extra[authn.CREDENTIAL_ID][0].startswith("JTI=")


def test_the_bound_pod_is_read_from_the_watch_cache_first():
    """As upstream's token getter reads its informers' listers: what the cache holds answers, the API (a
    consistent read on every request a pod makes) is asked only when the cache holds nothing."""
    class Cached(ObjectStore):
        async def get_shared(self, namespace, name):
            raise AssertionError("asked the API although the cache had the object")

        def peek_shared(self, namespace, name):
            return self.objects.get(name)

    class Registry(_Registry):
        def store(self, group, version, resource):
            return Cached(self.resources.get(resource, {}))
    key = certs.new_key()
    sa = authn.ServiceAccountTokens([key.public_key()], key, ["iss"], ["iss"])
    authenticator = authn.Authenticator(service_accounts=sa, clock=lambda: NOW, registry=Registry(
        serviceaccounts={"robot": _obj("robot", "u")}, pods={"p": _obj("p", "pu")}))
    assert asyncio.run(authenticator.authenticate_token(_token(key, pod={"name": "p", "uid": "pu"}))) is not None


def test_bound_tokens_are_checked_without_service_account_lookup():
    """--service-account-lookup=false is the legacy validator's switch: a bound token's pod is still looked up."""
    key = certs.new_key()
    sa = authn.ServiceAccountTokens([key.public_key()], key, ["iss"], ["iss"], lookup=False)
    authenticator = authn.Authenticator(service_accounts=sa, clock=lambda: NOW, registry=_Registry(
        serviceaccounts={"robot": _obj("robot", "u")}, pods={"p": _obj("p", "pu")}))
    assert asyncio.run(authenticator.authenticate_token(_token(key, pod={"name": "p", "uid": "pu"}))) is not None
    assert asyncio.run(authenticator.authenticate_token(_token(key, pod={"name": "gone", "uid": "g"}))) is None
