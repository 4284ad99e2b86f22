"""
The etcd3 backend's compact() at the bottom of etcd's history: on a fresh etcd
(revision 1) compacting again at the compaction point is the same no-op as at
any other revision.  The apiserver's compactor compacts at the revision of its
previous run, which stays 1 on a cluster nothing has written to yet (an
--etcd-servers-overrides cluster just after start).
"""

from __future__ import annotations

import pytest
from twisted.internet import reactor

from kapiserver.storage import RevisionCompacted
from kapiserver.storage.etcd3 import Etcd3Storage


def test_compacting_again_at_revision_one_is_a_no_op(etcd, run):
    """compact(1) twice on a fresh etcd: the second is a no-op, as at any compaction point; once etcd is
    compacted further, compact(1) is RevisionCompacted naming that point."""
    storage = Etcd3Storage(etcd.urls, reactor, timeout=5.0)
    try:
        assert run(storage.current_revision()) == 1
        run(storage.compact(1))
        run(storage.compact(1))
        revision = run(storage.create(b"/c/a", b"1"))
        run(storage.compact(revision))
        with pytest.raises(RevisionCompacted) as e:
            run(storage.compact(1))
        assert e.value.compact_revision == revision
    finally:
        run(storage.close())
