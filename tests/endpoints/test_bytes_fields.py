"""A []byte field (a Secret's data, a ConfigMap's binaryData, a webhook's caBundle) is base64 that Go's decoder
reads: what does not decode is a 400 in Go's words, what does is written back canonical (padded, no line breaks,
the unused bits cleared), as upstream decodes the bytes and encodes them again."""

from __future__ import annotations

import pytest

from tests.endpoints.inprocess import served


@pytest.fixture(scope="module")
def call():
    return served()


def secret(name: str, data: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": data}


@pytest.mark.parametrize("value, offset", [("!!!notbase64", 0), ("YQ", 0), ("abcde", 4), ("YQ=", 3),
                                           ("Y===", 1), ("YQ==x", 4), ("YW Jj", 2)])
def test_base64_that_does_not_decode_is_bad_request(call, value, offset):
    answer = call("POST", "/api/v1/namespaces/default/secrets", secret("bad", {"a": "YQ==", "b": value}))
    assert answer.code == 400, answer.body
    assert answer.body["reason"] == "BadRequest"
    assert answer.body["message"] == ('Secret in version "v1" cannot be handled as a Secret: illegal base64 data at '
                                      f'input byte {offset}')
    assert call("GET", "/api/v1/namespaces/default/secrets/bad").code == 404


def test_base64_is_written_back_canonical(call):
    created = call("POST", "/api/v1/namespaces/default/secrets",
                   secret("good", {"a": "YR==", "b": "YWJj\nZGVm", "c": "YWJjZA==\r\n", "d": ""}))
    assert created.code == 201, created.body
    assert created.body["data"] == {"a": "YQ==", "b": "YWJjZGVm", "c": "YWJjZA==", "d": ""}
    assert call("GET", "/api/v1/namespaces/default/secrets/good").body["data"] == created.body["data"]


def test_binary_data_and_a_patch_are_read_the_same_way(call):
    """binaryData as data; a merge patch that leaves a bad value is upstream's 422 on the patched object."""
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bin"}, "binaryData": {"x": "@@"}}
    answer = call("POST", "/api/v1/namespaces/default/configmaps", configmap)
    assert answer.code == 400
    assert answer.body["message"].endswith("cannot be handled as a ConfigMap: illegal base64 data at input byte 0")
    configmap["binaryData"] = {"x": "AAE="}
    assert call("POST", "/api/v1/namespaces/default/configmaps", configmap).code == 201
    patched = call("PATCH", "/api/v1/namespaces/default/configmaps/bin", {"binaryData": {"x": "AAF="}},
                   "application/merge-patch+json")
    assert patched.code == 200, patched.body
    assert patched.body["binaryData"] == {"x": "AAE="}
    refused = call("PATCH", "/api/v1/namespaces/default/configmaps/bin", {"binaryData": {"x": "A"}},
                   "application/merge-patch+json")
    assert refused.code == 422 and refused.body["reason"] == "Invalid", refused.body
    assert "illegal base64 data at input byte 0" in refused.body["message"]
    assert call("GET", "/api/v1/namespaces/default/configmaps/bin").body["binaryData"] == {"x": "AAE="}


def test_a_ca_bundle_that_is_not_base64_is_refused(call):
    webhook = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
               "metadata": {"name": "w"}, "webhooks": [{
                   "name": "w.example.com", "sideEffects": "None", "admissionReviewVersions": ["v1"],
                   "clientConfig": {"url": "https://example.com/x", "caBundle": "-----BEGIN CERTIFICATE-----"}}]}
    answer = call("POST", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", webhook)
    assert answer.code == 400
    assert answer.body["message"] == (
        'ValidatingWebhookConfiguration in version "v1" cannot be handled as a ValidatingWebhookConfiguration: '
        'illegal base64 data at input byte 0')
