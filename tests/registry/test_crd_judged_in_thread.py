"""A CRD's new schemas are judged in a thread (their structure, defaults and CEL rules: a large CRD's take tens of
milliseconds), the request waiting while the reactor serves others; validation then reads the judgement."""

from __future__ import annotations

from twisted.internet.defer import Deferred

from kapiserver.machinery.errors import StatusError
from kapiserver.registry import crd as crd_module
from kapiserver.registry.registry import Registry
from kapiserver.storage.memory import MemoryStorage

from tests.inline_threads import HeldThreadsClock


def _crd(plural: str, rule: str) -> dict:
    schema = {"type": "object", "properties": {"spec": {"type": "object", "x-kubernetes-validations": [{"rule": rule}],
                                                        "properties": {"size": {"type": "integer"}}}}}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.threads.example.com"},
            "spec": {"group": "threads.example.com", "scope": "Namespaced",
                     "names": {"plural": plural, "kind": plural.capitalize()[:-1]},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": schema}},
                                  {"name": "v2", "served": True, "storage": False,
                                   "schema": {"openAPIV3Schema": dict(schema, description="v2")}}]}}


def _world():
    clock = HeldThreadsClock()
    registry = Registry(MemoryStorage(clock), clock, watch_cache=False)
    clock.advance(0)
    return clock, registry


def _run(clock, coro) -> Deferred:
    d = Deferred.fromCoroutine(coro)
    clock.advance(0)
    return d


def _judgements(monkeypatch) -> list:
    """The paths judged from now on (the judged schemas' memory emptied first), in order."""
    judged = []
    judge = crd_module._judge_schema
    monkeypatch.setattr(crd_module, "_judge_schema", lambda schema, at: judged.append(at) or judge(schema, at))
    monkeypatch.setattr(crd_module, "_JUDGED", type(crd_module._JUDGED)())
    return judged


def test_schemas_are_judged_in_the_thread_pool_while_other_requests_go_on(monkeypatch):
    """The create waits on the thread pool, one judgement per new version; a ConfigMap created meanwhile is
    done at once; once the judgements come back the CRD is created, validation judging nothing again."""
    judged = _judgements(monkeypatch)
    clock, registry = _world()
    crds = registry.store("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    creating = _run(clock, crds.create(None, _crd("widgets", "self.size >= 0")))
    assert not creating.called and len(clock.held) == 1 and judged == []
    configmaps = registry.store("", "v1", "configmaps")
    other = _run(clock, configmaps.create("default", {"apiVersion": "v1", "kind": "ConfigMap",
                                                      "metadata": {"name": "meanwhile"}}))
    assert other.called and other.result["metadata"]["name"] == "meanwhile"
    assert clock.run_held() == 1 and not creating.called        # v1's digest, then its judgement, then v2's
    clock.settle()
    assert creating.called and creating.result["metadata"]["name"] == "widgets.threads.example.com"
    assert judged == ["spec.versions[0].schema.openAPIV3Schema", "spec.versions[1].schema.openAPIV3Schema"]


def test_a_schema_is_digested_once_a_write_in_the_thread(monkeypatch):
    """The digest by which judgements are remembered (orjson and blake2b over the schema's JSON: a millisecond
    for a large one) is worked out once per schema and write, in the thread; validation takes it from there."""
    clock, registry = _world()
    digest, digested = crd_module._schema_key, []
    monkeypatch.setattr(crd_module, "_schema_key", lambda schema: digested.append(clock.in_thread) or digest(schema))
    crds = registry.store("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    creating = _run(clock, crds.create(None, _crd("sprockets", "self.size >= 2")))
    clock.settle()
    assert creating.called and creating.result["metadata"]["name"] == "sprockets.threads.example.com"
    assert digested == [True, True]
    assert not crd_module._DIGESTS      # taken by the validation they were for


def test_a_schema_judged_in_the_thread_is_refused_with_its_errors():
    """A rule that does not compile: the thread's judgement is the 422's cause, as when judged inline."""
    clock, registry = _world()
    crds = registry.store("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    creating = _run(clock, crds.create(None, _crd("gadgets", "self.size >")))
    clock.settle()
    error = creating.result.value
    creating.addErrback(lambda _: None)
    assert isinstance(error, StatusError) and error.code == 422
    fields = [c["field"] for c in error.to_status()["details"]["causes"]]
    assert fields and all(f.startswith("spec.versions[") and "x-kubernetes-validations[0].rule" in f for f in fields)
    inline = crd_module.validate_crd(_crd("gadgets", "self.size >"))
    assert [str(e) for e in inline] and [e.field for e in inline] == fields


def test_an_update_judges_only_the_changed_schema(monkeypatch):
    """An update whose v1 schema is as stored asks the pool for v2's judgement alone."""
    judged = _judgements(monkeypatch)
    clock, registry = _world()
    crds = registry.store("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    created = _run(clock, crds.create(None, _crd("doodads", "self.size >= 1")))
    clock.settle()
    stored = created.result
    stored["spec"]["versions"][1]["schema"]["openAPIV3Schema"]["description"] = "v2, changed"
    updating = _run(clock, crds.update(None, stored["metadata"]["name"], lambda old: stored))
    del judged[:]
    assert len(clock.held) == 1
    clock.settle()
    assert judged == ["spec.versions[1].schema.openAPIV3Schema"]
    assert updating.called and updating.result[0]["spec"]["versions"][1]["schema"]["openAPIV3Schema"][
        "description"] == "v2, changed"
