"""One read path: a store without a watch cache serves watches through the same response, typing,
bookmarks and errors as a cached one (its StorageReader behind the reads interface)."""

from __future__ import annotations

import base64
import json

from twisted.internet import task
from twisted.internet.defer import Deferred, succeed

from kapiserver.endpoints.negotiation import Representation
from kapiserver.endpoints.watch import serve_watch
from kapiserver.machinery.selectors import parse_label_selector
from kapiserver.registry.options import ListOptions
from kapiserver.registry.registry import Registry
from kapiserver.storage import Compacted
from kapiserver.watch.cacher import Cacher
from kapiserver.watch.reader import StorageReader

from .test_cacher import PREFIX, FakeStorage, cm, result
from .test_http_watch import Context, FakeRequest


def configmaps(storage, clock, watch_cache: bool):
    return Registry(storage, clock, watch_cache=watch_cache).store("", "v1", "configmaps")


def http_watch(store, clock, **options):
    request = FakeRequest()
    Deferred.fromCoroutine(serve_watch(Context(clock), request, store, "default",
                                       ListOptions(timeout_seconds=600, **options),
                                       Representation("application/json")))
    clock.advance(0)
    return request


def summary(request):
    return [(e["type"], e["object"]["metadata"].get("name"), e["object"]["metadata"]["resourceVersion"])
            for e in request.events()]


def test_store_reads_through_the_cache_or_a_storage_reader():
    """With a watch cache the store reads through it (and it through its StorageReader); without, storage's reader."""
    storage, clock = FakeStorage(), task.Clock()
    cached, direct = configmaps(storage, clock, True), configmaps(storage, clock, False)
    assert isinstance(cached.reads, Cacher) and isinstance(cached.reads.reader, StorageReader)
    assert isinstance(direct.reads, StorageReader)


def test_uncached_watch_types_events_for_its_selector_as_the_cache_does():
    """An object that stops matching the selector is DELETED (as it last matched, at the event's revision);
    one that starts matching is ADDED; the initial list comes first."""
    storage, clock = FakeStorage(), task.Clock()
    storage.write("a", dict(cm("a"), metadata={"name": "a", "namespace": "default", "labels": {"app": "x"}}))
    storage.write("b", cm("b"))
    store = configmaps(storage, clock, False)
    request = http_watch(store, clock, label_selector=parse_label_selector("app=x"))
    storage.write("a", cm("a", "unlabelled"))
    storage.write("b", dict(cm("b"), metadata={"name": "b", "namespace": "default", "labels": {"app": "x"}}))
    clock.advance(0)
    assert request.code == 200
    assert summary(request) == [("ADDED", "a", "2"), ("DELETED", "a", "4"), ("ADDED", "b", "5")]
    assert request.events()[1]["object"]["metadata"]["labels"] == {"app": "x"}


def test_uncached_watch_sends_initial_events_end_and_periodic_bookmarks():
    """sendInitialEvents with bookmarks ends the initial events with the annotated BOOKMARK; then a BOOKMARK
    about every minute at the newest revision the watch has seen."""
    storage, clock = FakeStorage(), task.Clock()
    storage.write("a", cm("a"))
    store = configmaps(storage, clock, False)
    request = http_watch(store, clock, send_initial_events=True, allow_bookmarks=True,
                         resource_version_match="NotOlderThan")
    storage.write("b", cm("b"))
    clock.advance(0)
    events = request.events()
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK", "ADDED"]
    assert events[1]["object"] == {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {
        "resourceVersion": "2", "creationTimestamp": None, "annotations": {
            "k8s.io/initial-events-end": "true", "kubernetes.io/initial-events-list-blueprint": base64.b64encode(
                b'{"kind":"ConfigMapList","apiVersion":"v1","metadata":{},"items":null}\n').decode()}}}
    clock.pump([1.0] * 61)
    assert request.events()[3] == {"type": "BOOKMARK", "object": {
        "kind": "ConfigMap", "apiVersion": "v1", "metadata": {"resourceVersion": "3", "creationTimestamp": None}}}
    assert not request.finished


def bookmark_times(store, clock, timeout_seconds, representation=Representation("application/json"), seconds=None):
    """The clock's times at which a watch (from storage's revision, asking for bookmarks) got an event, until its
    timeout ended it."""
    request = FakeRequest()
    Deferred.fromCoroutine(serve_watch(Context(clock), request, store, "default",
                                       ListOptions(resource_version=str(store.storage.revision),
                                                   allow_bookmarks=True, timeout_seconds=timeout_seconds),
                                       representation))
    clock.advance(0)
    times, seen = [], 0
    for _ in range(int(seconds or timeout_seconds) * 4 + 8):
        clock.advance(0.25)
        events = request.events()
        times += [clock.seconds()] * (len(events) - seen)
        seen = len(events)
    return request, times


def test_a_bookmark_goes_out_just_before_the_timeout():
    """Upstream's cacher sends a watch that asked for bookmarks one 2 s before its deadline (within the bookmark
    ticker's second) as well as every minute, so that its client resumes from as late a revision as it can; one
    whose timeout is shorter than that gets none. Cached and uncached alike."""
    for watch_cache in (True, False):
        storage, clock = FakeStorage(), task.Clock()
        storage.write("a", cm("a"))
        store = configmaps(storage, clock, watch_cache)
        request, times = bookmark_times(store, clock, 10)
        assert request.finished
        assert [e["type"] for e in request.events()] == ["BOOKMARK"]
        assert 8 <= times[0] < 9, times
        request, times = bookmark_times(store, clock, 150)
        assert request.finished
        assert [round(t - clock.seconds() + 152) for t in times] in ([60, 120, 148], [61, 121, 148]), times
        request, times = bookmark_times(store, clock, 1)
        assert request.finished and request.events() == []


def test_a_metadata_watch_bookmark_is_partial_object_metadata():
    """Every event of a PartialObjectMetadata watch is one, its bookmarks too (a metadata informer's decoder knows
    no other kind); an empty ObjectMeta's creationTimestamp is null."""
    storage, clock = FakeStorage(), task.Clock()
    storage.write("a", cm("a"))
    store = configmaps(storage, clock, True)
    request, _ = bookmark_times(store, clock, 10, Representation("application/json", "PartialObjectMetadata"))
    # The stream itself is JSON, whatever its events embed (upstream's watch handler names the stream's type).
    assert request.responseHeaders.getRawHeaders(b"content-type") == [b"application/json"]
    assert request.events() == [{"type": "BOOKMARK", "object": {
        "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": "2", "creationTimestamp": None}}}]


def test_uncached_watch_tells_a_compaction_as_410_and_ends():
    """Storage compacting the revisions a direct watch needs ends it with an ERROR event: 410 Expired."""
    storage, clock = FakeStorage(), task.Clock()
    store = configmaps(storage, clock, False)
    request = http_watch(store, clock, resource_version="1")
    (_, sink), = storage.watches
    sink(Compacted(7))
    events = request.events()
    assert request.finished and storage.watches == []
    assert events == [{"type": "ERROR", "object": {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "too old resource version: 1 (7)", "reason": "Expired", "code": 410}}]


def test_a_negative_timeout_ends_the_watch_at_once():
    """Only an unset or 0 timeoutSeconds takes the server's own timeout; upstream's timer for a negative one fires
    at once (it ran for half an hour or more here)."""
    for watch_cache in (True, False):
        storage, clock = FakeStorage(), task.Clock()
        store = configmaps(storage, clock, watch_cache)
        request = FakeRequest()
        Deferred.fromCoroutine(serve_watch(Context(clock), request, store, "default",
                                           ListOptions(resource_version="1", timeout_seconds=-1),
                                           Representation("application/json")))
        clock.advance(0)
        assert request.code == 200 and request.finished


def test_uncached_watch_ends_at_its_timeout_and_cancels_the_storage_watch():
    storage, clock = FakeStorage(), task.Clock()
    store = configmaps(storage, clock, False)
    request = FakeRequest()
    Deferred.fromCoroutine(serve_watch(Context(clock), request, store, "default",
                                       ListOptions(resource_version="1", timeout_seconds=5),
                                       Representation("application/json")))
    clock.advance(0)
    assert len(storage.watches) == 1 and not request.finished
    clock.advance(5)
    assert request.finished and storage.watches == []


def test_in_process_watchers_use_the_same_watch():
    """Store.watch_events (the controllers' watch) hands (type, object) pairs from either read path."""
    for watch_cache in (True, False):
        storage, clock = FakeStorage(), task.Clock()
        storage.write("a", cm("a"))
        store = configmaps(storage, clock, watch_cache)
        got = []
        handle = result(Deferred.fromCoroutine(store.watch_events(
            "default", ListOptions(), lambda t, o: got.append((t, o["metadata"]["name"])))))
        clock.advance(0)
        storage.write("a", None)
        assert got == [("ADDED", "a"), ("DELETED", "a")], watch_cache
        handle.cancel()
        storage.write("b", cm("b"))
        assert got == [("ADDED", "a"), ("DELETED", "a")], watch_cache


def test_get_encoded_is_the_cached_objects_json_as_get_encodes_it():
    """A plain JSON GET served from the cache answers the object's cached bytes: exactly what encoding the
    object get() returns gives (escapes, numbers, key order), but for the newline; a missing object is a
    404; a store without a cache has no bytes to offer (get() answers)."""
    from kapiserver.machinery import codec
    from kapiserver.machinery.errors import StatusError
    from kapiserver.storage.memory import MemoryStorage

    clock = task.Clock()
    storage = MemoryStorage(clock)
    cached, direct = configmaps(storage, clock, True), configmaps(storage, clock, False)
    cached.reads.start()
    clock.advance(0)
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "annotations": {"x": "<&>"}},
           "data": {"v": "a\u2028b <b>", "n": "1.5"}}
    result(Deferred.fromCoroutine(cached.create("default", obj)))
    clock.advance(0)
    encoded = result(Deferred.fromCoroutine(cached.get_encoded("default", "a")))
    got = result(Deferred.fromCoroutine(cached.get("default", "a")))
    assert encoded is not None and encoded + b"\n" == codec.encode(got)
    assert b"\\u003c" in encoded and got["data"]["v"] == "a\u2028b <b>"
    missing = Deferred.fromCoroutine(cached.get_encoded("default", "nope"))
    failure = []
    missing.addErrback(failure.append)
    assert failure and isinstance(failure[0].value, StatusError) and failure[0].value.code == 404
    assert result(Deferred.fromCoroutine(direct.get_encoded("default", "a"))) is None


def test_get_encoded_now_answers_when_the_cache_has_the_stores_revision():
    """On an embedded store (its revision known without asking) the cache's bytes are given at once, the same
    as get_encoded's; while the cache is behind the store's revision (its watch not yet delivered), or for a
    store that knows no revision without a round trip, there is no answer now (get_encoded waits)."""
    from kapiserver.storage.memory import MemoryStorage

    clock = task.Clock()
    storage = MemoryStorage(clock)
    cached = configmaps(storage, clock, True)
    cached.reads.start()
    clock.advance(0)
    result(Deferred.fromCoroutine(cached.create("default", cm("a"))))
    clock.advance(0)
    now = cached.get_encoded_now("default", "a")
    assert now is not None and now == result(Deferred.fromCoroutine(cached.get_encoded("default", "a")))
    behind = storage.known_revision() + 1
    storage.known_revision = lambda: behind
    assert cached.get_encoded_now("default", "a") is None
    storage.known_revision = lambda: None      # no revision without a round trip (as etcd's)
    assert cached.get_encoded_now("default", "a") is None
    del storage.known_revision
    assert cached.get_encoded_now("default", "a") == now


def test_cached_json_lists_are_what_rendering_the_decoded_list_gives():
    """A plain JSON list and a PartialObjectMetadataList served from the cache's bytes (nothing decoded for
    the plain one) are byte for byte what encoding the rendered list of the decoded objects gives: with and
    without a selector and a limit, for objects written after the fill (and escapes kept); a store without
    a cache offers no such list."""
    from kapiserver.endpoints import render
    from kapiserver.machinery import codec
    from kapiserver.storage.memory import MemoryStorage

    clock = task.Clock()
    storage = MemoryStorage(clock)
    cached, direct = configmaps(storage, clock, True), configmaps(storage, clock, False)
    for name in ("a", "b"):
        result(Deferred.fromCoroutine(direct.create("default", {
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"app": name}},
            "data": {"v": "<&>\u2028"}})))
    cached.reads.start()
    clock.advance(0)
    result(Deferred.fromCoroutine(cached.create("default", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"app": "a"}}})))
    clock.advance(0)
    for options in ({}, {"resource_version": "0"}, {"label_selector": parse_label_selector("app=a")},
                    {"limit": 2}):
        entries, meta = result(Deferred.fromCoroutine(cached.list_encoded("default", ListOptions(**options))))
        items, list_meta = result(Deferred.fromCoroutine(cached.list("default", ListOptions(**options))))
        assert meta == list_meta and len(entries) == len(items) > 0
        rep = Representation("application/json")
        assert render.encoded_list(cached, entries, meta) == \
            codec.encode(render.render_list(cached, items, list_meta, rep, clock))
        rep = Representation("application/json", target="PartialObjectMetadataList", target_version="v1")
        assert render.encoded_metadata_list(entries, meta, "v1") == \
            codec.encode(render.render_list(cached, items, list_meta, rep, clock))
    assert result(Deferred.fromCoroutine(direct.list_encoded("default", ListOptions()))) is None


def test_reads_go_to_storage_while_the_cache_fills():
    """Until its first fill is in, a cache hands gets and lists to storage (upstream's
    ResilientWatchCacheInitialization) rather than wait for it; once filled it answers them itself."""
    class FillHeld(FakeStorage):
        """The first range of the ConfigMaps (their cache's fill) answers only when ``fill`` is called."""
        held = None

        def range(self, *args, **kwargs):
            answer = super().range(*args, **kwargs)
            if self.held is None and args[0] == PREFIX:
                self.held = Deferred()
                self.fill = lambda: answer.addCallback(self.held.callback)
                return self.held
            return answer

        def get(self, key):
            self.ranges += 1
            return succeed(self.data.get(key))

    storage, clock = FillHeld(), task.Clock()
    storage.write("a", cm("a"))
    store = configmaps(storage, clock, True)
    cacher = store.reads
    clock.advance(0)
    assert storage.held is not None and not cacher.cache.ready
    ranges = storage.ranges
    got = result(Deferred.fromCoroutine(store.get("default", "a")))
    items, _ = result(Deferred.fromCoroutine(store.list("default", ListOptions(resource_version="0"))))
    assert got["metadata"]["name"] == "a" and [i["metadata"]["name"] for i in items] == ["a"]
    assert result(Deferred.fromCoroutine(store.list_encoded("default", ListOptions()))) is None
    assert storage.ranges > ranges
    storage.fill()
    clock.advance(0)
    assert cacher.cache.ready
    ranges = storage.ranges
    items, _ = result(Deferred.fromCoroutine(store.list("default", ListOptions(resource_version="0"))))
    assert [i["metadata"]["name"] for i in items] == ["a"] and storage.ranges == ranges


def test_the_cache_fills_from_stored_bytes_as_decoding_them_would():
    """An object stored in the resource's own version is cached as its stored bytes with its revision put in,
    nothing decoded: exactly the JSON decoding and encoding it gives, whatever its strings hold (a quoted
    "resourceVersion":"" in an annotation, escapes); its labels still select it.  An object whose bytes do
    not begin as the store writes them is decoded."""
    from kapiserver.machinery import codec
    from kapiserver.storage.memory import MemoryStorage

    clock = task.Clock()
    storage = MemoryStorage(clock)
    direct = configmaps(storage, clock, False)
    result(Deferred.fromCoroutine(direct.create("default", {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "a", "labels": {"app": "x"}, "annotations": {"n": '"resourceVersion":""'}},
        "data": {"v": "<&>\u2028 é \"resourceVersion\":\"\""}})))
    result(Deferred.fromCoroutine(direct.create("default", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}})))
    result(storage.create(b"/registry/configmaps/default/c", codec.dumps({
        "metadata": {"name": "c", "namespace": "default", "labels": {"app": "x"}}, "kind": "ConfigMap",
        "apiVersion": "v1"})))
    kvs = result(storage.range(b"/registry/configmaps/")).kvs
    spliced = [direct.served_json(kv.value, kv.mod_revision) for kv in kvs]
    assert spliced[0] == codec.dumps(direct.decode(kvs[0].value, kvs[0].mod_revision))
    assert spliced[1] == codec.dumps(direct.decode(kvs[1].value, kvs[1].mod_revision))
    assert spliced[2] is None
    cached = configmaps(storage, clock, True)
    clock.advance(0)
    assert cached.reads.cache.ready
    for kv in kvs:
        entry = cached.reads.cache.entry(kv.key)
        assert entry.json() == codec.dumps(direct.decode(kv.value, kv.mod_revision))
    selected, _ = result(Deferred.fromCoroutine(cached.list("default", ListOptions(
        label_selector=parse_label_selector("app=x")))))
    assert [i["metadata"]["name"] for i in selected] == ["a", "c"]


def test_a_watch_of_the_object_as_it_is_splices_its_line_and_no_other_does():
    """A watch's line for the object as it is, spliced from its JSON, is byte for byte the rendered event's
    encoding (escapes kept); a watch of another representation (PartialObjectMetadata, a Table) does not
    splice it (a Table's line is made from the decoded object; a PartialObjectMetadata one, below, from the
    metadata)."""
    from kapiserver.endpoints.watch import WatchEncoding
    from kapiserver.machinery import codec

    obj = {"kind": "ConfigMap", "apiVersion": "v1",
           "metadata": {"name": "a", "namespace": "default", "labels": {"app": "<&>"}, "resourceVersion": "7"},
           "data": {"v": "<&>\u2028"}}
    plain = WatchEncoding(None, Representation("application/json"), task.Clock(), "")
    assert plain.splices
    assert plain.event_encoded("ADDED", codec.dumps(obj)) == codec.dumps({"type": "ADDED", "object": obj}) + b"\n"
    assert plain.event("ADDED", obj) == plain.event_encoded("ADDED", codec.dumps(obj))
    for target in ("PartialObjectMetadata", "Table"):
        rep = Representation("application/json", target=target, target_version="v1")
        assert not WatchEncoding(None, rep, task.Clock(), "").splices


def test_a_metadata_watch_line_is_spliced_around_the_metadata_alone():
    """A PartialObjectMetadata watch's line, made from an entry's metadata, is byte for byte the rendered event's
    encoding (escapes kept, the version asked for), whether the entry holds its JSON (a storage event's new
    object: decoded for its metadata, not joined to its head first) or its dict; a DELETED event too. The
    object as it is and a Table are not made that way."""
    from kapiserver.endpoints import render
    from kapiserver.endpoints.watch import WatchEncoding, _line
    from kapiserver.machinery import codec
    from kapiserver.watch.cache import Entry, WatchEvent

    obj = {"kind": "ConfigMap", "apiVersion": "v1",
           "metadata": {"name": "a", "namespace": "default", "annotations": {"note": "<&>\u2028"},
                        "resourceVersion": "7"},
           "data": {"v": "<&>\u2029"}}
    bare = {"kind": "ConfigMap", "apiVersion": "v1", "data": {}}
    for version in ("v1", "v1beta1"):
        rep = Representation("application/json", target="PartialObjectMetadata", target_version=version)
        encoding = WatchEncoding(None, rep, task.Clock(), "")
        assert encoding.metadata_only and not encoding.splices
        for source in (obj, bare):
            rendered = {event: _line(event, render.partial_metadata(source, version))
                        for event in ("ADDED", "MODIFIED")}
            gone = dict(source, metadata=dict(source.get("metadata", {}), resourceVersion="8"))
            from_json = Entry(b"/registry/configmaps/default/a", None, 7, codec.dumps(source), unsettled=True)
            from_dict = Entry(b"/registry/configmaps/default/a", codec.loads(codec.dumps(source)), 7)
            for entry in (from_json, from_dict):
                assert entry.metadata() == source.get("metadata", {})
                added = WatchEvent("PUT", entry.key, entry, None, 7, 0.0)
                assert added.payload("ADDED", encoding) == rendered["ADDED"]
                assert WatchEvent("PUT", entry.key, entry, entry, 7, 0.0).payload("MODIFIED", encoding) == \
                    rendered["MODIFIED"]
                assert entry is from_dict or entry._obj is None     # the object itself not decoded for them
                assert WatchEvent("DELETE", entry.key, None, entry, 8, 0.0).payload("DELETED", encoding) == \
                    _line("DELETED", render.partial_metadata(gone, version))
    for target in ("", "Table"):
        rep = Representation("application/json", target=target, target_version="v1")
        assert not WatchEncoding(None, rep, task.Clock(), "").metadata_only


def test_the_initial_events_end_bookmark_carries_the_list_blueprint_in_the_watch_s_representation():
    """client-go's watch-list refuses an initial-events-end bookmark without the blueprint of the list it builds: the
    empty list as the watch's encoder writes it, in base64 (a metadata watch's a PartialObjectMetadataList; a custom
    resource's the unstructured list: keys sorted, items empty)."""
    from types import SimpleNamespace
    from kapiserver.endpoints.watch import WatchEncoding

    def blueprint(store, rep):
        line = json.loads(WatchEncoding(store, rep, task.Clock(), "").bookmark(7, True))
        annotations = line["object"]["metadata"]["annotations"]
        assert annotations["k8s.io/initial-events-end"] == "true"
        assert line["object"]["metadata"]["resourceVersion"] == "7"
        return base64.b64decode(annotations["kubernetes.io/initial-events-list-blueprint"])

    store = configmaps(FakeStorage(), task.Clock(), True)
    assert blueprint(store, Representation("application/json", "PartialObjectMetadata")) == \
        b'{"kind":"PartialObjectMetadataList","apiVersion":"meta.k8s.io/v1","metadata":{},"items":null}\n'
    custom = SimpleNamespace(builtin=False, info=SimpleNamespace(kind="Widget", api_version="example.com/v1",
                                                                 list_kind="WidgetList"))
    assert blueprint(custom, Representation("application/json")) == \
        b'{"apiVersion":"example.com/v1","items":[],"kind":"WidgetList"}\n'
