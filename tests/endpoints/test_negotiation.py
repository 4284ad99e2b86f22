"""Choosing a response's representation from the Accept header."""

from __future__ import annotations

import pytest

from kapiserver.endpoints.negotiation import Representation, negotiate_output
from kapiserver.machinery.errors import StatusError


def test_the_representation_follows_the_accept_header():
    assert negotiate_output(None) == Representation("application/json")
    assert negotiate_output("application/yaml, application/json") == Representation("application/yaml")
    table = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    assert negotiate_output(table) == Representation("application/json", "Table", "v1")
    assert negotiate_output(table, allow_targets=False) == Representation("application/json")
    assert negotiate_output(table) is negotiate_output(table)      # remembered per header


def test_an_unacceptable_header_is_a_406_every_time():
    for _ in range(2):
        with pytest.raises(StatusError) as raised:
            negotiate_output("text/html")
        assert raised.value.code == 406


def test_a_watch_is_json_whatever_it_embeds_and_never_yaml():
    """A watch's events embed what the Accept names (Table, PartialObjectMetadata) in a JSON stream; YAML has no
    stream serializer upstream, so an Accept whose first acceptable type is YAML is a 406 naming the stream types."""
    from kapiserver.endpoints.negotiation import negotiate_watch
    from kapiserver.machinery.errors import StatusError
    table = negotiate_watch("application/json;as=Table;v=v1;g=meta.k8s.io")
    assert (table.media, table.target) == ("application/json", "Table")
    assert negotiate_watch("application/json, */*").media == "application/json"
    for accept in ("application/yaml", "application/yaml, application/json"):
        with pytest.raises(StatusError) as refused:
            negotiate_watch(accept)
        assert (refused.value.code, refused.value.message) == (406, (
            "only the following media types are accepted: application/json;stream=watch, "
            "application/vnd.kubernetes.protobuf;stream=watch"))
