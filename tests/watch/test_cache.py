"""The sans-IO watch cache core: no reactor, events and `now` in, deliveries out."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from kapiserver.machinery.errors import StatusError
from kapiserver.machinery.selectors import parse_field_selector, parse_label_selector
from kapiserver.watch.cache import DELETE, PUT, Filter, WatchCache


def fields(obj):
    return {"metadata.name": obj["metadata"]["name"], "metadata.namespace": obj["metadata"].get("namespace", ""),
            "status.phase": (obj.get("status") or {}).get("phase", "")}


def pod(name, rv, labels=None, phase="Pending", namespace="default"):
    meta = {"name": name, "namespace": namespace, "resourceVersion": str(rv)}
    if labels:
        meta["labels"] = labels
    return {"kind": "Pod", "metadata": meta, "status": {"phase": phase}}


def key(name, namespace="default"):
    return f"/registry/pods/{namespace}/{name}".encode()


class Encoding:
    """Deliveries as (type, name, rv) tuples; counts how often it encoded."""

    def __init__(self, key="plain"):
        self.key = key
        self.calls = 0

    def event(self, event_type, obj):
        self.calls += 1
        return (event_type, obj["metadata"]["name"], int(obj["metadata"]["resourceVersion"]))

    def bookmark(self, revision, end):
        return ("BOOKMARK", "end" if end else "", revision)


def filled(capacity=10, **kw):
    cache = WatchCache(capacity, fields, **kw)
    cache.replace([(key("a"), pod("a", 3), 3), (key("b"), pod("b", 5), 5)], 5)
    return cache


def put(cache, name, rv, now=0.0, **kw):
    return cache.apply(PUT, key(name, kw.get("namespace", "default")), pod(name, rv, **kw), rv, now)


def test_list_returns_objects_in_key_order_at_cache_revision():
    """A list answers the current objects under the prefix in key order, with the cache's revision."""
    cache = filled()
    put(cache, "0", 6, namespace="other")
    items, revision = cache.list(b"/registry/pods/default/")
    assert [i["metadata"]["name"] for i in items] == ["a", "b"]
    assert revision == 6
    assert [i["metadata"]["name"] for i in cache.list(b"/registry/pods/")[0]] == ["a", "b", "0"]


def test_watch_without_rv_sends_current_objects_then_initial_events_end_bookmark():
    """A watch without rv queues ADDED for each current object, then the initial-events-end BOOKMARK."""
    cache = filled()
    w = cache.watch(b"/registry/pods/", None, Filter(), Encoding(), 0.0, initial_events_end=True)
    assert cache.take(w) == [("ADDED", "a", 3), ("ADDED", "b", 5), ("BOOKMARK", "end", 5)]
    put(cache, "a", 6)
    assert cache.take(w) == [("MODIFIED", "a", 6)]


def test_watch_from_rv_replays_window_after_it():
    """A watch from rv gets exactly the window's events after rv, then live ones."""
    cache = filled()
    put(cache, "a", 6)
    put(cache, "c", 7)
    w = cache.watch(b"/registry/pods/", 6, Filter(), Encoding(), 0.0)
    assert cache.take(w) == [("ADDED", "c", 7)]
    cache.apply(DELETE, key("c"), None, 8, 0.0)
    assert cache.take(w) == [("DELETED", "c", 8)]


def test_too_old_rv_is_410_with_upstream_message():
    """A watch from before the window start fails with 410 Expired 'too old resource version: X (Y)'."""
    cache = filled(capacity=2, fresh_seconds=0)
    for rv in (6, 7, 8):
        put(cache, "a", rv, now=100.0)
    assert cache.window_start == 6
    with pytest.raises(StatusError) as e:
        cache.watch(b"/registry/pods/", 5, Filter(), Encoding(), 0.0)
    assert (e.value.code, e.value.reason) == (410, "Expired")
    assert str(e.value) == "too old resource version: 5 (6)"
    cache.watch(b"/registry/pods/", 6, Filter(), Encoding(), 0.0)


def test_window_keeps_fresh_events_beyond_capacity():
    """Events younger than fresh_seconds stay in the window even past its capacity."""
    cache = filled(capacity=2, fresh_seconds=75)
    for rv in (6, 7, 8, 9):
        put(cache, "a", rv, now=10.0)
    assert len(cache.window) == 4 and cache.window_start == 5
    put(cache, "a", 10, now=100.0)
    assert len(cache.window) == 2 and cache.window_start == 8


def test_selector_transitions_added_and_deleted():
    """An object that starts matching arrives as ADDED; one that stops matching as DELETED with the old object."""
    cache = filled()
    flt = Filter(parse_label_selector("app=web"))
    w = cache.watch(b"/registry/pods/", 5, flt, Encoding(), 0.0)
    put(cache, "a", 6, labels={"app": "web"})
    put(cache, "a", 7, labels={"app": "web"}, phase="Running")
    put(cache, "a", 8, labels={"app": "db"})
    put(cache, "b", 9, labels={"app": "db"})
    assert cache.take(w) == [("ADDED", "a", 6), ("MODIFIED", "a", 7), ("DELETED", "a", 8)]


def test_field_selector_filters_and_fields_computed_once_per_event():
    """Field selectors filter by the strategy's field set, worked out once per object version."""
    calls = []

    def counting(obj):
        calls.append(obj["metadata"]["name"])
        return fields(obj)
    cache = WatchCache(10, counting)
    cache.replace([], 1)
    watchers = [cache.watch(b"/registry/pods/", 1, Filter(None, parse_field_selector("status.phase=Running")),
                            Encoding(), 0.0) for _ in range(5)]
    put(cache, "a", 2, phase="Running")
    assert all(cache.take(w) == [("ADDED", "a", 2)] for w in watchers)
    assert calls == ["a"]


def test_a_selector_naming_the_object_refuses_other_keys_without_their_fields():
    """metadata.name=N passes only the object named N (its key ends in /N): other objects are refused
    without working out their fields; the one named N is then checked in full (its other terms too)."""
    calls = []

    def counting(obj):
        calls.append(obj["metadata"]["name"])
        return fields(obj)
    cache = WatchCache(10, counting)
    cache.replace([], 1)
    by_name = cache.watch(b"/registry/pods/", 1, Filter(None, parse_field_selector("metadata.name=a")),
                          Encoding(), 0.0)
    running = cache.watch(b"/registry/pods/", 1,
                          Filter(None, parse_field_selector("metadata.name=a,status.phase=Running")), Encoding(), 0.0)
    put(cache, "ba", 2)                 # its key ends in "a", not in "/a"
    put(cache, "b", 3)
    put(cache, "a", 4, namespace="other")
    put(cache, "a", 5, phase="Running")
    assert cache.take(by_name) == [("ADDED", "a", 4), ("ADDED", "a", 5)]
    assert cache.take(running) == [("ADDED", "a", 5)]
    assert "b" not in calls and "ba" not in calls
    items, _ = cache.list(b"/registry/pods/", Filter(None, parse_field_selector("metadata.name=a")))
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in items] == [("default", "a"), ("other", "a")]
    items, _ = cache.list(b"/registry/pods/", Filter(None, parse_field_selector("metadata.name!=a")))
    assert [i["metadata"]["name"] for i in items] == ["b", "ba"]


def test_event_encoded_once_for_all_watchers_with_same_encoding_key():
    """Each event is encoded once per encoding key; every watcher gets the very same payload object."""
    cache = filled()
    shared = Encoding()
    watchers = [cache.watch(b"/registry/pods/", 5, Filter(), shared, 0.0) for _ in range(50)]
    put(cache, "a", 6)
    payloads = [cache.take(w)[0] for w in watchers]
    assert shared.calls == 1
    assert all(p is payloads[0] for p in payloads)


def test_initial_events_encoded_once_per_object_for_all_watchers():
    """The initial ADDED of each object is encoded once per encoding key, however many watchers start."""
    cache = filled()
    shared = Encoding()
    watchers = [cache.watch(b"/registry/pods/", None, Filter(), shared, 0.0) for _ in range(20)]
    assert shared.calls == 2
    assert all(cache.take(w) == [("ADDED", "a", 3), ("ADDED", "b", 5)] for w in watchers)


def test_unshared_encoding_encodes_per_watcher():
    """An encoding whose key is None encodes for its watcher alone."""
    cache = filled()
    e1, e2 = Encoding(None), Encoding(None)
    w1 = cache.watch(b"/registry/pods/", 5, Filter(), e1, 0.0)
    w2 = cache.watch(b"/registry/pods/", 5, Filter(), e2, 0.0)
    put(cache, "a", 6)
    assert cache.take(w1) == cache.take(w2) and (e1.calls, e2.calls) == (1, 1)


def test_slow_watcher_closed_without_affecting_others():
    """A watcher whose queue passes the bound is closed with its delivered rv intact; others keep going."""
    cache = filled(max_pending_events=3)
    slow = cache.watch(b"/registry/pods/", 5, Filter(), Encoding(), 0.0)
    fast = cache.watch(b"/registry/pods/", 5, Filter(), Encoding(), 0.0)
    put(cache, "a", 6)
    assert cache.take(slow) == cache.take(fast) == [("MODIFIED", "a", 6)]
    for rv in range(7, 12):
        put(cache, "a", rv)
        assert cache.take(fast) == [("MODIFIED", "a", rv)]
    assert slow.closed and slow.delivered_rv == 6 and not fast.closed
    assert slow not in cache.watchers
    resumed = cache.watch(b"/registry/pods/", slow.delivered_rv, Filter(), Encoding(), 0.0)
    assert [e[2] for e in cache.take(resumed)] == [7, 8, 9, 10, 11]


def test_bookmarks_every_interval_never_before_pending_events():
    """Bookmarks come once per interval to watchers that asked, queued after every event they cover."""
    cache = filled(bookmark_interval=60)
    w = cache.watch(b"/registry/pods/", 5, Filter(), Encoding(), 0.0, allow_bookmarks=True)
    other = cache.watch(b"/registry/pods/", 5, Filter(), Encoding(), 0.0)
    assert cache.bookmarks(30.0) == []
    put(cache, "a", 6)
    assert cache.bookmarks(61.0) == [w]
    assert cache.take(w) == [("MODIFIED", "a", 6), ("BOOKMARK", "", 6)]
    assert cache.take(other) == [("MODIFIED", "a", 6)]
    cache.progress(9)
    assert cache.bookmarks(100.0) == []
    cache.bookmarks(122.0)
    assert cache.take(w) == [("BOOKMARK", "", 9)]


def test_future_rv_watch_waits_for_later_events():
    """A watch from a revision the cache has not reached gets only the events after it."""
    cache = filled()
    w = cache.watch(b"/registry/pods/", 7, Filter(), Encoding(), 0.0, allow_bookmarks=True)
    put(cache, "a", 6)
    put(cache, "a", 7)
    assert cache.bookmarks(1000.0) == [w]
    put(cache, "a", 8)
    assert cache.take(w) == [("BOOKMARK", "", 7), ("MODIFIED", "a", 8)]


def test_replace_closes_every_watcher():
    """A re-list swaps the state in and closes every watcher so its client resumes."""
    cache = filled()
    w = cache.watch(b"/registry/pods/", 5, Filter(), Encoding(), 0.0)
    closed = cache.replace([(key("z"), pod("z", 20), 20)], 20)
    assert closed == [w] and w.closed and cache.window_start == 20
    assert [i["metadata"]["name"] for i in cache.list(b"/registry/pods/")[0]] == ["z"]


def test_out_of_order_event_is_refused():
    """An event not after the cache's revision is a feeder bug and is refused."""
    cache = filled()
    with pytest.raises(ValueError):
        put(cache, "a", 5)


# -- property: every event exactly once, in order, to every watcher resuming from a delivered rv ----------

ops = st.lists(st.one_of(
    st.tuples(st.just("put"), st.sampled_from("abcd"), st.sampled_from(["web", "db"])),
    st.tuples(st.just("delete"), st.sampled_from("abcd"), st.none()),
    st.tuples(st.just("watch"), st.integers(0, 10), st.sampled_from(["", "app=web"])),
    st.tuples(st.just("take"), st.integers(0, 10), st.none()),
    st.tuples(st.just("resume"), st.integers(0, 10), st.none()),
    st.tuples(st.just("tick"), st.integers(1, 100), st.none()),
), max_size=80)


@settings(max_examples=150, deadline=None)
@given(ops, st.integers(1, 6), st.integers(2, 8))
def test_any_interleaving_delivers_each_event_once_in_order(script, capacity, bound):
    """Any interleaving of writes, watches, takes and resumes delivers, to each watcher, exactly the
    events after its start rv that its selector sees, once, in revision order (or a 410 / a close)."""
    cache = WatchCache(capacity, fields, fresh_seconds=0, max_pending_events=bound)
    cache.replace([], 1)
    log = []                 # (revision, key, new labels or None, old labels or None)
    live = {}                # key -> labels
    revision, now = 1, 0.0
    watchers = []            # [watcher, selector text, start rv, received]

    def expected(start, selector):
        out = []
        flt = parse_label_selector(selector)
        for rev, name, new, old in log:
            if rev <= start:
                continue
            new_ok = new is not None and flt.matches(new)
            old_ok = old is not None and flt.matches(old)
            if new_ok:
                out.append(("MODIFIED" if old_ok else "ADDED", name, rev))
            elif old_ok:
                out.append(("DELETED", name, rev))
        return out

    def start_watch(rv, selector):
        try:
            w = cache.watch(b"/registry/pods/", rv, Filter(parse_label_selector(selector)), Encoding(selector),
                            now)
        except StatusError as e:
            assert e.code == 410 and rv < cache.window_start
            return
        watchers.append([w, selector, rv, []])

    for op, a, b in script:
        if op == "put":
            revision += 1
            old = live.get(a)
            live[a] = {"app": b}
            log.append((revision, a, live[a], old))
            cache.apply(PUT, key(a), pod(a, revision, labels=live[a]), revision, now)
        elif op == "delete":
            if a not in live:
                continue
            revision += 1
            log.append((revision, a, None, live.pop(a)))
            cache.apply(DELETE, key(a), None, revision, now)
        elif op == "watch":
            start_watch(min(a, revision), b)
        elif op == "take" and watchers:
            w = watchers[a % len(watchers)]
            w[3].extend(cache.take(w[0]))
        elif op == "resume" and watchers:
            w, selector, _, received = watchers[a % len(watchers)]
            received.extend(cache.take(w))
            start_watch(w.delivered_rv, selector)
        elif op == "tick":
            now += a
    for w, selector, start, received in watchers:
        received.extend(cache.take(w))
        want = expected(start, selector)
        if w.closed:
            assert received == want[:len(received)]
            assert w.delivered_rv == (received[-1][2] if received else start)
        else:
            assert received == want


def test_encoded_list_splices_the_same_bytes_as_encoding_the_whole_list():
    """A list document spliced from per-object cached bytes equals encoding the whole list at once."""
    from kapiserver.endpoints import render
    from kapiserver.machinery import codec

    class Info:
        list_kind, api_version = "PodList", "v1"

    class Store:
        info = Info()
        builtin = True
    cache = filled()
    put(cache, "c<&>\u2028", 6, labels={"x": "é"})
    for prefix in (b"/registry/pods/", b"/registry/nothing/"):
        items, revision = cache.list(prefix)
        meta = {"resourceVersion": str(revision)}
        assert render.encoded_list(Store(), items, meta) == codec.encode(render.list_object(Store(), items, meta))
        Store.builtin = False
        assert render.encoded_list(Store(), items, meta) == codec.encode(render.list_object(Store(), items, meta))
        Store.builtin = True


def test_unfiltered_list_is_shared_until_the_next_change():
    """Two unfiltered lists with no change between them are the same object; a change makes a new one."""
    cache = filled()
    first, _ = cache.list(b"/registry/pods/")
    assert cache.list(b"/registry/pods/")[0] is first
    put(cache, "a", 6)
    second, revision = cache.list(b"/registry/pods/")
    assert second is not first and revision == 6
    assert [i["metadata"]["resourceVersion"] for i in second] == ["6", "5"]


def test_superseded_versions_keep_bytes_not_objects_and_still_serve_late_watchers():
    """A version a newer one replaced is kept in the window as its JSON, labels and fields (no decoded object);
    a watcher starting before it, with a label or field selector, still gets the right transitions and objects,
    the DELETE carrying the last state."""
    cache = filled()
    put(cache, "a", 6, labels={"app": "x"}, phase="Running")
    put(cache, "a", 7, labels={"app": "y"}, phase="Running")
    cache.apply(DELETE, key("a"), None, 8, 0.0)
    superseded = [event.new for event in cache.window if event.new is not None]
    assert superseded and all(entry._obj is None for entry in superseded)
    labelled = cache.watch(b"/registry/pods/", 5, Filter(parse_label_selector("app=x")), Encoding(), 0.0)
    assert labelled.take() == [("ADDED", "a", 6), ("DELETED", "a", 7)]
    running = cache.watch(b"/registry/pods/", 5, Filter(None, parse_field_selector("status.phase=Running")),
                          Encoding("running"), 0.0)
    assert running.take() == [("ADDED", "a", 6), ("MODIFIED", "a", 7), ("DELETED", "a", 8)]
    assert next(e for e in cache.window if e.revision == 7).new.obj["metadata"]["labels"] == {"app": "y"}


class SplicingEncoding(Encoding):
    """A JSON watch's encoding: events spliced from the entry's JSON (counted), never from the dict."""

    splices = True

    def __init__(self):
        super().__init__("json")
        self.spliced = 0

    def event_encoded(self, event_type, encoded):
        self.spliced += 1
        return (event_type, encoded)


def test_a_put_given_as_json_reaches_every_watcher_as_a_decoded_one_does(monkeypatch):
    """apply with the new object's JSON: the same deliveries (selected by labels and fields, encoded from the
    dict or spliced from the JSON) and the same cache as with the dict; decoded at most once, and not at all
    when nothing needs the dict."""
    import copy

    from kapiserver.machinery import codec
    from kapiserver.watch import cache as cache_module

    def world():
        cache = filled()
        watchers = [
            (cache.watch(b"/registry/pods/", 5, Filter(), enc, 0.0), enc)
            for enc in (Encoding(), SplicingEncoding())
        ] + [
            (cache.watch(b"/registry/pods/", 5, Filter(label_selector=parse_label_selector("app=x")), Encoding(),
                         0.0), None),
            (cache.watch(b"/registry/pods/", 5, Filter(field_selector=parse_field_selector("status.phase=Running")),
                         Encoding(), 0.0), None),
        ]
        return cache, watchers

    events = [("a", 6, {"app": "x"}, "Running"), ("c", 7, None, "Pending"), ("a", 8, {"app": "y"}, "Running")]
    plain, plain_watchers = world()
    spliced, spliced_watchers = world()
    loads = []
    real_loads = codec.loads
    monkeypatch.setattr(cache_module.codec, "loads", lambda data: loads.append(1) or real_loads(data))
    for name, rv, labels, phase in events:
        obj = pod(name, rv, labels=labels, phase=phase)
        before = len(loads)
        plain.apply(PUT, key(name), copy.deepcopy(obj), rv, 0.0)
        plain_loads, before = len(loads) - before, len(loads)     # (of the old object, by the selectors)
        spliced.apply(PUT, key(name), None, rv, 0.0, codec.dumps(obj))
        assert len(loads) - before <= plain_loads + 1
    for (a, _), (b, _) in zip(plain_watchers, spliced_watchers):
        assert b.take() == a.take()
    assert [e.obj for e in spliced.entries(b"/registry/pods/")[0].entries] == \
        [e.obj for e in plain.entries(b"/registry/pods/")[0].entries]
    assert spliced.entry(key("a")).labels == {"app": "y"}
    # Only a JSON watcher: nothing decoded.
    cache = filled()
    encoding = SplicingEncoding()
    watcher = cache.watch(b"/registry/pods/", 5, Filter(), encoding, 0.0)
    loads.clear()
    cache.apply(PUT, key("d"), None, 6, 0.0, codec.dumps(pod("d", 6)))
    assert loads == [] and encoding.spliced == 1 and len(watcher.take()) == 1


def test_a_lists_document_is_kept_per_head_until_the_cache_changes(monkeypatch):
    """An unfiltered list's document is made once per head (the revision in it may move without a change) and
    shared; a change makes a new list; a document past JOINED_KEPT_BYTES is made for each request."""
    import json

    from kapiserver.watch import cache as cache_module

    cache = filled()
    entries, _ = cache.entries(b"/registry/pods/default/")
    first = entries.document(False, b'{"kind":"PodList","metadata":{"resourceVersion":"5"}}')
    assert [i["metadata"]["name"] for i in json.loads(first)["items"]] == ["a", "b"] and first.endswith(b"]}\n")
    assert entries.document(False, b'{"kind":"PodList","metadata":{"resourceVersion":"5"}}') is first
    moved = entries.document(False, b'{"kind":"PodList","metadata":{"resourceVersion":"6"}}')
    assert moved is not first and json.loads(moved)["metadata"] == {"resourceVersion": "6"}
    assert cache.entries(b"/registry/pods/default/")[0] is entries
    put(cache, "c", 7)
    changed, _ = cache.entries(b"/registry/pods/default/")
    assert changed is not entries and len(json.loads(changed.document(False, b'{"metadata":{}}'))["items"]) == 3

    monkeypatch.setattr(cache_module, "JOINED_KEPT_BYTES", 10)
    big = changed.document(True, b'{"metadata":{}}')
    assert changed.document(True, b'{"metadata":{}}') == big and changed.document(True, b'{"metadata":{}}') is not big
