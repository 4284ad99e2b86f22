"""Custom Resource Definition Conversion Webhook: "conversion custom resource" (a custom resource written in v1
reads in v2 through the webhook) and "convert mixed version list" (a list of objects stored in two versions,
read in either).  The webhook is a local HTTPS server converting as the e2e test's does: v1's
`hostPort: "host:port"` is v2's `host` and `port`."""

from __future__ import annotations

import base64
import time

import pytest

from tests.conformance.support import CRDS, MERGE
from tests.e2e.conftest import APIServerProcess
from tests.e2e.httpsjson import JSONHandler, serve_https

GROUP = "stable.conversion.example.com"


def convert(obj: dict, desired: str) -> dict:
    out = dict(obj, apiVersion=desired)
    if desired.endswith("/v2") and "hostPort" in obj:
        host, _, port = out.pop("hostPort").partition(":")
        out["host"], out["port"] = host, port
    elif desired.endswith("/v1") and "host" in obj:
        out["hostPort"] = f"{out.pop('host')}:{out.pop('port', '')}"
    return out


class Converter(JSONHandler):
    reviews: list = []

    def do_POST(self):
        review = self.read_json()
        request = review["request"]
        Converter.reviews.append(request)
        self.reply_json({"apiVersion": review["apiVersion"], "kind": "ConversionReview", "response": {
            "uid": request["uid"], "result": {"status": "Success"},
            "convertedObjects": [convert(o, request["desiredAPIVersion"]) for o in request["objects"]]}})


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory):
    """An apiserver without its embedded controllers: the garbage collector would watch the custom resources in
    their preferred version (v2), and its conversions would mix with the ones each test counts."""
    server = APIServerProcess(tmp_path_factory.mktemp("apiserver") / "data", args=("--embedded-controllers=",)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def webhook(tmp_path_factory):
    server, ca = serve_https(Converter, tmp_path_factory.mktemp("conversion"))
    yield f"https://127.0.0.1:{server.server_address[1]}/crdconvert", base64.b64encode(ca).decode()
    server.shutdown()


def version(name, storage, fields):
    return {"name": name, "served": True, "storage": storage, "schema": {"openAPIV3Schema": {
        "type": "object", "properties": {name_: {"type": "string"} for name_ in fields}}}}


@pytest.fixture
def crd(apiserver, webhook, request):
    plural = "e2e-" + request.node.name.replace("_", "")[-20:].lower() + "s"
    url, ca = webhook
    body = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{GROUP}"},
            "spec": {"group": GROUP, "scope": "Namespaced",
                     "names": {"plural": plural, "kind": plural.capitalize()[:-1]},
                     "versions": [version("v1", True, ["hostPort"]), version("v2", False, ["host", "port"])],
                     "conversion": {"strategy": "Webhook", "webhook": {
                         "clientConfig": {"url": url, "caBundle": ca}, "conversionReviewVersions": ["v1", "v1beta1"]}}}}
    status, created = apiserver.request("POST", CRDS, body)
    assert status == 201, created
    for v in ("v1", "v2"):
        deadline = time.monotonic() + 30
        while apiserver.request("GET", f"/apis/{GROUP}/{v}/namespaces/default/{plural}")[0] != 200:
            assert time.monotonic() < deadline, f"{v} not served"
            time.sleep(0.05)
    yield plural, body
    apiserver.request("DELETE", f"{CRDS}/{plural}.{GROUP}")


def path(plural, v, name=""):
    return f"/apis/{GROUP}/{v}/namespaces/default/{plural}" + (f"/{name}" if name else "")


def test_crd_conversion_webhook_conversion_custom_resource(apiserver, crd):
    """Custom Resource Definition Conversion Webhook, conversion custom resource

    A custom resource created in v1 (the storage version) is read in v2 through the conversion webhook, and
    one written in v2 is stored converted to v1."""
    plural, body = crd
    kind = body["spec"]["names"]["kind"]
    status, created = apiserver.request("POST", path(plural, "v1"), {
        "apiVersion": f"{GROUP}/v1", "kind": kind, "metadata": {"name": "cr1"}, "hostPort": "localhost:8080"})
    assert status == 201, created
    Converter.reviews.clear()
    status, read = apiserver.request("GET", path(plural, "v2", "cr1"))
    assert status == 200, read
    assert read["apiVersion"] == f"{GROUP}/v2" and (read["host"], read["port"]) == ("localhost", "8080")
    assert "hostPort" not in read and read["metadata"]["uid"] == created["metadata"]["uid"]
    assert [r["desiredAPIVersion"] for r in Converter.reviews] == [f"{GROUP}/v2"]
    status, written = apiserver.request("POST", path(plural, "v2"), {
        "apiVersion": f"{GROUP}/v2", "kind": kind, "metadata": {"name": "cr2"}, "host": "example", "port": "80"})
    assert status == 201 and written["apiVersion"] == f"{GROUP}/v2", written
    assert apiserver.request("GET", path(plural, "v1", "cr2"))[1]["hostPort"] == "example:80"
    status, patched = apiserver.request("PATCH", path(plural, "v2", "cr1"), {"port": "9090"}, headers=MERGE)
    assert status == 200 and patched["port"] == "9090", patched
    assert apiserver.request("GET", path(plural, "v1", "cr1"))[1]["hostPort"] == "localhost:9090"


def test_crd_conversion_webhook_convert_mixed_version_list(apiserver, crd):
    """Custom Resource Definition Conversion Webhook, convert mixed version list

    After the storage version moves from v1 to v2, a list holds objects stored in both: read in either
    version, each comes converted (one ConversionReview for the list)."""
    plural, body = crd
    kind = body["spec"]["names"]["kind"]
    assert apiserver.request("POST", path(plural, "v1"), {
        "apiVersion": f"{GROUP}/v1", "kind": kind, "metadata": {"name": "cr1"}, "hostPort": "localhost:8080"})[0] == 201
    versions = [version("v1", False, ["hostPort"]), version("v2", True, ["host", "port"])]
    status, changed = apiserver.request("PATCH", f"{CRDS}/{plural}.{GROUP}", {"spec": {"versions": versions}},
                                        headers=MERGE)
    assert status == 200, changed
    deadline = time.monotonic() + 30
    while True:
        status, created = apiserver.request("POST", path(plural, "v2"), {
            "apiVersion": f"{GROUP}/v2", "kind": kind, "metadata": {"name": "cr2"}, "host": "example", "port": "80"})
        if status == 201 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert status == 201, created
    Converter.reviews.clear()
    status, listed = apiserver.request("GET", path(plural, "v1"))
    assert status == 200
    assert [(i["apiVersion"], i["metadata"]["name"], i.get("hostPort")) for i in listed["items"]] == [
        (f"{GROUP}/v1", "cr1", "localhost:8080"), (f"{GROUP}/v1", "cr2", "example:80")]
    status, listed = apiserver.request("GET", path(plural, "v2"))
    assert [(i["apiVersion"], i.get("host"), i.get("port")) for i in listed["items"]] == [
        (f"{GROUP}/v2", "localhost", "8080"), (f"{GROUP}/v2", "example", "80")]
    assert all(len(r["objects"]) == 1 for r in Converter.reviews)   # one object each needed converting


def test_a_watch_in_another_version_sees_converted_events(apiserver, crd):
    """A watch in v2 of objects stored in v1 gets each event converted, in order."""
    import http.client
    import json
    plural, body = crd
    kind = body["spec"]["names"]["kind"]
    status, listed = apiserver.request("GET", path(plural, "v2"))
    rv = listed["metadata"]["resourceVersion"]
    for name, port in (("a", "1"), ("b", "2")):
        assert apiserver.request("POST", path(plural, "v1"), {
            "apiVersion": f"{GROUP}/v1", "kind": kind, "metadata": {"name": name},
            "hostPort": f"h:{port}"})[0] == 201
    conn = http.client.HTTPConnection("127.0.0.1", apiserver.port, timeout=10)
    conn.request("GET", path(plural, "v2") + f"?watch=true&resourceVersion={rv}&timeoutSeconds=1")
    events = [json.loads(line) for line in conn.getresponse().read().splitlines() if line.strip()]
    conn.close()
    assert [(e["type"], e["object"]["apiVersion"], e["object"]["metadata"]["name"], e["object"].get("port"))
            for e in events] == [("ADDED", f"{GROUP}/v2", "a", "1"), ("ADDED", f"{GROUP}/v2", "b", "2")]


class Refuser(JSONHandler):
    def do_POST(self):
        review = self.read_json()
        self.reply_json({"apiVersion": review["apiVersion"], "kind": "ConversionReview", "response": {
            "uid": review["request"]["uid"], "result": {"status": "Failure", "message": "cannot convert"}}})


def test_a_failing_conversion_webhook_is_an_internal_error(apiserver, tmp_path):
    server, ca = serve_https(Refuser, tmp_path)
    plural = "refusedconversions"
    try:
        body = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": f"{plural}.{GROUP}"},
                "spec": {"group": GROUP, "scope": "Namespaced", "names": {"plural": plural, "kind": "Refused"},
                         "versions": [version("v1", True, ["hostPort"]), version("v2", False, ["host", "port"])],
                         "conversion": {"strategy": "Webhook", "webhook": {"clientConfig": {
                             "url": f"https://127.0.0.1:{server.server_address[1]}/crdconvert",
                             "caBundle": base64.b64encode(ca).decode()}, "conversionReviewVersions": ["v1"]}}}}
        assert apiserver.request("POST", CRDS, body)[0] == 201
        deadline = time.monotonic() + 30
        while apiserver.request("GET", path(plural, "v2"))[0] != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert apiserver.request("POST", path(plural, "v1"), {
            "apiVersion": f"{GROUP}/v1", "kind": "Refused", "metadata": {"name": "x"}, "hostPort": "a:1"})[0] == 201
        status, error = apiserver.request("GET", path(plural, "v2", "x"))
        assert status == 500 and error["reason"] == "InternalError"
        assert error["message"] == (f"Internal error occurred: conversion webhook for {GROUP}/v1, Kind=Refused "
                                    "returned failure: cannot convert")
    finally:
        apiserver.request("DELETE", f"{CRDS}/{plural}.{GROUP}")
        server.shutdown()


class Mutator(JSONHandler):
    """An admission webhook that records the objects it is sent and turns `port` "1" into "2" (a field only v2
    has)."""
    seen: list = []

    def do_POST(self):
        review = self.read_json()
        request = review["request"]
        Mutator.seen.append(request)
        response = {"uid": request["uid"], "allowed": True}
        if request["object"].get("port") == "1":
            response["patchType"] = "JSONPatch"
            response["patch"] = base64.b64encode(b'[{"op":"replace","path":"/port","value":"2"}]').decode()
        self.reply_json({"apiVersion": review["apiVersion"], "kind": "AdmissionReview", "response": response})


def test_equivalent_admission_sees_a_custom_resource_through_its_conversion_webhook(apiserver, crd, tmp_path):
    """matchPolicy Equivalent: a mutating webhook whose rule names only v2, and a ValidatingAdmissionPolicy likewise,
    see a custom resource created in v1 converted by the CRD's conversion webhook (as upstream's admission converts
    with the resource's own converter), and the mutation comes back to v1 through it."""
    plural, body = crd
    kind = body["spec"]["names"]["kind"]
    server, ca = serve_https(Mutator, tmp_path)
    hook = f"{plural}-v2-hook"
    rule = {"apiGroups": [GROUP], "apiVersions": ["v2"], "resources": [plural], "operations": ["CREATE"]}
    configuration = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
                     "metadata": {"name": hook}, "webhooks": [{
                         "name": name, "rules": [rule], "sideEffects": "None",
                         "admissionReviewVersions": ["v1"], "clientConfig": {
                             "url": f"https://127.0.0.1:{server.server_address[1]}/mutate",
                             "caBundle": base64.b64encode(ca).decode()}}
                         for name in ("v2.conversion.example.com", "second.conversion.example.com")]}
    policy = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
              "metadata": {"name": hook}, "spec": {
                  "failurePolicy": "Fail", "matchConstraints": {"resourceRules": [rule]},
                  "validations": [{"expression": "object.port != '666'", "message": "port 666 is refused"}]}}
    binding = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
               "metadata": {"name": hook}, "spec": {"policyName": hook, "validationActions": ["Deny"]}}
    webhooks = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
    policies = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies"
    bindings = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings"
    try:
        assert apiserver.request("POST", webhooks, configuration)[0] == 201
        assert apiserver.request("POST", policies, policy)[0] == 201
        assert apiserver.request("POST", bindings, binding)[0] == 201
        deadline, n = time.monotonic() + 30, 0
        while True:
            n += 1
            Mutator.seen.clear()
            status, created = apiserver.request("POST", path(plural, "v1"), {
                "apiVersion": f"{GROUP}/v1", "kind": kind, "metadata": {"name": f"m{n}"}, "hostPort": "a:1"})
            assert status == 201, created
            if Mutator.seen or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        request, second = Mutator.seen
        assert second["object"]["port"] == "2"     # the first one's change, converted again for it
        assert request["kind"] == {"group": GROUP, "version": "v2", "kind": kind}
        assert request["requestKind"] == {"group": GROUP, "version": "v1", "kind": kind}
        seen = request["object"]
        assert (seen["apiVersion"], seen.get("host"), seen.get("port"), "hostPort" in seen) == \
            (f"{GROUP}/v2", "a", "1", False)
        assert created["apiVersion"] == f"{GROUP}/v1" and created["hostPort"] == "a:2", created
        deadline = time.monotonic() + 30
        while True:
            status, refused = apiserver.request("POST", path(plural, "v1"), {
                "apiVersion": f"{GROUP}/v1", "kind": kind, "metadata": {"name": "refused"}, "hostPort": "b:666"})
            if status != 201 or time.monotonic() > deadline:
                break
            apiserver.request("DELETE", path(plural, "v1", "refused"))
            time.sleep(0.05)
        assert status == 422 and "port 666 is refused" in refused["message"], refused
        # Nothing changed by the webhooks: the object is converted once for both, once for the policy.
        Converter.reviews.clear()
        assert apiserver.request("POST", path(plural, "v1"), {
            "apiVersion": f"{GROUP}/v1", "kind": kind, "metadata": {"name": "quiet"}, "hostPort": "c:5"})[0] == 201
        assert [r["desiredAPIVersion"] for r in Converter.reviews] == [f"{GROUP}/v2", f"{GROUP}/v2"]
    finally:
        for collection in (webhooks, policies, bindings):
            apiserver.request("DELETE", f"{collection}/{hook}")
        server.shutdown()
