"""
The etcd3 backend against etcd going away: watches resume from the last
revision seen with nothing lost or repeated, calls fail fast with Unavailable
while etcd is down, and everything works again when it is back.
"""

from __future__ import annotations

import time

import pytest
from twisted.internet import reactor

from kapiserver.storage import Unavailable
from kapiserver.storage.etcd3 import Etcd3Storage


def test_watch_resumes_after_etcd_restart_without_loss_or_duplicate(etcd, run, run_until, settle):
    """A watch open across an etcd restart delivers every revision exactly once, in order."""
    storage = Etcd3Storage(etcd.urls, reactor, timeout=1.0)
    try:
        start = run(storage.current_revision())
        got = []
        storage.watch(b"/w/", start, got.append)
        for i in range(20):
            run(storage.create(b"/w/a%02d" % i, b"1"))
        run_until(lambda: len(got) == 20)
        member = etcd.members[0]
        member.stop()
        with pytest.raises(Unavailable):
            run(storage.create(b"/w/down", b"1"))
        member.start().wait_ready()
        for i in range(20):
            run(storage.create(b"/w/b%02d" % i, b"1"))
        end = run(storage.current_revision())
        run_until(lambda: len(got) >= end - start)
        settle(0.2)
        assert [e.revision for e in got] == list(range(start + 1, end + 1))
    finally:
        run(storage.close())


def test_calls_fail_fast_while_etcd_is_down_and_recover(etcd, run, run_until, settle):
    """With etcd stopped, reads, writes and the health check fail with Unavailable within the timeout; when it returns they work."""
    storage = Etcd3Storage(etcd.urls, reactor, timeout=1.0)
    try:
        run(storage.create(b"/k", b"1"))
        etcd.members[0].kill()
        began = time.monotonic()
        for d in (storage.check_health(), storage.get(b"/k"), storage.create(b"/k2", b"1"),
                  storage.range(b"/"), storage.current_revision()):
            with pytest.raises(Unavailable):
                run(d)
        assert time.monotonic() - began < 5
        etcd.members[0].start().wait_ready()
        assert run(storage.check_health()) is None
        assert run(storage.get(b"/k")).value == b"1"
    finally:
        run(storage.close())


def test_progress_notifications_advance_an_idle_watch(etcd, run, run_until, settle):
    """A watch on a quiet prefix learns of writes elsewhere through etcd's progress notifications."""
    storage = Etcd3Storage(etcd.urls, reactor)
    try:
        start = run(storage.current_revision())
        progress = []
        handle = storage.watch(b"/quiet/", start, lambda e: None, on_progress=progress.append)
        rev = run(storage.create(b"/elsewhere", b"1"))
        run_until(lambda: handle.progress_revision >= rev, timeout=5)
        assert progress and progress[-1] >= rev
    finally:
        run(storage.close())
