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
