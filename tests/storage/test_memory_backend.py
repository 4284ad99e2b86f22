"""
What is particular to the memory backend (the contract suite covers the rest):
writes made from inside a sink keep every watcher's revisions in order, and
--storage-backend=memory serves a whole apiserver.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from twisted.internet import task

from kapiserver.config import OptionError, ServerConfig
from kapiserver.storage.memory import MemoryStorage

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def test_writes_from_inside_a_sink_reach_every_watcher_in_revision_order():
    """A sink that writes on each event does not make a later watcher see the new revision before the one being handed out."""
    clock = task.Clock()
    storage = MemoryStorage(clock)
    first, second = [], []

    def writer(event):
        first.append(event.revision)
        if event.kv.key == b"/w/a":
            storage.create(b"/w/b", b"1")

    storage.watch(b"/w/", 1, writer)
    storage.watch(b"/w/", 1, lambda event: second.append(event.revision))
    clock.advance(0)
    acked = []
    storage.create(b"/w/a", b"1").addCallback(acked.append)
    assert first == second == [2, 3] and acked == [2]


class Turns:
    """A reactor whose callLater(0, ...) calls run one turn at a time, by hand."""

    def __init__(self):
        self.calls = []

    def callLater(self, delay, fn, *args):
        self.calls.append((fn, args))

    def turn(self):
        calls, self.calls = self.calls, []
        for fn, args in calls:
            fn(*args)


def test_replay_goes_on_in_later_turns():
    """A watch replays nothing inside watch(), then its history in chunks, one per reactor turn, then goes live."""
    turns = Turns()
    storage = MemoryStorage(turns, replay_chunk=2)
    for i in range(5):
        storage.create(b"/w/%d" % i, b"1")
    got = []
    handle = storage.watch(b"/w/", 1, lambda event: got.append(event.revision))
    assert got == []
    turns.turn()
    assert got == [2, 3] and handle.progress_revision == 3
    storage.create(b"/w/late", b"1")
    turns.turn()
    assert got == [2, 3, 4, 5]
    turns.turn()
    turns.turn()
    assert got == [2, 3, 4, 5, 6, 7] and turns.calls == []
    storage.create(b"/w/live", b"1")
    assert got[-1] == 8 and handle.progress_revision == 8


def test_storage_backend_memory_flag():
    """--storage-backend=memory is accepted, and not with --etcd-servers."""
    config = ServerConfig.from_options({"storage-backend": "memory"}, choose_host=lambda: None)
    assert config.storage_backend == "memory"
    with pytest.raises(OptionError):
        ServerConfig.from_options({"storage-backend": "memory", "etcd-servers": "http://e:2379"},
                                  choose_host=lambda: None)


def test_apiserver_on_the_memory_backend(tmp_path):
    """An apiserver started with --storage-backend=memory creates, reads and lists objects."""
    from e2e.conftest import APIServerProcess
    server = APIServerProcess(tmp_path / "data", args=("--storage-backend=memory", "--secure-port=0")).start()
    try:
        status, body = server.request("POST", "/api/v1/namespaces/default/configmaps",
                                      {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"},
                                       "data": {"k": "v"}})
        assert status == 201, body
        status, listing = server.request("GET", "/api/v1/namespaces/default/configmaps")
        assert status == 200 and [item["metadata"]["name"] for item in listing["items"]] == ["cm"]
        assert server.request("GET", "/readyz")[0] == 200
        assert not (tmp_path / "data" / "kapiserver.db").exists()
    finally:
        server.stop()


def test_watchers_of_a_key_are_those_whose_prefix_it_starts_with():
    """watchers_of, which finds a key's watchers through its family (its first three segments), gives exactly
    the watchers whose prefix the key starts with, in the order they were made, for prefixes shorter than,
    equal to and longer than a family, and after watchers come and go."""
    from twisted.internet import task
    from kapiserver.storage.memory import MemoryStorage

    store = MemoryStorage(task.Clock())
    prefixes = [b"", b"/", b"/registry/", b"/registry/configmaps", b"/registry/configmaps/",
                b"/registry/configmaps/ns1/", b"/registry/configmaps/ns1/a", b"/registry/configmapsX/",
                b"/registry/pods/", b"/registry/apps/deployments/", b"/other/", b"k"]
    keys = [b"/registry/configmaps/ns1/a", b"/registry/configmaps/ns1/ab", b"/registry/configmaps/ns2/a",
            b"/registry/configmapsX/ns/a", b"/registry/pods/ns/p", b"/registry/apps/deployments/ns/d",
            b"/registry/apps/replicasets/ns/r", b"/other/x", b"k1", b"/registry/", b"/registry/configmaps/"]
    watchers = [store.watch(prefix, 0, lambda event: None) for prefix in prefixes]

    def check():
        for key in keys:
            assert store.watchers_of(key) == [w for w in store._watchers if key.startswith(w.prefix)], key
    check()
    watchers[4].cancel()
    watchers[6].cancel()
    check()
    store.watch(b"/registry/configmaps/ns2/", 0, lambda event: None)
    check()
    assert [w.prefix for w in store.watchers_of(b"/registry/configmaps/ns2/a")] == \
        [b"", b"/", b"/registry/", b"/registry/configmaps", b"/registry/configmaps/ns2/"]
