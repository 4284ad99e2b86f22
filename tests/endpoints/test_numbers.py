"""Numbers in built-in objects as upstream reads them: a JSON body's integer field takes what strconv.ParseInt takes
(2.0 or 2e0 is Go's 400), while a YAML body's whole floats are integers by the time they are decoded, as upstream's
YAML-to-JSON conversion writes them."""

from __future__ import annotations

import pytest

from tests.endpoints.inprocess import served

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"


@pytest.fixture(scope="module")
def call():
    return served()


def deployment_yaml(name: str, replicas: str) -> bytes:
    return (f"kind: Deployment\napiVersion: apps/v1\nmetadata:\n  name: {name}\nspec:\n  replicas: {replicas}\n"
            "  selector:\n    matchLabels: {a: b}\n  template:\n    metadata:\n      labels: {a: b}\n    spec:\n"
            "      containers: [{name: c, image: i}]\n").encode()


def deployment(name: str, replicas) -> dict:
    return {"kind": "Deployment", "apiVersion": "apps/v1", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"a": "b"}},
                     "template": {"metadata": {"labels": {"a": "b"}},
                                  "spec": {"containers": [{"name": "c", "image": "i"}]}}}}


@pytest.mark.parametrize("replicas, shown", [(b"2.0", "2.0"), (b"2.5", "2.5")])
def test_a_json_float_in_an_integer_field_is_bad_request(call, replicas, shown):
    body = b'{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"f"},"spec":{"replicas":%s}}' % replicas
    answer = call("POST", DEPLOYMENTS, body)
    assert answer.code == 400, answer.body
    assert answer.body["message"] == (f'Deployment in version "v1" cannot be handled as a Deployment: json: cannot '
                                      f'unmarshal number {shown} into Go struct field DeploymentSpec.spec.replicas '
                                      f'of type int32')


def test_an_exponent_is_bad_request_too(call):
    """(Go quotes the number as written, 1e3; the decoded float is shown here, 1000.0.)"""
    body = b'{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"e"},"spec":{"replicas":1e3}}'
    answer = call("POST", DEPLOYMENTS, body)
    assert answer.code == 400 and "into Go struct field DeploymentSpec.spec.replicas of type int32" in \
        answer.body["message"]


def test_a_yaml_whole_float_is_an_integer(call):
    answer = call("POST", DEPLOYMENTS, deployment_yaml("y", "2.0"), "application/yaml")
    assert answer.code == 201, answer.body
    assert answer.body["spec"]["replicas"] == 2 and type(answer.body["spec"]["replicas"]) is int
    refused = call("POST", DEPLOYMENTS, deployment_yaml("z", "2.5"), "application/yaml")
    assert refused.code == 400
    assert "json: cannot unmarshal number 2.5 into Go struct field DeploymentSpec.spec.replicas of type int32" in \
        refused.body["message"]


def test_a_json_integer_is_taken(call):
    answer = call("POST", DEPLOYMENTS, deployment("i", 3))
    assert answer.code == 201 and answer.body["spec"]["replicas"] == 3
