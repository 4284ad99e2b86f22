"""The client against a real apiserver: REST calls, errors as Status, watches, informers, events, leases."""

import pytest

from kapiserver.client.events import EventRecorder
from kapiserver.client.informer import SharedInformerFactory
from kapiserver.client.leaderelection import LeaderElector, LeaseClient
from kapiserver.client.resources import CONFIG_MAPS, EVENTS, NAMESPACES
from kapiserver.client.rest import APIError, get_or_none
from tests.client.conftest import run, run_until
from tests.conformance.support import unique


def _namespace(client) -> str:
    name = unique("client")
    run(client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    return name


def _cm(name, namespace, data=None):
    """A ConfigMap labelled test=client (the namespace also holds the kube-root-ca.crt a controller puts)."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "labels": {"test": "client"}}, "data": data or {}}


def test_crud_and_status_errors(client):
    ns = _namespace(client)
    created = run(client.create(CONFIG_MAPS, _cm("a", ns, {"k": "v"})))
    assert created["metadata"]["uid"]
    assert run(client.get(CONFIG_MAPS, "a", ns))["data"] == {"k": "v"}
    assert run(client.get(CONFIG_MAPS, "a", ns, resource_version="0"))["data"] == {"k": "v"}
    try:
        run(client.get(CONFIG_MAPS, "a", ns, resource_version="x"))
        raise AssertionError("a resourceVersion that is not one is refused")
    except APIError as e:
        assert (e.code, e.reason, e.status["message"]) == (400, "BadRequest", 'invalid resource version "x"')
    assert run(get_or_none(client, CONFIG_MAPS, "a", ns, resource_version="0"))["data"] == {"k": "v"}
    assert run(get_or_none(client, CONFIG_MAPS, "missing", ns)) is None
    with pytest.raises(APIError) as refused:
        run(get_or_none(client, CONFIG_MAPS, "a", ns, resource_version="x"))
    assert refused.value.code == 400
    patched = run(client.patch(CONFIG_MAPS, "a", {"data": {"k": "w"}}, ns))
    assert patched["data"] == {"k": "w"}
    patched["data"]["x"] = "y"
    assert run(client.update(CONFIG_MAPS, patched))["data"] == {"k": "w", "x": "y"}
    stale = dict(created)
    try:
        run(client.update(CONFIG_MAPS, stale))
        raise AssertionError("a stale update must conflict")
    except APIError as e:
        assert (e.code, e.reason) == (409, "Conflict")
    names = [i["metadata"]["name"] for i in run(client.list(CONFIG_MAPS, ns))["items"]]
    assert "a" in names
    run(client.delete(CONFIG_MAPS, "a", ns))
    try:
        run(client.get(CONFIG_MAPS, "a", ns))
        raise AssertionError("deleted")
    except APIError as e:
        assert (e.code, e.reason, e.status["kind"]) == (404, "NotFound", "Status")


def test_watch_delivers_events_and_cancels(client):
    ns = _namespace(client)
    listed = run(client.list(CONFIG_MAPS, ns))
    events = []
    watch = client.watch(CONFIG_MAPS, lambda t, o: events.append((t, o["metadata"]["name"])), ns,
                         listed["metadata"]["resourceVersion"], label_selector="test=client")
    run(client.create(CONFIG_MAPS, _cm("w1", ns)))
    run(client.delete(CONFIG_MAPS, "w1", ns))
    run_until(lambda: len(events) >= 2)
    assert events[:2] == [("ADDED", "w1"), ("DELETED", "w1")]
    watch.cancel()
    run(watch.done)


def test_watch_refused_errbacks_with_the_status(client):
    ns = _namespace(client)
    watch = client.watch(CONFIG_MAPS, lambda t, o: None, ns, field_selector="spec.bogus=1")
    failures = []
    watch.done.addErrback(failures.append)
    run_until(lambda: watch.done.called)
    assert failures and (failures[0].value.code, failures[0].value.reason) == (400, "BadRequest")


@pytest.mark.parametrize("watch_list", [False, True], ids=["list-watch", "watch-list"])
def test_informer_syncs_and_follows_changes(client, watch_list):
    """An informer syncs (by list+watch, or by watch-list when asked) and follows creates, updates, deletes."""
    ns = _namespace(client)
    run(client.create(CONFIG_MAPS, _cm("before", ns)))
    lists = []
    real_list = client.list

    async def counted_list(*args, **kwargs):
        lists.append(args)
        return await real_list(*args, **kwargs)
    client.list = counted_list
    factory = SharedInformerFactory(client, watch_list=watch_list)
    informer = factory.informer(CONFIG_MAPS, namespace=ns, label_selector="test=client")
    assert factory.informer(CONFIG_MAPS, namespace=ns, label_selector="test=client") is informer
    seen = []
    informer.add_event_handler(on_add=lambda o: seen.append(("add", o["metadata"]["name"])),
                               on_update=lambda old, new: seen.append(("update", new["metadata"]["name"])),
                               on_delete=lambda o: seen.append(("delete", o["metadata"]["name"])))
    factory.start()
    try:
        run(factory.wait_for_cache_sync())
        assert informer.has_synced()
        assert informer.indexer.get(f"{ns}/before")["kind"] == "ConfigMap"
        assert [o["metadata"]["name"] for o in informer.indexer.by_index("namespace", ns)] == ["before"]
        run(client.create(CONFIG_MAPS, _cm("after", ns)))
        run(client.patch(CONFIG_MAPS, "after", {"data": {"a": "b"}}, ns))
        run(client.delete(CONFIG_MAPS, "before", ns))
        run_until(lambda: ("delete", "before") in seen)
        assert seen == [("add", "before"), ("add", "after"), ("update", "after"), ("delete", "before")]
        assert informer.indexer.get_by_key(ns, "after")["data"] == {"a": "b"}
        assert informer.indexer.get(f"{ns}/before") is None
        late = []
        informer.add_event_handler(on_add=lambda o: late.append(o["metadata"]["name"]))
        assert late == ["after"]
        # The watch-list was accepted: no list request at all.
        assert (lists == []) == watch_list and not informer.reflector.watch_list_refused
    finally:
        factory.stop()


def test_event_recorder_aggregates_repeats(client):
    ns = _namespace(client)
    cm = run(client.create(CONFIG_MAPS, _cm("e", ns)))
    recorder = EventRecorder(client, "test-controller", host="here")
    run(recorder.event(cm, "Normal", "Synced", "all good"))
    run(recorder.eventf(cm, "Normal", "Synced", "all %s", "good"))
    run(recorder.event(cm, "Warning", "Broken", "not good"))
    events = run(client.list(EVENTS, ns))["items"]
    by_reason = {e["reason"]: e for e in events}
    assert by_reason["Synced"]["count"] == 2 and by_reason["Broken"]["count"] == 1
    synced = by_reason["Synced"]
    assert synced["involvedObject"]["kind"] == "ConfigMap" and synced["involvedObject"]["uid"] == cm["metadata"]["uid"]
    assert synced["source"] == {"component": "test-controller", "host": "here"}
    assert synced["type"] == "Normal" and by_reason["Broken"]["type"] == "Warning"


def test_leader_election_over_rest_has_one_leader(client):
    ns = _namespace(client)
    from twisted.internet import reactor
    leading = []
    electors = [LeaderElector(LeaseClient(client), reactor, f"candidate-{i}", "test-lock", namespace=ns,
                              on_started_leading=lambda i=i: leading.append(i)) for i in range(2)]
    for elector in electors:
        run(elector.start())
    run_until(lambda: leading)
    assert len(leading) == 1
    lease = run(client.get(LeaseClient(client).resource, "test-lock", ns))
    assert lease["spec"]["holderIdentity"] == f"candidate-{leading[0]}"
    for elector in electors:
        run(elector.stop())


def test_a_create_in_a_terminating_namespace_is_known_by_its_cause(client):
    from kapiserver.client.rest import namespace_terminating
    ns = _namespace(client)
    run(client.create(CONFIG_MAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                    "metadata": {"name": "holder", "namespace": ns, "finalizers": ["example.com/x"]}}))
    run(client.delete(NAMESPACES, ns))
    try:
        run(client.create(CONFIG_MAPS, _cm("late", ns)))
        raise AssertionError("a terminating namespace takes no new content")
    except APIError as e:
        assert e.code == 403 and namespace_terminating(e)
    run(client.patch(CONFIG_MAPS, "holder", {"metadata": {"finalizers": None}}, ns))


class _RecordingWatch:
    _cancelled = False

    def __init__(self):
        self.events = []

    def on_event(self, kind, obj):
        self.events.append((kind, obj["metadata"]["name"]))


def test_watch_body_events_whatever_the_chunking():
    """Events split across reads, several in one read, and blank lines all come out once each, in order; an ERROR
    event ends the stream and the lines after it in the same read are not handed on."""
    from kapiserver.client.rest import APIError, _EventStream

    def line(kind, name):
        return b'{"type":"%s","object":{"metadata":{"name":"%s"}}}\n' % (kind.encode(), name.encode())

    watch = _RecordingWatch()
    stream = _EventStream(watch)
    stream.transport = None
    body = line("ADDED", "a") + b"\n" + line("MODIFIED", "a") + line("DELETED", "a")
    stream.dataReceived(body[:10])
    stream.dataReceived(body[10:70])
    stream.dataReceived(body[70:])
    stream.dataReceived(line("ADDED", "b") + line("ADDED", "c")[:5])
    assert watch.events == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a"), ("ADDED", "b")]
    stream.dataReceived(line("ADDED", "c")[5:] + b'{"type":"ERROR","object":{"code":410,"reason":"Expired"}}\n'
                        + line("ADDED", "d"))
    assert watch.events[-1] == ("ADDED", "c") and len(watch.events) == 5
    assert isinstance(stream.error, APIError) and stream.error.code == 410
