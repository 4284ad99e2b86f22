"""kill -9 in the middle of a stream of writes loses no acknowledged write."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from twisted.internet import reactor

from kapiserver.storage.sqlite import open_sqlite

# Writes with 50 in flight and prints each acknowledged (revision, key) at
# once; bounded in count and time so it ends by itself if nobody kills it.
_WRITER = textwrap.dedent("""
    import sys, time
    from twisted.internet import defer, task
    from kapiserver.storage.sqlite import open_sqlite

    async def main(reactor, data_dir):
        store = await open_sqlite(data_dir, reactor)
        deadline = time.monotonic() + 30
        counter = iter(range(200000))

        async def writer():
            for i in counter:
                if time.monotonic() > deadline:
                    return
                key = b"/crash/%06d" % i
                rev = await store.create(key, b"x" * 100)
                sys.stdout.write("%d %s\\n" % (rev, key.decode()))
                sys.stdout.flush()

        await defer.gatherResults([defer.Deferred.fromCoroutine(writer()) for _ in range(50)])

    task.react(lambda r: defer.Deferred.fromCoroutine(main(r, sys.argv[1])))
""")


def test_kill_during_writes_keeps_every_acknowledged_write(tmp_path, run):
    """After SIGKILL mid-stream, every write the child saw acknowledged is stored at its revision, and the revisions have no holes."""
    data_dir = str(tmp_path / "data")
    child = subprocess.Popen([sys.executable, "-c", _WRITER, data_dir],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    acked = {}
    try:
        for line in child.stdout:
            rev, key = line.split()
            acked[key.encode()] = int(rev)
            if len(acked) >= 2000:
                break
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
        child.stderr.close()
    assert len(acked) >= 2000, "the writer stopped before it was killed"

    store = run(open_sqlite(data_dir, reactor))
    try:
        current = run(store.current_revision())
        stored = run(store.range(b"/crash/"))
        by_key = {kv.key: kv.mod_revision for kv in stored.kvs}
        assert all(by_key.get(key) == rev for key, rev in acked.items())
        # Only creates were written: the stored revisions are exactly 2..current.
        assert sorted(by_key.values()) == list(range(2, current + 1))
        assert run(store.create(b"/crash/after", b"1")) == current + 1
    finally:
        run(store.close())
