"""The client's sans-IO parts on task.Clock: the work queue, rate limiters, expectations, the store's indexes,
and the reflector's list/watch/relist cycle against a scripted client."""

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from kapiserver.client.cache import Indexer, meta_namespace_key, split_key
from kapiserver.client.expectations import ControllerExpectations, UIDTrackingControllerExpectations
from kapiserver.client.informer import SharedInformer
from kapiserver.client.reflector import Backoff
from kapiserver.client.resources import PODS
from kapiserver.client.rest import APIError
from kapiserver.client.workqueue import (BucketRateLimiter, ItemExponentialFailureRateLimiter, RateLimitingQueue,
                                         run_workers)


def _pod(name, ns="default", rv="1", **labels):
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": ns, "resourceVersion": rv, "labels": labels}}


# -- work queue ---------------------------------------------------------------------------------------

def test_queue_dedups_and_never_hands_a_key_to_two_workers():
    queue = RateLimitingQueue(Clock())
    queue.add("a")
    queue.add("a")
    queue.add("b")
    assert len(queue) == 2
    first = []
    queue.get().addCallback(first.append)
    assert first == ["a"]
    queue.add("a")                      # added again while being processed: waits for done
    second = []
    queue.get().addCallback(second.append)
    assert second == ["b"]
    third = []
    queue.get().addCallback(third.append)
    assert third == []
    queue.done("a")
    assert third == ["a"]


def test_queue_add_after_and_rate_limited_backoff():
    clock = Clock()
    queue = RateLimitingQueue(clock, rate_limiter=ItemExponentialFailureRateLimiter(0.005, 1.0))
    queue.add_after("x", 2.0)
    queue.add_after("x", 5.0)           # a later add of a waiting key changes nothing
    clock.advance(1.9)
    assert len(queue) == 0
    clock.advance(0.1)
    assert len(queue) == 1
    limiter = queue.rate_limiter
    assert [limiter.when("y") for _ in range(4)] == [0.005, 0.01, 0.02, 0.04]
    assert queue.num_requeues("y") == 4
    queue.forget("y")
    assert queue.num_requeues("y") == 0 and limiter.when("y") == 0.005
    assert [limiter.when("z") for _ in range(10)][-1] == 1.0


def test_bucket_limiter_spaces_out_after_the_burst():
    clock = Clock()
    bucket = BucketRateLimiter(clock, qps=10, burst=2)
    assert [bucket.when(i) for i in range(4)] == [0.0, 0.0, 0.1, 0.2]
    clock.advance(1.0)
    assert bucket.when("later") == 0.0


def test_workers_retry_failures_and_forget_successes():
    clock = Clock()
    queue = RateLimitingQueue(clock, rate_limiter=ItemExponentialFailureRateLimiter(1.0, 10.0))
    attempts = []

    async def sync(key):
        attempts.append(key)
        if len(attempts) < 3:
            raise RuntimeError("not yet")
    finished = run_workers(queue, 2, sync)
    queue.add("k")
    assert attempts == ["k"] and queue.num_requeues("k") == 1
    clock.advance(1.0)
    assert attempts == ["k", "k"]
    clock.advance(2.0)
    assert attempts == ["k", "k", "k"] and queue.num_requeues("k") == 0
    queue.shutdown()
    assert finished.called


# -- expectations -------------------------------------------------------------------------------------

def test_expectations_wait_for_observations_or_expire():
    clock = Clock()
    exp = ControllerExpectations(clock)
    assert exp.satisfied_expectations("ns/rs")
    exp.expect_creations("ns/rs", 2)
    assert not exp.satisfied_expectations("ns/rs")
    exp.creation_observed("ns/rs")
    assert not exp.satisfied_expectations("ns/rs")
    exp.creation_observed("ns/rs")
    assert exp.satisfied_expectations("ns/rs")
    exp.expect_deletions("ns/rs", 1)
    clock.advance(301)
    assert exp.satisfied_expectations("ns/rs")


def test_uid_tracking_counts_each_deletion_once():
    exp = UIDTrackingControllerExpectations(Clock())
    exp.expect_deletions_uids("k", ["u1", "u2"])
    exp.deletion_observed_uid("k", "u1")
    exp.deletion_observed_uid("k", "u1")
    assert not exp.satisfied_expectations("k")
    exp.deletion_observed_uid("k", "u2")
    assert exp.satisfied_expectations("k")


# -- store --------------------------------------------------------------------------------------------

def test_indexer_keys_and_custom_indexes_follow_updates():
    assert meta_namespace_key(_pod("p", "ns")) == "ns/p"
    assert meta_namespace_key({"metadata": {"name": "n1"}}) == "n1"
    assert split_key("ns/p") == ("ns", "p") and split_key("n1") == ("", "n1")
    indexer = Indexer()
    indexer.add_indexers({"app": lambda o: [o["metadata"]["labels"].get("app", "")]})
    indexer.add(_pod("a", app="web"))
    indexer.add(_pod("b", app="web"))
    indexer.add(_pod("a", app="db"))
    assert [o["metadata"]["name"] for o in indexer.by_index("app", "web")] == ["b"]
    assert [o["metadata"]["name"] for o in indexer.by_index("app", "db")] == ["a"]
    indexer.delete(_pod("b"))
    assert indexer.by_index("app", "web") == [] and len(indexer.by_index("namespace", "default")) == 1


def test_backoff_doubles_to_its_cap_and_resets_when_quiet():
    clock = Clock()
    backoff = Backoff(clock, initial=1, cap=4, reset_after=60, jitter=0)
    assert [backoff.next() for _ in range(4)] == [1, 2, 4, 4]
    clock.advance(61)
    assert backoff.next() == 1


# -- reflector and informer -----------------------------------------------------------------------------

class ScriptedClient:
    """Answers lists from ``lists`` in turn; each watch is kept for the test to feed and end."""

    def __init__(self, lists):
        self.lists = list(lists)
        self.listed = []
        self.watches = []

    async def list(self, resource, namespace=None, label_selector=None, field_selector=None, **params):
        self.listed.append(params)
        answer = self.lists.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def watch(self, resource, on_event, namespace=None, resource_version=None, label_selector=None,
              field_selector=None, allow_bookmarks=True, timeout_seconds=None, send_initial_events=False):
        watch = _FakeWatch(on_event, resource_version, timeout_seconds)
        watch.send_initial_events = send_initial_events
        self.watches.append(watch)
        return watch


class _FakeWatch:
    def __init__(self, on_event, resource_version, timeout_seconds):
        self.on_event = on_event
        self.resource_version = resource_version
        self.timeout_seconds = timeout_seconds
        self.done = Deferred()

    def cancel(self):
        if not self.done.called:
            self.done.callback(None)


def _list(rv, *pods):
    return {"metadata": {"resourceVersion": rv}, "items": [dict(p) for p in pods]}


def test_reflector_lists_watches_rewatches_and_relists_on_410():
    clock = Clock()
    client = ScriptedClient([_list("10", _pod("a"), _pod("b")), _list("20", _pod("a", rv="15"))])
    informer = SharedInformer(client, PODS, clock, random=lambda: 0.5)
    seen = []
    informer.add_event_handler(lambda o: seen.append(("add", o["metadata"]["name"])),
                               lambda old, new: seen.append(("update", new["metadata"]["name"])),
                               lambda o: seen.append(("delete", o["metadata"]["name"])))
    informer.start()
    assert informer.has_synced() and seen == [("add", "a"), ("add", "b")]
    assert client.listed[0] == {"limit": 500, "resourceVersion": "0"}
    watch = client.watches[0]
    assert watch.resource_version == "10" and 300 <= watch.timeout_seconds < 600
    watch.on_event("ADDED", _pod("c", rv="11"))
    watch.on_event("BOOKMARK", {"kind": "Pod", "metadata": {"resourceVersion": "12"}})
    clock.advance(5)
    watch.done.callback(None)           # timed out: watch again from the last version seen
    assert client.watches[1].resource_version == "12" and len(client.listed) == 1
    client.watches[1].done.errback(APIError(410, {"reason": "Expired", "message": "too old"}))
    # Relisted: "a" changed, "b" and "c" are gone.
    assert len(client.listed) == 2
    assert seen[3:] == [("update", "a"), ("delete", "b"), ("delete", "c")]
    assert client.watches[2].resource_version == "20"
    informer.stop()


def test_informer_transform_applies_to_each_page_and_event_and_consistent_pages_list_in_pages():
    """With a transform, the cache and the handlers only ever see transformed objects: each list page's
    (with consistent_pages, read without resourceVersion=0, page after page) and each watch event's."""
    from kapiserver.client.informer import drop_managed_fields

    def pod(name, rv="1"):
        obj = _pod(name, rv=rv)
        obj["metadata"]["managedFields"] = [{"manager": "m"}]
        return obj
    first = _list("10", pod("a"))
    first["metadata"]["continue"] = "next"
    clock = Clock()
    client = ScriptedClient([first, _list("10", pod("b"))])
    informer = SharedInformer(client, PODS, clock, random=lambda: 0.5, transform=drop_managed_fields,
                              consistent_pages=True)
    seen = []
    informer.add_event_handler(lambda o: seen.append(o), lambda old, new: seen.append(new))
    informer.start()
    assert client.listed == [{"limit": 500}, {"limit": 500, "continue": "next"}]
    client.watches[0].on_event("MODIFIED", pod("a", rv="11"))
    assert [o["metadata"]["name"] for o in seen] == ["a", "b", "a"]
    assert all("managedFields" not in o["metadata"] for o in seen + informer.indexer.list())
    informer.stop()


def _initial_events_end(rv):
    return {"kind": "Pod", "metadata": {"resourceVersion": rv,
                                        "annotations": {"k8s.io/initial-events-end": "true"}}}


def test_watch_list_syncs_at_the_initial_events_end_bookmark_and_goes_on_watching():
    """With watch_list, the store is replaced once the annotated bookmark comes, and the stream is the watch."""
    clock = Clock()
    client = ScriptedClient([])
    informer = SharedInformer(client, PODS, clock, random=lambda: 0.5, watch_list=True)
    seen = []
    informer.add_event_handler(lambda o: seen.append(("add", o["metadata"]["name"])),
                               lambda old, new: seen.append(("update", new["metadata"]["name"])),
                               lambda o: seen.append(("delete", o["metadata"]["name"])))
    informer.start()
    watch = client.watches[0]
    assert watch.send_initial_events and watch.resource_version == "" and client.listed == []
    watch.on_event("ADDED", _pod("a", rv="3"))
    watch.on_event("ADDED", _pod("b", rv="4"))
    watch.on_event("BOOKMARK", {"kind": "Pod", "metadata": {"resourceVersion": "5"}})  # a plain bookmark
    assert not informer.has_synced() and seen == []
    watch.on_event("BOOKMARK", _initial_events_end("6"))
    assert informer.has_synced() and seen == [("add", "a"), ("add", "b")]
    assert informer.last_sync_resource_version == "6"
    watch.on_event("MODIFIED", _pod("a", rv="7"))
    assert seen[-1] == ("update", "a")
    clock.advance(5)
    watch.done.callback(None)       # then re-watches from the last version, without initial events
    assert client.watches[1].resource_version == "7" and not client.watches[1].send_initial_events
    assert client.listed == []
    informer.stop()


def test_watch_list_refused_falls_back_to_list_and_watch_for_good():
    """A server refusing the watch-list (400) gets a list then a watch, and no watch-list again."""
    clock = Clock()
    client = ScriptedClient([_list("10", _pod("a")), _list("20", _pod("a"))])
    informer = SharedInformer(client, PODS, clock, random=lambda: 0.5, watch_list=True)
    informer.start()
    client.watches[0].done.errback(APIError(400, {"reason": "BadRequest", "message": "resourceVersionMatch "
                                                  "is forbidden unless resourceVersion is provided"}))
    assert informer.has_synced() and len(client.listed) == 1
    assert client.watches[1].resource_version == "10" and not client.watches[1].send_initial_events
    client.watches[1].done.errback(APIError(410, {"reason": "Expired", "message": "too old"}))
    assert len(client.listed) == 2 and not client.watches[2].send_initial_events
    informer.stop()


def test_watch_list_without_its_bookmark_falls_back_to_a_list():
    """A watch-list stream that ends before the initial-events-end bookmark is followed by a list."""
    clock = Clock()
    client = ScriptedClient([_list("10", _pod("a"))])
    informer = SharedInformer(client, PODS, clock, random=lambda: 0.5, watch_list=True)
    informer.start()
    client.watches[0].on_event("ADDED", _pod("a", rv="3"))
    client.watches[0].done.callback(None)
    assert informer.has_synced() and len(client.listed) == 1
    assert client.watches[1].resource_version == "10" and not client.watches[1].send_initial_events
    assert not informer.reflector.watch_list_refused
    informer.stop()


def test_reflector_backs_off_when_the_server_is_away():
    clock = Clock()
    client = ScriptedClient([ConnectionRefusedError(), _list("5")])
    informer = SharedInformer(client, PODS, clock, random=lambda: 0.0)
    informer.start()
    assert not informer.has_synced() and len(client.listed) == 1
    clock.advance(0.7)
    assert len(client.listed) == 1
    clock.advance(0.2)
    assert informer.has_synced() and client.watches[0].resource_version == "5"
    informer.stop()
    assert client.watches[0].done.called




def test_a_short_watch_resumes_at_once_when_it_delivered_events_and_backs_off_when_it_did_not():
    """client-go's "very short watch" rule: a watch that ends within a second with no event is retried after
    the backoff; one that delivered events (a store reset ending it, say) resumes at once from its last
    resourceVersion, so a cache is never left stale for a backoff's length."""
    clock = Clock()
    client = ScriptedClient([_list("10")])
    informer = SharedInformer(client, PODS, clock, random=lambda: 0.0)
    informer.start()
    first = client.watches[0]
    first.on_event("ADDED", _pod("a", rv="11"))
    clock.advance(0.1)
    first.done.callback(None)
    assert len(client.watches) == 2 and client.watches[1].resource_version == "11"
    clock.advance(0.1)
    client.watches[1].done.callback(None)       # nothing received: the backoff (0.8 s at random 0) first
    assert len(client.watches) == 2
    clock.advance(0.79)
    assert len(client.watches) == 2
    clock.advance(0.02)
    assert len(client.watches) == 3 and client.watches[2].resource_version == "11"
    assert len(client.listed) == 1
    informer.stop()


def test_event_recorder_names_are_unique_on_a_stopped_clock_and_go_verbs_format():
    from kapiserver.client.events import EventRecorder

    class Recording:
        def __init__(self):
            self.created = []

        async def create(self, resource, event, namespace=None):
            self.created.append(event)
            return event
    client = Recording()
    recorder = EventRecorder(client, "test", clock=Clock())
    pod = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p", "namespace": "ns", "uid": "u"}}
    recorder.eventf(pod, "Normal", "Created", "Created pod: %v", "p-1")
    recorder.eventf(pod, "Normal", "Created", "Created pod: %q", "p-2")
    names = [e["metadata"]["name"] for e in client.created]
    assert len(set(names)) == 2
    assert [e["message"] for e in client.created] == ["Created pod: p-1", 'Created pod: "p-2"']


def test_event_recorder_patches_a_count_only_once_the_events_create_is_done():
    """The same event twice while its create is still on its way: the count's patch waits for the create (sent
    at once it would find nothing and make a second Event), then goes; one Event, count 2, as upstream's recorder."""
    from twisted.internet.defer import Deferred

    from kapiserver.client.events import EventRecorder

    class Held:
        def __init__(self):
            self.calls, self.creating = [], Deferred()

        async def create(self, resource, event, namespace=None):
            self.calls.append(("create", event["metadata"]["name"], event["count"]))
            await self.creating
            return event

        async def patch(self, resource, name, body, namespace=None, patch_type=None):
            self.calls.append(("patch", name, body["count"]))
            return body

    client = Held()
    recorder = EventRecorder(client, "test", clock=Clock())
    pod = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p", "namespace": "ns", "uid": "u"}}
    recorder.event(pod, "Warning", "FailedBinding", "no volume")
    recorder.event(pod, "Warning", "FailedBinding", "no volume")
    recorder.event(pod, "Warning", "FailedBinding", "no volume")
    assert [c[0] for c in client.calls] == ["create"]
    client.creating.callback(None)
    name = client.calls[0][1]
    assert client.calls == [("create", name, 1), ("patch", name, 2), ("patch", name, 3)]
    assert not recorder.pending
