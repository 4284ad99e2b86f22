"""Container logs as a kubelet keeps them: per-line timestamps, tail, since, limitBytes and followers."""

import time

from kapiserver.node.logstore import ContainerLog, LogOptions, parse_stamp, read_records


def test_lines_are_stamped_and_partial_lines_kept_until_close(tmp_path):
    """Each line gets an RFC 3339 nano timestamp; a last line without a newline is kept at close."""
    log = ContainerLog(str(tmp_path / "c-0.log"))
    log.write(b"one\ntw")
    log.write(b"o\nthree")
    log.close()
    records = read_records(log.path)
    assert [r.split(b" ", 1)[1] for r in records] == [b"one\n", b"two\n", b"three"]
    assert abs(parse_stamp(records[0].split(b" ")[0].decode()) - time.time()) < 5


def test_options_select_and_render(tmp_path):
    """tailLines keeps the last lines, sinceSeconds drops old ones, timestamps keeps the stamp."""
    old = b"2020-01-01T00:00:00.000000000Z old\n"
    new = b"%s new\n" % time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime()).encode()
    records = [old, new]
    assert LogOptions(tail_lines=1).select(records, time.time()) == [new]
    assert LogOptions(tail_lines=0).select(records, time.time()) == []
    assert LogOptions(since_seconds=60).select(records, time.time()) == [new]
    assert LogOptions().render(old) == b"old\n"
    assert LogOptions(timestamps=True).render(old) == old


def test_followers_see_new_lines_and_the_end(tmp_path):
    """A follower receives each new record and is told when the container's log ends."""
    log = ContainerLog(str(tmp_path / "c-0.log"))
    seen, ended = [], []
    stop = log.follow(seen.append, lambda: ended.append(True))
    log.write(b"a\n")
    log.close()
    assert [s.split(b" ", 1)[1] for s in seen] == [b"a\n"] and ended == [True]
    stop()


def test_a_new_instance_log_does_not_keep_an_old_files_lines(tmp_path):
    """A log opened where an earlier instance of the same number wrote (kube-node restarted) starts empty."""
    path = str(tmp_path / "c-1.log")
    old = ContainerLog(path)
    old.write(b"old\n")
    old.close()
    new = ContainerLog(path)
    new.write(b"new\n")
    new.close()
    assert [r.split(b" ", 1)[1] for r in read_records(new.path)] == [b"new\n"]


class _QueuedPool:
    """A clock whose thread pool runs nothing until told: each job, and its answer, when ``run_one`` is called."""

    def __init__(self):
        self.jobs = []

    def getThreadPool(self):
        return self

    def callInThreadWithCallback(self, on_result, fn, *args, **kwargs):
        self.jobs.append((on_result, fn, args, kwargs))

    def callFromThread(self, fn, *args, **kwargs):
        fn(*args, **kwargs)

    def run_one(self):
        on_result, fn, args, kwargs = self.jobs.pop(0)
        on_result(True, fn(*args, **kwargs))


def test_the_file_is_opened_written_and_closed_in_the_pool_one_operation_at_a_time(tmp_path):
    """Nothing touches the file on the reactor thread: the open, each write (every record stamped since the last
    one, together) and the close are pool jobs, one at a time; followers get records at once, and flushed() fires
    once the file holds what was logged when it was asked."""
    pool = _QueuedPool()
    path = tmp_path / "c-0.log"
    log = ContainerLog(str(path), pool)
    seen = []
    log.follow(seen.append, lambda: None)
    log.write(b"one\ntwo\n")
    assert not path.exists() and len(pool.jobs) == 1 and len(seen) == 2     # only the open is queued
    flushed = []
    log.flushed().addCallback(flushed.append)
    pool.run_one()                  # opened: the two records go in one write
    assert path.read_bytes() == b"" and len(pool.jobs) == 1 and not flushed
    log.write(b"three\n")
    assert len(pool.jobs) == 1      # waits for the write under way
    pool.run_one()
    assert [r.split(b" ", 1)[1] for r in read_records(str(path))] == [b"one\n", b"two\n"] and flushed == [None]
    log.close()
    pool.run_one()                  # three
    assert len(pool.jobs) == 1      # then the close
    pool.run_one()
    assert not pool.jobs and log._file is None
    assert [r.split(b" ", 1)[1] for r in read_records(str(path))] == [b"one\n", b"two\n", b"three\n"]
    assert log.size == path.stat().st_size


def test_the_tail_for_a_termination_message_comes_from_memory_before_the_file_has_it(tmp_path):
    """FallbackToLogsOnError's message is made at the container's exit, when the pool may not have written its
    last lines yet: the log keeps its last records."""
    pool = _QueuedPool()
    log = ContainerLog(str(tmp_path / "c-0.log"), pool)
    log.write(b"".join(b"line %d\n" % i for i in range(100)) + b"DONE")
    log.close()
    assert (tmp_path / "c-0.log").exists() is False          # nothing on disk yet
    assert log.tail(2, 2048) == b"line 99\nDONE"
    assert log.tail(80, 12) == b"line 99\nDONE"[-12:]
    assert log.tail(200, 10_000).count(b"\n") == 79           # at most the last 80 records
