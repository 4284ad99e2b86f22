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
