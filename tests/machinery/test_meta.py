"""machinery.meta's uid maker: the text of a random version 4 UUID, as str(uuid.uuid4()) gives."""

import re
import uuid

from kapiserver.machinery import meta


def test_new_uid_is_a_version_4_uuid_in_canonical_text():
    seen = set()
    for _ in range(2000):
        text = meta.new_uid()
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", text)
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        seen.add(text)
    assert len(seen) == 2000


def test_new_uid_variant_digits_all_occur():
    # The variant digit takes each of its four values (two random bits), as uuid4's does.
    assert {meta.new_uid()[19] for _ in range(400)} == set("89ab")


def test_new_uid_draws_its_random_bytes_in_batches_and_never_repeats_one(monkeypatch):
    drawn = []
    real = meta.os.urandom

    def urandom(n):
        drawn.append(n)
        return real(n)
    monkeypatch.setattr(meta.os, "urandom", urandom)
    meta._forget_uids()
    uids = [meta.new_uid() for _ in range(meta.UID_BATCH * 2 + 1)]
    assert drawn == [16 * meta.UID_BATCH] * 3
    assert len(set(uids)) == len(uids)


def test_a_forked_child_draws_afresh():
    import os
    meta.new_uid()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:    # the child: its next uid, then out at once
        try:
            os.write(write, meta.new_uid().encode())
        finally:
            os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert child != meta.new_uid()


def test_threads_taking_uids_together_never_share_one():
    import threading
    meta._forget_uids()
    taken: list[list[str]] = [[] for _ in range(4)]

    def take(into):
        for _ in range(meta.UID_BATCH * 3):
            into.append(meta.new_uid())
    threads = [threading.Thread(target=take, args=(into,)) for into in taken]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [u for into in taken for u in into]
    assert len(every) == len(set(every)) == 4 * meta.UID_BATCH * 3
