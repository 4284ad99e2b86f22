"""A PUT's body must name the object of its URL, as upstream 1.32's update handler checks it (update.go: the
namespace first, EnsureObjectNamespaceMatchesRequestNamespace; then checkName): a body without a name is a 400,
not an update of whatever the URL names."""

from __future__ import annotations

import pytest

from tests.endpoints.inprocess import served

NS = "/api/v1/namespaces/default"


@pytest.fixture
def call():
    call = served()
    answer = call("POST", f"{NS}/configmaps", {"metadata": {"name": "a"}, "data": {"x": "1"}})
    assert answer.code == 201, answer.body
    return call


def bad_request(answer, message):
    assert (answer.code, answer.body["reason"], answer.body["message"]) == (400, "BadRequest", message)


@pytest.mark.parametrize("body", [{"data": {"x": "2"}}, {"metadata": {}, "data": {"x": "2"}},
                                  {"metadata": {"name": ""}, "data": {"x": "2"}}])
def test_a_put_whose_body_names_no_object_is_refused_and_changes_nothing(call, body):
    bad_request(call("PUT", f"{NS}/configmaps/a", body),
                "the name of the object () does not match the name on the URL (a)")
    assert call("GET", f"{NS}/configmaps/a").body["data"] == {"x": "1"}


def test_a_put_in_another_namespace_is_refused_before_its_name_is_looked_at(call):
    bad_request(call("PUT", f"{NS}/configmaps/a", {"metadata": {"name": "b", "namespace": "other"}}),
                "the namespace of the provided object does not match the namespace sent on the request")
    bad_request(call("PUT", f"{NS}/configmaps/a", {"metadata": {"name": "b"}}),
                "the name of the object (b) does not match the name on the URL (a)")


def test_a_put_naming_its_object_without_a_namespace_takes_the_requests(call):
    answer = call("PUT", f"{NS}/configmaps/a", {"metadata": {"name": "a"}, "data": {"x": "3"}})
    assert answer.code == 200 and answer.body["metadata"]["namespace"] == "default"
    assert answer.body["data"] == {"x": "3"}


def test_status_and_finalize_puts_check_the_name_too(call):
    bad_request(call("PUT", "/api/v1/namespaces/default/status", {"metadata": {}}),
                "the name of the object () does not match the name on the URL (default)")
    bad_request(call("PUT", "/api/v1/namespaces/default/finalize", {"metadata": {"name": "x"}, "spec": {}}),
                "the name of the object (x) does not match the name on the URL (default)")
