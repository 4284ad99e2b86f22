"""The SQLite store's database process (kapiserver/storage/_sqlite_process.py): calls answered in order, errors
as the storage contract has them, and a process that never outlives its use."""

from __future__ import annotations

import os
import signal
import sys

import pytest
from twisted.internet import reactor

from kapiserver.storage import FutureRevision, KeyExists, Unavailable
from kapiserver.storage._sqlite_process import ENDED, DatabaseProcess


@pytest.fixture
def database(tmp_path, run):
    """A DatabaseProcess on a new file, opened; stopped at the end."""
    process = DatabaseProcess(reactor, str(tmp_path / "kapiserver.db"), "FULL")
    run(process.call("open"))
    yield process
    run(process.stop())


def test_calls_are_answered_in_the_order_made(database, run):
    """Calls made in one turn are answered in that order: a batch's outcomes (a failed precondition among them,
    as itself), and reads after it that see it."""
    batch = database.call("apply_batch", [("create", b"/a", b"1"), ("create", b"/a", b"2"),
                                          ("create", b"/b", b"3")])
    read = database.call("get", b"/a")
    revision = database.call("current_revision")
    outcomes, events = run(batch)
    assert [ok for ok, _ in outcomes] == [True, False, True]
    assert isinstance(outcomes[1][1], KeyExists) and outcomes[1][1].key == b"/a"
    assert [(e.kv.key, e.kv.value, e.kv.mod_revision) for e in events] == [(b"/a", b"1", 2), (b"/b", b"3", 3)]
    assert run(read).value == b"1"
    assert run(revision) == 3


def test_errors_cross_as_the_storage_contract_has_them(database, run):
    """A storage error raised in the process arrives as itself with its fields; anything else as Unavailable
    naming it, and the process goes on answering."""
    with pytest.raises(FutureRevision) as raised:
        run(database.call("range", b"/", 99, 0, None))
    assert (raised.value.requested, raised.value.current) == (99, 1)
    with pytest.raises(Unavailable, match="AttributeError"):
        run(database.call("no_such_method"))
    assert run(database.call("current_revision")) == 1


def test_the_process_ends_with_close_and_ignores_a_groups_signals(tmp_path, run):
    """SIGINT and SIGTERM (a terminal's Ctrl-C, a service manager's stop: sent to the whole group) leave the
    process at work; the close call ends it."""
    process = DatabaseProcess(reactor, str(tmp_path / "kapiserver.db"), "FULL")
    run(process.call("open"))
    pid = process._process.pid
    os.kill(pid, signal.SIGINT)
    os.kill(pid, signal.SIGTERM)
    assert run(process.call("current_revision")) == 1
    run(process.call("close"))
    assert run(process.stop()) == 0


def test_the_process_ends_when_its_parent_lets_go(tmp_path, run, run_until):
    """The socket closed without a close call (the apiserver gone, even by kill -9): the process ends."""
    process = DatabaseProcess(reactor, str(tmp_path / "kapiserver.db"), "FULL")
    run(process.call("open"))
    process._connection.transport.loseConnection()
    run_until(lambda: process._process.poll() is not None)
    assert run(process.stop()) == 0


def test_calls_fail_unavailable_once_the_process_is_gone(tmp_path, run, run_until):
    """The process killed: the calls waiting and every call after fail with Unavailable, and the apiserver's
    log says so once."""
    from twisted.logger import globalLogPublisher

    process = DatabaseProcess(reactor, str(tmp_path / "kapiserver.db"), "FULL")
    run(process.call("open"))
    events = []
    globalLogPublisher.addObserver(events.append)
    try:
        process._process.kill()
        waiting = process.call("current_revision")
        with pytest.raises(Unavailable, match=ENDED):
            run(waiting)
        run_until(lambda: process._connection.gone)
        with pytest.raises(Unavailable, match=ENDED):
            run(process.call("current_revision"))
        assert run(process.stop()) == -signal.SIGKILL
    finally:
        globalLogPublisher.removeObserver(events.append)
    told = [e for e in events if "database process ended" in (e.get("log_format") or "")]
    assert [e["log_level"].name for e in told] == ["error"]


def test_a_store_whose_process_cannot_start_is_unavailable(tmp_path, run, monkeypatch):
    """No interpreter to start the database process with: opening the store fails with Unavailable, saying so."""
    from kapiserver.storage.sqlite import open_sqlite

    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    with pytest.raises(Unavailable, match="cannot start the database process"):
        run(open_sqlite(str(tmp_path / "data"), reactor))
