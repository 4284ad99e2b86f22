"""
EtcdClient's calls against a pool that answers when the test says, on a fake clock: a call etcd does not
answer within its timeout fails Unavailable and gives up its request; one answered in time leaves no timer.
"""

from __future__ import annotations

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from kapiserver.storage.etcd_client import EtcdClient, EtcdError
from kapiserver.storage.interface import Unavailable


class _Pool:
    """Takes requests and keeps them for the test to answer."""

    def __init__(self):
        self.requests = []
        self.cancelled = []

    def request(self, path, body):
        d = Deferred(lambda d: self.cancelled.append(path))
        self.requests.append((path, body, d))
        return d


def _client(timeout=5.0):
    clock = Clock()
    client = EtcdClient(clock, ["http://127.0.0.1:2379"], timeout=timeout)
    pool = _Pool()
    client._endpoints._pools[0] = pool
    return clock, client, pool


def _outcome(d):
    got = []
    d.addBoth(got.append)
    return got


def test_an_answered_call_returns_the_message_and_leaves_no_timer():
    clock, client, pool = _client()
    got = _outcome(client.call("kv/range", {"key": "AA=="}))
    assert pool.requests[0][:2] == (b"/v3/kv/range", b'{"key":"AA=="}')
    assert len(clock.getDelayedCalls()) == 1
    pool.requests[0][2].callback((200, b'{"header":{"revision":"7"}}'))
    assert got == [{"header": {"revision": "7"}}]
    assert clock.getDelayedCalls() == []


def test_a_call_not_answered_in_time_fails_unavailable_and_is_given_up():
    """The call's own timeout (here shorter than the client's) cancels its request (which gives up the
    connection it waits on) and the caller gets Unavailable naming the call."""
    clock, client, pool = _client()
    got = _outcome(client.call("kv/txn", {}, timeout=2.0))
    clock.advance(1.9)
    assert got == [] and pool.cancelled == []
    clock.advance(0.2)
    assert pool.cancelled == [b"/v3/kv/txn"]
    assert got[0].check(Unavailable) and "kv/txn within 2.0s" in got[0].getErrorMessage()
    assert clock.getDelayedCalls() == []


@pytest.mark.parametrize("code,unavailable", [(14, True), (4, True), (11, False), (9, False)])
def test_etcd_errors_are_unavailable_only_when_etcd_says_it_cannot_serve(code, unavailable):
    """gRPC UNAVAILABLE and DEADLINE_EXCEEDED become Unavailable; other codes stay etcd's error."""
    clock, client, pool = _client()
    got = _outcome(client.call("kv/range", {}))
    pool.requests[0][2].callback((503, b'{"code":%d,"message":"etcdserver: no leader"}' % code))
    assert got[0].check(Unavailable if unavailable else EtcdError)
    if not unavailable:
        assert got[0].value.code == code
    assert clock.getDelayedCalls() == []


def test_a_caller_cancelling_its_call_gets_unavailable():
    """As before: a call cancelled by its caller fails as one that timed out (Unavailable), and its request is
    given up."""
    clock, client, pool = _client()
    d = client.call("kv/range", {})
    got = _outcome(d)
    d.cancel()
    assert got[0].check(Unavailable) and pool.cancelled == [b"/v3/kv/range"]
    assert clock.getDelayedCalls() == []


def test_a_body_already_encoded_is_sent_as_it_is():
    """A request made again and again (the current-revision read) is encoded once and passed as bytes."""
    clock, client, pool = _client()
    got = _outcome(client.call("kv/range", b'{"key":"AA==","count_only":true}'))
    assert pool.requests[0][:2] == (b"/v3/kv/range", b'{"key":"AA==","count_only":true}')
    pool.requests[0][2].callback((200, b'{"header":{"revision":"3"}}'))
    assert got == [{"header": {"revision": "3"}}]


def test_the_current_revision_read_asks_etcd_for_a_count_of_one_key():
    """Etcd3Storage's current-revision read: a count-only range of the key "\\0", answered by its header's
    revision."""
    from kapiserver.storage.etcd3 import Etcd3Storage
    clock, client, pool = _client()
    storage = Etcd3Storage(["http://127.0.0.1:2379"], clock, client=client)
    got = _outcome(storage.current_revision())
    clock.advance(0)        # the turn's reads share one request, sent as the turn ends
    assert pool.requests[0][:2] == (b"/v3/kv/range", b'{"key":"AA==","count_only":true}')
    pool.requests[0][2].callback((200, b'{"header":{"revision":"42"}}'))
    assert got == [42]
