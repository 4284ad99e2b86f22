"""How the admission webhooks are called, as upstream's dispatchers (k8s.io/apiserver v0.32
pkg/admission/plugin/webhook): matchPolicy Equivalent, reinvocation, the response's verification, warnings and
audit annotations, the AdmissionReview version, patches and the errors' wording.  The webhooks here answer
in-process: each plugin's ``_exchange`` (the HTTP POST) is replaced by a function of the AdmissionReview."""

from __future__ import annotations

import base64
import copy
import json

import pytest

from kapiserver.admission.chain import AdmissionChain
from kapiserver.admission.webhooks import AdmissionWebhooks
from kapiserver.auth.user import INSECURE_USER
from kapiserver.machinery.errors import StatusError
from kapiserver.registry.attributes import for_resource
from kapiserver.registry.catalog import Catalog
from kapiserver.registry.options import DeleteOptions, WriteOptions
from tests.admission.conftest import drive

CATALOG = Catalog()


class _Registry:
    catalog = CATALOG

    def lookup(self, group, version, resource):
        return None

    def store(self, group, version, resource):
        class _Namespaces:
            async def get(self, namespace, name):
                return {"metadata": {"name": name, "labels": {}}}
        return _Namespaces()


class Record:
    def __init__(self):
        self.warnings, self.annotations = [], {}

    def add_warning(self, text):
        if text not in self.warnings:
            self.warnings.append(text)

    def add_audit_annotation(self, key, value):
        self.annotations.setdefault(key, value)


def patch_of(operations) -> str:
    return base64.b64encode(json.dumps(operations).encode()).decode()


def allow(review, **response) -> dict:
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "response": dict({"uid": review["request"]["uid"], "allowed": True}, **response)}


def webhook(name="w.example.com", url="https://hook.example.com/x", rules=None, **fields) -> dict:
    return dict({"name": name, "clientConfig": {"url": url}, "admissionReviewVersions": ["v1"],
                 "sideEffects": "None", "failurePolicy": "Fail", "matchPolicy": "Equivalent",
                 "rules": rules if rules is not None else [
                     {"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}]},
                **fields)


class Hooks:
    """Both plugins with configurations given here and webhooks answered by ``answer(url, review)``."""

    def __init__(self, mutating=(), validating=(), answer=None):
        self.plugins = AdmissionWebhooks(_Registry())
        self.calls: list = []
        self.answer = answer or (lambda url, review: allow(review))
        for plugin, hooks in ((self.plugins.mutating, mutating), (self.plugins.validating, validating)):
            configurations = [{"metadata": {"name": "c"}, "webhooks": list(hooks)}]

            async def configured(configurations=configurations):
                return configurations
            plugin._configurations = configured
            plugin._exchange = self._exchange

    async def _exchange(self, config, review, timeout):
        self.calls.append((config["url"], copy.deepcopy(review)))
        answer = self.answer(config["url"], review)
        if isinstance(answer, tuple):
            return answer
        return 200, "application/json", json.dumps(answer).encode()

    def run(self, attributes):
        # Through a chain, which runs the mutating phase a second time when a webhook changed the object.
        chain = AdmissionChain([self.plugins.mutating, self.plugins.validating])
        drive(chain.admit(attributes))
        drive(chain.validate(attributes))
        return attributes

    def refused(self, attributes) -> StatusError:
        with pytest.raises(StatusError) as caught:
            self.run(attributes)
        return caught.value


def request(resource=("", "v1", "configmaps"), operation="CREATE", obj=None, old=None, subresource="",
            options=None, record=None, dry_run=False):
    info = CATALOG.lookup(*resource)
    if obj is None and operation != "DELETE":
        obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "default"},
               "data": {"a": "1"}}
    attributes = for_resource(info, operation, obj, old, subresource, options, dry_run=dry_run,
                              namespace="default")
    return attributes.with_request(INSECURE_USER, record or Record())


# -- 1. matchPolicy Equivalent ---------------------------------------------------------------------------

def _hpa_v1():
    return {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h", "namespace": "default"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "minReplicas": 1, "maxReplicas": 3, "targetCPUUtilizationPercentage": 50}}


V2_RULE = [{"operations": ["CREATE"], "apiGroups": ["autoscaling"], "apiVersions": ["v2"],
            "resources": ["horizontalpodautoscalers"]}]


@pytest.mark.parametrize("match_policy", ["Equivalent", "Exact"])
def test_match_policy_equivalent_calls_the_webhook_in_the_matched_version(match_policy):
    """A rule for autoscaling/v2 fires for a create through autoscaling/v1 under Equivalent: kind and resource
    are v2 (the objects converted to it), requestKind and requestResource v1; its patch, made to the v2
    object, lands in the v1 request's object."""
    def answer(url, review):
        return allow(review, patchType="JSONPatch",
                     patch=patch_of([{"op": "replace", "path": "/spec/maxReplicas", "value": 7}]))
    hooks = Hooks(mutating=[webhook(rules=V2_RULE, matchPolicy=match_policy)], answer=answer)
    attributes = hooks.run(request(("autoscaling", "v1", "horizontalpodautoscalers"), obj=_hpa_v1()))
    if match_policy == "Exact":
        assert hooks.calls == []
        return
    (_, review), = hooks.calls
    sent = review["request"]
    assert sent["kind"] == {"group": "autoscaling", "version": "v2", "kind": "HorizontalPodAutoscaler"}
    assert sent["resource"] == {"group": "autoscaling", "version": "v2", "resource": "horizontalpodautoscalers"}
    assert sent["requestKind"] == {"group": "autoscaling", "version": "v1", "kind": "HorizontalPodAutoscaler"}
    assert sent["requestResource"]["version"] == "v1"
    assert sent["object"]["apiVersion"] == "autoscaling/v2" and "metrics" in sent["object"]["spec"]
    assert attributes.object["apiVersion"] == "autoscaling/v1"
    assert attributes.object["spec"]["maxReplicas"] == 7
    assert attributes.object["spec"]["targetCPUUtilizationPercentage"] == 50


def test_an_exact_rule_wins_over_equivalents():
    """A rule matching the request as made: kind and requestKind both the request's."""
    rules = [{"operations": ["CREATE"], "apiGroups": ["autoscaling"], "apiVersions": ["v1", "v2"],
              "resources": ["horizontalpodautoscalers"]}]
    hooks = Hooks(validating=[webhook(rules=rules)])
    hooks.run(request(("autoscaling", "v1", "horizontalpodautoscalers"), obj=_hpa_v1()))
    (_, review), = hooks.calls
    assert review["request"]["kind"]["version"] == review["request"]["requestKind"]["version"] == "v1"


class _StampEveryKey:
    """An in-tree mutating plugin: marks every data key it finds (as ServiceAccount admission mounts the token
    into every container), counting its runs."""

    def __init__(self):
        self.runs = 0

    async def admit(self, attributes):
        self.runs += 1
        data = attributes.object.setdefault("data", {})
        for key in list(data):
            if not key.startswith("stamped-"):
                data.setdefault(f"stamped-{key}", "yes")


def _chain_with_stamp(mutating_hooks, answer):
    hooks = Hooks(mutating=mutating_hooks, answer=answer)
    stamp = _StampEveryKey()
    return hooks, stamp, AdmissionChain([stamp, hooks.plugins.mutating, hooks.plugins.validating])


def test_a_webhook_change_runs_the_in_tree_mutating_plugins_again():
    """As upstream's reinvocation handler: a webhook that changed the object makes the whole mutating phase run a
    second time, so an in-tree plugin sees what the webhook added (a key here, an injected container upstream);
    a webhook that changes nothing does not."""
    def answer(url, review):
        if "added" in review["request"]["object"]["data"]:
            return allow(review)
        return allow(review, patchType="JSONPatch", patch=patch_of([{"op": "add", "path": "/data/added",
                                                                      "value": "1"}]))
    hooks, stamp, chain = _chain_with_stamp([webhook()], answer)
    attributes = request()
    drive(chain.admit(attributes))
    assert stamp.runs == 2 and attributes.object["data"] == {"a": "1", "stamped-a": "yes", "added": "1",
                                                              "stamped-added": "yes"}
    assert len(hooks.calls) == 1        # reinvocationPolicy Never (the default): not called again
    hooks, stamp, chain = _chain_with_stamp([webhook()], lambda url, review: allow(review))
    drive(chain.admit(request()))
    assert stamp.runs == 1 and len(hooks.calls) == 1


def test_an_if_needed_webhook_is_called_again_when_the_in_tree_plugins_changed_the_object_on_their_second_run():
    def answer(url, review):
        data = review["request"]["object"]["data"]
        if url.endswith("/add") and "added" not in data:
            return allow(review, patchType="JSONPatch", patch=patch_of([{"op": "add", "path": "/data/added",
                                                                          "value": "1"}]))
        return allow(review)
    watcher = webhook("watch.example.com", "https://hook.example.com/watch", reinvocationPolicy="IfNeeded")
    adder = webhook("add.example.com", "https://hook.example.com/add", reinvocationPolicy="IfNeeded")
    hooks, stamp, chain = _chain_with_stamp([watcher, adder], answer)
    drive(chain.admit(request()))
    calls = [(url.rsplit("/", 1)[1], "stamped-added" in review["request"]["object"]["data"])
             for url, review in hooks.calls]
    # Round 0: watch, add (changes it); round 1 (the stamp added stamped-added first): both IfNeeded webhooks
    # that ran before a change are called again, and see it.
    assert calls == [("watch", False), ("add", False), ("watch", True), ("add", True)]


# -- 2. reinvocationPolicy IfNeeded -------------------------------------------------------------------------

@pytest.mark.parametrize("policy,calls", [("IfNeeded", 2), ("Never", 1)])
def test_if_needed_webhooks_are_called_again_after_a_later_change(policy, calls):
    """A later webhook's change calls an IfNeeded webhook that already ran once more; Never ones are not."""
    def answer(url, review):
        if url.endswith("/label") and "labelled" not in (review["request"]["object"]["metadata"].get("labels")
                                                         or {}):
            return allow(review, patchType="JSONPatch", patch=patch_of(
                [{"op": "add", "path": "/metadata/labels", "value": {"labelled": "yes"}}]))
        return allow(review)
    first = webhook("first.example.com", "https://hook.example.com/first", reinvocationPolicy=policy)
    second = webhook("second.example.com", "https://hook.example.com/label", reinvocationPolicy="IfNeeded")
    hooks = Hooks(mutating=[first, second], answer=answer)
    record = Record()
    hooks.run(request(record=record))
    urls = [url for url, _ in hooks.calls]
    assert urls.count("https://hook.example.com/first") == calls
    assert urls.count("https://hook.example.com/label") == 1       # the change came after it: not again
    assert json.loads(record.annotations["mutation.webhook.admission.k8s.io/round_0_index_1"]) == \
        {"configuration": "c", "webhook": "second.example.com", "mutated": True}
    if policy == "IfNeeded":
        assert "mutation.webhook.admission.k8s.io/round_1_index_0" in record.annotations


def test_a_webhook_changing_the_object_alone_is_not_called_again():
    def answer(url, review):
        if "labelled" not in (review["request"]["object"]["metadata"].get("labels") or {}):
            return allow(review, patchType="JSONPatch", patch=patch_of(
                [{"op": "add", "path": "/metadata/labels", "value": {"labelled": "yes"}}]))
        return allow(review)
    hooks = Hooks(mutating=[webhook(reinvocationPolicy="IfNeeded")], answer=answer)
    hooks.run(request())
    assert len(hooks.calls) == 1


# -- 3. warnings and audit annotations ----------------------------------------------------------------------

def test_warnings_become_warning_headers_and_audit_annotations_are_recorded():
    hooks = Hooks(validating=[webhook()], answer=lambda url, review: allow(
        review, warnings=["mind the gap", "twice", "twice"], auditAnnotations={"decision": "looked"}))
    record = Record()
    hooks.run(request(record=record))
    assert record.warnings == ["mind the gap", "twice"]
    assert record.annotations["w.example.com/decision"] == "looked"


# -- 4. the response's verification ---------------------------------------------------------------------------

INVALID = 'failed calling webhook "w.example.com": received invalid webhook response: '


@pytest.mark.parametrize("mutating,response,why", [
    (False, lambda review: dict(allow(review), response={"uid": "other", "allowed": True}),
     'expected response.uid="{uid}", got "other"'),
    (False, lambda review: {"response": {"uid": review["request"]["uid"], "allowed": True}},
     "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got /, Kind="),
    (False, lambda review: {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"},
     "webhook response was absent"),
    (True, lambda review: allow(review, patch=patch_of([])),
     "webhook returned response.patch but not response.patchType"),
    (True, lambda review: allow(review, patchType="JSONPatch"),
     "webhook returned response.patchType but not response.patch"),
    (False, lambda review: allow(review, patchType="JSONPatch", patch=patch_of([])),
     "validating webhook may not return response.patch"),
    (False, lambda review: allow(review, patchType="JSONPatch"),
     "validating webhook may not return response.patchType"),
])
def test_invalid_responses_are_calling_errors(mutating, response, why):
    """An invalid response is upstream's ErrCallingWebhook: a 500 InternalError under failurePolicy Fail (its
    cause the message without "Internal error occurred: "), the request let through under Ignore."""
    hooks = Hooks(**{"mutating" if mutating else "validating": [webhook()]},
                  answer=lambda url, review: response(review))
    error = hooks.refused(request())
    (_, review), = hooks.calls
    expected = INVALID + why.format(uid=review["request"]["uid"])
    assert (error.code, error.reason) == (500, "InternalError")
    assert error.message == "Internal error occurred: " + expected
    assert error.details == {"causes": [{"message": expected}]}
    record = Record()
    ignoring = Hooks(**{"mutating" if mutating else "validating": [webhook(failurePolicy="Ignore")]},
                     answer=lambda url, review: response(review))
    ignoring.run(request(record=record))
    phase = "mutation" if mutating else "validating"
    assert record.annotations[f"failed-open.{phase}.webhook.admission.k8s.io/round_0_index_0"] == "w.example.com"


# -- 5. admissionReviewVersions -----------------------------------------------------------------------------

def test_the_first_supported_review_version_is_sent_and_its_response_accepted():
    """v1beta1 first in the list: a v1beta1 AdmissionReview; its response is neither uid- nor kind-checked
    and a patch without patchType is a JSONPatch."""
    def answer(url, review):
        return {"response": {"allowed": True,
                             "patch": patch_of([{"op": "add", "path": "/data/b", "value": "2"}])}}
    hooks = Hooks(mutating=[webhook(admissionReviewVersions=["v9", "v1beta1", "v1"])], answer=answer)
    attributes = hooks.run(request())
    (_, review), = hooks.calls
    assert review["apiVersion"] == "admission.k8s.io/v1beta1"
    assert attributes.object["data"] == {"a": "1", "b": "2"}


def test_no_supported_review_version():
    hooks = Hooks(validating=[webhook(admissionReviewVersions=["v2"])])
    error = hooks.refused(request())
    assert error.message == ('Internal error occurred: failed calling webhook "w.example.com": could not create '
                             'admission objects: webhook does not accept known AdmissionReview versions '
                             '(v1, v1beta1)')
    assert hooks.calls == []


# -- 6. a patch where there is no object ----------------------------------------------------------------------

def test_a_patch_on_delete_is_refused():
    hooks = Hooks(mutating=[webhook()], answer=lambda url, review: allow(
        review, patchType="JSONPatch", patch=patch_of([{"op": "add", "path": "/data/b", "value": "2"}])))
    old = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "default"}}
    error = hooks.refused(request(operation="DELETE", old=old, options=DeleteOptions()))
    assert (error.code, error.message) == (500, 'Internal error occurred: admission webhook "w.example.com" '
                                                'attempted to modify the object, which is not supported for '
                                                'this operation')


# -- 7. a patch that does not apply ---------------------------------------------------------------------------

@pytest.mark.parametrize("operation,why", [
    ({"op": "remove", "path": "/spec/nothing/here"},
     'remove operation does not apply: doc is missing path: "/spec/nothing/here": missing value'),
    ({"op": "remove", "path": "/data/missing"},
     "error in remove for path: '/data/missing': Unable to remove nonexistent key: missing: missing value"),
    ({"op": "add", "path": "/nothing/x", "value": 1},
     'add operation does not apply: doc is missing path: "/nothing/x": missing value'),
    ({"op": "test", "path": "/data/a", "value": "2"}, "testing value /data/a failed: test failed"),
    ({"op": "frobnicate", "path": "/data"}, "Unexpected kind: frobnicate"),
])
def test_a_patch_that_does_not_apply_is_an_internal_error_in_json_patch_words(operation, why):
    hooks = Hooks(mutating=[webhook()], answer=lambda url, review: allow(
        review, patchType="JSONPatch", patch=patch_of([operation])))
    error = hooks.refused(request())
    assert (error.code, error.reason, error.message) == (500, "InternalError", "Internal error occurred: " + why)
    assert error.details == {"causes": [{"message": why}]}


# -- 8. failing to call ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("code,content_type,body,why", [
    (500, "text/plain", b"boom\n", 'an error on the server ("boom") has prevented the request from succeeding'),
    (502, "application/json", b"{}", 'an error on the server ("unknown") has prevented the request from '
                                     'succeeding'),
    (503, "text/plain", b"x", "the server is currently unable to handle the request"),
    (500, "application/json", b'{"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "m"}',
     "m"),
])
def test_a_webhook_answering_an_error_code(code, content_type, body, why):
    hooks = Hooks(validating=[webhook()], answer=lambda url, review: (code, content_type, body))
    error = hooks.refused(request())
    expected = f'failed calling webhook "w.example.com": failed to call webhook: {why}'
    assert error.message == "Internal error occurred: " + expected
    assert error.details["causes"][0]["message"] == expected


def test_a_refused_connection_in_gos_words():
    """A webhook nobody listens for: Go's dialer's words, the Post naming the URL with its timeout; a service
    reference is named by its cluster URL."""
    import socket

    from tests.controllers.conftest import run
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    plugins = AdmissionWebhooks(_Registry())
    url = f"https://127.0.0.1:{port}/hook"
    for hook in (webhook(url=url, timeoutSeconds=5),):
        async def configured(hook=hook):
            return [{"metadata": {"name": "c"}, "webhooks": [hook]}]
        plugins.validating._configurations = configured
        with pytest.raises(StatusError) as caught:
            run(plugins.validating.validate(request()))
        expected = (f'failed calling webhook "w.example.com": failed to call webhook: Post "{url}?timeout=5s": '
                    f"dial tcp 127.0.0.1:{port}: connect: connection refused")
        assert caught.value.message == "Internal error occurred: " + expected
        assert caught.value.details == {"causes": [{"message": expected}]}


def test_a_service_webhook_is_named_by_its_cluster_url():
    from kapiserver.admission.webhooks import webhook_url
    assert webhook_url({"service": {"name": "hook", "namespace": "team", "port": 8443, "path": "/v"}}) == \
        "https://hook.team.svc:8443/v"
    assert webhook_url({"service": {"name": "hook", "namespace": "team"}}) == "https://hook.team.svc:443"


# -- 9. matchConditions that cannot be evaluated ------------------------------------------------------------

def test_a_match_condition_error_is_worded_as_upstreams_forbidden():
    condition = {"name": "has-x", "expression": "object.data.x == 'y'"}
    hooks = Hooks(validating=[webhook(matchConditions=[condition])])
    error = hooks.refused(request())
    assert (error.code, error.reason) == (403, "Forbidden")
    assert error.message == ('configmaps "cm" is forbidden: expression \'object.data.x == \'y\'\' resulted in '
                             'error: no such key: x')
    assert hooks.calls == []
    Hooks(validating=[webhook(matchConditions=[condition], failurePolicy="Ignore")]).run(request())


def test_dry_run_calls_only_webhooks_without_side_effects():
    """A dry run: a webhook whose sideEffects are neither None nor NoneOnDryRun refuses it (400), as upstream."""
    hooks = Hooks(validating=[webhook(sideEffects="Some")])
    error = hooks.refused(request(dry_run=True))
    assert (error.code, error.message) == (400, 'admission webhook "w.example.com" does not support dry run')
    hooks = Hooks(validating=[webhook(sideEffects="NoneOnDryRun")])
    hooks.run(request(dry_run=True))
    assert hooks.calls[0][1]["request"]["dryRun"] is True


# -- 10. the request's options ------------------------------------------------------------------------------

class _Served:
    """An API request's ResponseRecord: the options come from its query."""

    def __init__(self, args):
        self.request = type("Request", (), {"args": args})()
        self.warnings, self.annotations = [], {}

    def add_warning(self, text):
        self.warnings.append(text)

    def add_audit_annotation(self, key, value):
        self.annotations[key] = value


@pytest.mark.parametrize("args,expected", [
    ({}, {}),
    ({b"fieldManager": [b"me"]}, {"fieldManager": "me"}),
    ({b"fieldValidation": [b"Ignore"], b"dryRun": [b"All"]}, {"dryRun": ["All"], "fieldValidation": "Ignore"}),
])
def test_options_are_those_the_client_sent(args, expected):
    """No fieldValidation added when the client sent none, no fieldManager made of the User-Agent: the options
    as the handler decoded them from the query."""
    hooks = Hooks(validating=[webhook()])
    options = WriteOptions(field_manager="kubectl-client-side-apply", field_validation="Warn")
    hooks.run(request(options=options, record=_Served(args)))
    (_, review), = hooks.calls
    assert review["request"]["options"] == dict({"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"},
                                                **expected)


# -- 11. the scale subresource --------------------------------------------------------------------------------

def _deployment(replicas):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "uid": "u1", "labels": {"app": "web"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}},
            "status": {"replicas": 2}}


def test_a_scale_webhook_sees_autoscaling_v1_scales():
    """A webhook on deployments/scale: kind and requestKind autoscaling/v1 Scale, Scale objects; a patch of
    the Scale's replicas lands in the deployment."""
    rules = [{"operations": ["UPDATE"], "apiGroups": ["apps"], "apiVersions": ["v1"],
              "resources": ["deployments/scale"]}]
    hooks = Hooks(mutating=[webhook(rules=rules)], answer=lambda url, review: allow(
        review, patchType="JSONPatch", patch=patch_of([{"op": "replace", "path": "/spec/replicas", "value": 4}])))
    attributes = hooks.run(request(("apps", "v1", "deployments"), "UPDATE", _deployment(5), _deployment(2),
                                   subresource="scale", options=WriteOptions()))
    (_, review), = hooks.calls
    sent = review["request"]
    scale = {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    assert sent["kind"] == sent["requestKind"] == scale
    assert sent["resource"] == {"group": "apps", "version": "v1", "resource": "deployments"}
    assert sent["subResource"] == "scale"
    assert sent["object"]["kind"] == "Scale" and sent["object"]["spec"] == {"replicas": 5}
    assert sent["oldObject"]["spec"] == {"replicas": 2}
    assert sent["object"]["status"] == {"replicas": 2, "selector": "app=web"}
    assert attributes.object["kind"] == "Deployment" and attributes.object["spec"]["replicas"] == 4


@pytest.mark.parametrize("answer,why", [
    ((200, "application/json", b"{not json"),
     "failed calling webhook \"w.example.com\": failed to call webhook: couldn't get version/kind; json parse "
     "error: invalid character 'n' looking for beginning of object key string"),
    ((200, "application/json", json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                                           "response": {"uid": "x", "allowed": True, "patch": "a!b"}}).encode()),
     'failed calling webhook "w.example.com": failed to call webhook: illegal base64 data at input byte 1'),
])
def test_an_answer_that_does_not_decode(answer, why):
    hooks = Hooks(mutating=[webhook()], answer=lambda url, review: answer)
    error = hooks.refused(request())
    assert error.message == "Internal error occurred: " + why


def test_a_patch_that_is_no_json_array():
    hooks = Hooks(mutating=[webhook()], answer=lambda url, review: allow(
        review, patchType="JSONPatch", patch=base64.b64encode(b'{"op": "add"}').decode()))
    error = hooks.refused(request())
    assert error.message == ("Internal error occurred: json: cannot unmarshal object into Go value of type "
                             "jsonpatch.Patch")


def test_a_client_that_cannot_be_made_is_a_calling_error():
    hooks = Hooks(validating=[webhook()])
    hooks.plugins.validating.configure({"users": {"*": {"auth-provider": {"name": "gcp"}}}, "current": None})
    error = hooks.refused(request())
    assert error.message == ('Internal error occurred: failed calling webhook "w.example.com": could not get REST '
                             'client: auth provider not supported')
    assert hooks.calls == []


@pytest.mark.parametrize("operations,data", [
    ([{"op": "replace", "path": "/data/new", "value": "x"}], {"a": "1", "new": "x"}),    # v4: replace may add
    ([{"op": "copy", "from": "/data/absent", "path": "/data/c"}], {"a": "1", "c": None}),
    ([{"op": "move", "from": "/data/a", "path": "/data/b"}], {"b": "1"}),
    ([{"op": "test", "path": "/data/a", "value": "1"}, {"op": "remove", "path": "/data/a"}], {}),
])
def test_patches_apply_as_json_patch_v4_applies_them(operations, data):
    hooks = Hooks(mutating=[webhook()], answer=lambda url, review: allow(
        review, patchType="JSONPatch", patch=patch_of(operations)))
    assert hooks.run(request()).object["data"] == data


def test_array_patches():
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "default",
                                                                 "finalizers": ["a", "b"]}}
    for operation, expected in (({"op": "add", "path": "/metadata/finalizers/-1", "value": "c"}, ["a", "b", "c"]),
                                ({"op": "add", "path": "/metadata/finalizers/0", "value": "c"}, ["c", "a", "b"]),
                                ({"op": "remove", "path": "/metadata/finalizers/-1"}, ["a"]),
                                ({"op": "replace", "path": "/metadata/finalizers/1", "value": "z"}, ["a", "z"])):
        hooks = Hooks(mutating=[webhook()], answer=lambda url, review: allow(
            review, patchType="JSONPatch", patch=patch_of([operation])))
        assert hooks.run(request(obj=copy.deepcopy(obj))).object["metadata"]["finalizers"] == expected
    hooks = Hooks(mutating=[webhook()], answer=lambda url, review: allow(
        review, patchType="JSONPatch", patch=patch_of([{"op": "add", "path": "/metadata/finalizers/5",
                                                         "value": "c"}])))
    error = hooks.refused(request(obj=copy.deepcopy(obj)))
    assert error.message == ("Internal error occurred: error in add for path: '/metadata/finalizers/5': Unable to "
                             "access invalid index: 5: invalid index referenced")


def test_the_next_webhook_sees_the_defaults_of_what_a_patch_added():
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
           "spec": {"containers": []}}

    def answer(url, review):
        if url.endswith("/first"):
            return allow(review, patchType="JSONPatch", patch=patch_of(
                [{"op": "add", "path": "/spec/containers/-", "value": {"name": "c", "image": "i"}}]))
        return allow(review)
    hooks = Hooks(mutating=[webhook("first.example.com", "https://hook.example.com/first"),
                            webhook("second.example.com", "https://hook.example.com/second")], answer=answer)
    hooks.run(request(("", "v1", "pods"), obj=pod))
    seen = hooks.calls[1][1]["request"]["object"]["spec"]["containers"][0]
    assert seen["terminationMessagePolicy"] == "File" and seen["imagePullPolicy"] == "Always"


def test_validating_webhooks_are_all_called_and_the_first_refusal_answers():
    """As upstream's validating dispatcher: every matching webhook is called (in parallel), a refusal does not
    keep the others from being called; the failed-open annotation is indexed among the webhooks called."""
    def answer(url, review):
        if url.endswith("/deny"):
            return allow(review, allowed=False, status={"message": "no", "code": 403})
        if url.endswith("/broken"):
            return 500, "text/plain", b"down"
        return allow(review)
    skipped = webhook("skipped.example.com", "https://hook.example.com/skipped", rules=[])
    broken = webhook("broken.example.com", "https://hook.example.com/broken", failurePolicy="Ignore")
    deny = webhook("deny.example.com", "https://hook.example.com/deny")
    after = webhook("after.example.com", "https://hook.example.com/after")
    hooks = Hooks(validating=[skipped, broken, deny, after], answer=answer)
    record = Record()
    error = hooks.refused(request(record=record))
    assert (error.code, error.message) == (403, 'admission webhook "deny.example.com" denied the request: no')
    assert [url.rsplit("/", 1)[1] for url, _ in hooks.calls] == ["broken", "deny", "after"]
    assert record.annotations["failed-open.validating.webhook.admission.k8s.io/round_0_index_0"] == \
        "broken.example.com"


def test_a_refusal_reads_the_response_status_only():
    hooks = Hooks(validating=[webhook()], answer=lambda url, review: allow(
        review, allowed=False, result={"message": "not a field of AdmissionResponse"}))
    error = hooks.refused(request())
    assert (error.code, error.message) == (400, 'admission webhook "w.example.com" denied the request without '
                                                'explanation')


def test_audit_annotations_with_keys_upstream_refuses_are_dropped():
    class Audited(Record):
        @property
        def audit_annotations(self):
            return self.annotations

        def add_audit_annotation(self, key, value):
            self.annotations[key] = value
    record = Audited()
    record.add_audit_annotation("w.example.com/kept", "first")
    hooks = Hooks(validating=[webhook()], answer=lambda url, review: allow(
        review, auditAnnotations={"kept": "second", "a/b": "x", "bad key": "y", "fine": "z"}))
    hooks.run(request(record=record))
    assert record.annotations == {"w.example.com/kept": "first", "w.example.com/fine": "z"}


def test_a_host_that_does_not_resolve_in_gos_words():
    from twisted.internet.error import DNSLookupError

    from kapiserver.admission.webhooks import call_failure
    assert call_failure(DNSLookupError("address 'hook.team.svc' not found"), "https://hook.team.svc:443/v") == \
        "dial tcp: lookup hook.team.svc: no such host"
