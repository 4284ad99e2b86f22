"""The node's token manager when a renewal fails."""

import datetime

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from kapiserver.client.rest import APIError
from kapiserver.node.volumes import TokenManager, token_key

POD = {"metadata": {"name": "p", "namespace": "ns", "uid": "u-1"}, "spec": {"serviceAccountName": "robot"}}


def test_a_failed_renewal_keeps_the_cached_token_until_it_expires():
    """Past 80 % of its life the token is asked again; if that fails the old token is served while it is
    still valid, and the failure is raised once it has expired."""
    clock = Clock()
    clock.advance(1_800_000_000)
    failing = []

    async def request(namespace, account, body):
        if failing:
            raise APIError(500, {"reason": "InternalError", "message": "apiserver down"})
        stamp = datetime.datetime.fromtimestamp(clock.seconds() + body["spec"]["expirationSeconds"],
                                                datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"spec": body["spec"], "status": {"token": "t1", "expirationTimestamp": stamp}}
    manager = TokenManager(request, clock.seconds)
    key = token_key(POD, {"expirationSeconds": 1000})

    def token():
        d = Deferred.fromCoroutine(manager.token(key))
        assert d.called
        if isinstance(d.result, Failure):
            d.result.raiseException()
        return d.result
    assert token() == "t1"
    failing.append(True)
    clock.advance(900)
    assert token() == "t1"
    clock.advance(101)
    with pytest.raises(APIError):
        token()
