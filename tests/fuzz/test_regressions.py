"""Answers the fuzz suite once got wrong (a 500 or a hang), pinned against a live server."""

from __future__ import annotations

import json


def status_of(server, method, path, body=b"", headers=None):
    status, _, raw = server.request(method, path, body, headers or {})
    decoded = json.loads(raw) if raw else None
    assert "internal error" not in server.new_log()
    return status, decoded


def test_non_get_on_the_watch_prefix_is_method_not_allowed(fuzz_server):
    """DELETE on the deprecated /watch/ path prefix is 405 (routed for GET only), not a watch that hangs."""
    status, body = status_of(fuzz_server, "DELETE", "/api/v1/watch/configmaps", headers={})
    assert status == 405 and body["kind"] == "Status" and body["reason"] == "MethodNotAllowed"
    status, body = status_of(fuzz_server, "POST", "/api/v1/watch/namespaces/default/configmaps", b"{}",
                             {"Content-Type": "application/json"})
    assert status == 405 and body["code"] == 405


def test_a_multipart_body_is_not_parsed_as_a_form(fuzz_server):
    """A malformed multipart/form-data body on a POST is the API's 415 Status, not twisted.web's bare 400."""
    status, body = status_of(fuzz_server, "POST", "/api/v1/namespaces/default/configmaps", b'{"a": 1}',
                             {"Content-Type": "multipart/form-data; boundary=x"})
    assert status == 415 and body["kind"] == "Status" and body["code"] == 415, body


def test_a_form_body_adds_no_query_parameters(fuzz_server):
    """A form-encoded body is not read as query parameters (dryRun in the body does not make a dry run)."""
    status, body = status_of(fuzz_server, "POST", "/api/v1/namespaces/default/configmaps", b"dryRun=All",
                             {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 415 and body["code"] == 415


def test_a_review_with_null_metadata_is_created(fuzz_server):
    """A SubjectAccessReview with "metadata": null is decoded as Go does (null means absent): 201."""
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "metadata": None,
              "spec": {"user": "u", "resourceAttributes": {"verb": "get", "resource": "pods"}}}
    status, body = status_of(fuzz_server, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                             json.dumps(review).encode(), {"Content-Type": "application/json"})
    assert status == 201 and body["status"]["allowed"] is True


def test_a_review_with_a_wrongly_typed_spec_is_bad_request(fuzz_server):
    """Wrong JSON types in a review's spec are a 400 decoding error, as upstream's typed decoder answers."""
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
              "spec": {"user": "u", "resourceAttributes": ["verb", "get"]}}
    status, body = status_of(fuzz_server, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                             json.dumps(review).encode(), {"Content-Type": "application/json"})
    assert status == 400 and body["reason"] == "BadRequest" and "cannot unmarshal array" in body["message"]


def test_delete_options_of_the_wrong_type_are_bad_request(fuzz_server):
    """A DeleteOptions body with gracePeriodSeconds as a list is upstream's 400 decoding error."""
    status, body = status_of(fuzz_server, "DELETE", "/api/v1/namespaces/default/configmaps/x",
                             b'{"gracePeriodSeconds": [1], "preconditions": null}',
                             {"Content-Type": "application/json"})
    assert status == 400 and "cannot unmarshal array into Go struct field DeleteOptions.gracePeriodSeconds" \
        in body["message"]


def test_a_yaml_body_with_surrogate_escapes_is_bad_request(fuzz_server):
    """A YAML body with a "\\ud839"-style escape is a 400, not an object no encoder can write."""
    status, body = status_of(fuzz_server, "POST", "/api/v1/namespaces/default/configmaps",
                             b'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\ndata: {a: "\\ud839\\uddc8"}\n',
                             {"Content-Type": "application/yaml"})
    assert status == 400 and body["reason"] == "BadRequest"


def test_an_out_of_range_integer_is_bad_request(fuzz_server):
    """replicas past int32 is a 400 decoding error, not a 500 from the encoder."""
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "big"},
                  "spec": {"replicas": 2 ** 70, "selector": {"matchLabels": {"a": "b"}},
                           "template": {"metadata": {"labels": {"a": "b"}},
                                        "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
    status, body = status_of(fuzz_server, "POST", "/apis/apps/v1/namespaces/default/deployments",
                             json.dumps(deployment).encode(), {"Content-Type": "application/json"})
    assert status == 400 and "of type int32" in body["message"]


def test_an_apply_with_non_object_metadata_is_bad_request(fuzz_server):
    """A server-side apply whose metadata is a number is a 400, not a 500 from the field manager."""
    status, body = status_of(fuzz_server, "PATCH", "/api/v1/namespaces/default/secrets/s?fieldManager=f",
                             b'{"apiVersion": "v1", "kind": "Secret", "metadata": -9223372036854775809}',
                             {"Content-Type": "application/apply-patch+yaml"})
    assert status == 400 and body["reason"] == "BadRequest" and ".metadata: expected map" in body["message"]


def test_an_apply_with_null_or_absent_metadata_is_not_a_500(fuzz_server):
    """A server-side apply with "metadata": null (or none) is read as absent metadata: a Status, never a 500."""
    for body in (b'{"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": null}',
                 b'{"apiVersion": "apps/v1", "kind": "ControllerRevision"}'):
        status, decoded = status_of(fuzz_server, "PATCH",
                                    "/apis/apps/v1/namespaces/default/controllerrevisions/c?fieldManager=f", body,
                                    {"Content-Type": "application/apply-patch+yaml"})
        assert status < 500 and decoded["kind"] in ("Status", "ControllerRevision"), decoded


def test_a_legacy_event_without_a_name_is_bad_request(fuzz_server):
    """A core/v1 Event (whose validation skips ObjectMeta) without a name is upstream's 400 from the key."""
    event = {"apiVersion": "v1", "kind": "Event", "metadata": None, "reason": "R", "message": "m",
             "involvedObject": {"kind": "Pod", "name": "w", "namespace": "default"}}
    status, body = status_of(fuzz_server, "POST", "/api/v1/namespaces/default/events", json.dumps(event).encode(),
                             {"Content-Type": "application/json"})
    assert status == 400 and body["message"] == "Name parameter required."


APPROVAL = "/apis/certificates.k8s.io/v1/certificatesigningrequests/nope/approval"


def test_an_approval_update_of_a_missing_request_is_not_found(fuzz_server):
    """PUT on the approval subresource of a CertificateSigningRequest that does not exist is a 404."""
    csr = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"name": "nope"},
           "status": {"conditions": [{"type": "Approved", "status": "True"}]}}
    status, body = status_of(fuzz_server, "PUT", APPROVAL, json.dumps(csr).encode(),
                             {"Content-Type": "application/json"})
    assert status == 404 and body["reason"] == "NotFound"


def test_an_approval_update_with_wrong_types_is_bad_request(fuzz_server):
    """PUT on the approval subresource with status as a list is a 400 decoding error."""
    csr = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"name": "nope"},
           "status": ["Approved"]}
    status, body = status_of(fuzz_server, "PUT", APPROVAL, json.dumps(csr).encode(),
                             {"Content-Type": "application/json"})
    assert status == 400 and "cannot unmarshal array" in body["message"]


def test_csr_approval_keeps_the_approved_condition(fuzz_server):
    """A PUT to /approval stores the Approved condition (and only status.conditions changes)."""
    import base64
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "approve-me")])).sign(key, hashes.SHA256())
    request = base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode()
    path = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
    status, created = fuzz_server.server.request("POST", path, {
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
        "metadata": {"name": "approve-me"},
        "spec": {"request": request, "signerName": "kubernetes.io/kube-apiserver-client", "usages": ["client auth"]}})
    assert status == 201, created
    created["status"] = {"conditions": [{"type": "Approved", "status": "True", "reason": "Test", "message": "ok"}]}
    created["spec"]["usages"] = ["digital signature"]
    status, approved = fuzz_server.server.request("PUT", path + "/approve-me/approval", created)
    assert status == 200, approved
    assert [c["type"] for c in approved["status"]["conditions"]] == ["Approved"]
    assert approved["spec"]["usages"] == ["client auth"]
    status, read = fuzz_server.server.request("GET", path + "/approve-me")
    assert [c["type"] for c in read["status"]["conditions"]] == ["Approved"]
