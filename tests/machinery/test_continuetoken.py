"""Continue tokens: what a page's token decodes to, and a malformed one's 400 in upstream's words (its storage's
DecodeContinue, behind "invalid continue token: ")."""

from __future__ import annotations

import base64

import pytest

from kapiserver.machinery import continuetoken
from kapiserver.machinery.errors import StatusError

NOT_VALID = "invalid continue token: continue key is not valid"


def _token(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _fields(**fields) -> str:
    import json
    return _token(json.dumps({"v": "meta.k8s.io/v1", "rv": 3, "start": "a", **fields}).encode())


def test_a_token_decodes_to_its_revision_and_start():
    assert continuetoken.decode(continuetoken.encode(5, "default/b\x00")) == (5, "default/b\x00")
    assert continuetoken.decode(_fields(rv=-1)) == (-1, "a")        # an inconsistent continue
    assert continuetoken.decode(_fields(start="/a/b")) == (3, "a/b")  # a leading slash is no part of the key


@pytest.mark.parametrize("token, why", [
    ("!!!", "illegal base64 data at input byte 0"),
    ("abc!", "illegal base64 data at input byte 3"),
    ("YQ==", "illegal base64 data at input byte 2"),      # no padding in the raw URL encoding
    ("abcde", "illegal base64 data at input byte 4"),     # a lone last character
    ("", "unexpected end of JSON input"),
    (_token(b'{"v":'), "unexpected end of JSON input"),
    (_token(b"xyz"), "invalid character 'x' looking for beginning of value"),
    (_token(b"'"), "invalid character '\\'' looking for beginning of value"),
    (_token(b'{"v":1,}'), "invalid character '}' looking for beginning of object key string"),
    (_token(b"[]"), "json: cannot unmarshal array into Go value of type storage.continueToken"),
    (_fields(rv="3"), "json: cannot unmarshal string into Go struct field continueToken.rv of type int64"),
    (_fields(v=1), "json: cannot unmarshal number into Go struct field continueToken.v of type string"),
    (_fields(v="x"), "server does not recognize this encoded version x"),
    (_fields(rv=0), "incorrect encoded start resourceVersion (version meta.k8s.io/v1)"),
    (_fields(start=""), "encoded start key empty (version meta.k8s.io/v1)"),
    (_fields(start="../x"), "../x"),
    (_fields(start="a//b"), "a//b"),
    (_fields(start="a/./b"), "a/./b"),
])
def test_a_malformed_token_is_a_400_in_upstreams_words(token, why):
    with pytest.raises(StatusError) as error:
        continuetoken.decode(token)
    assert (error.value.code, error.value.reason, error.value.message) == (400, "BadRequest", f"{NOT_VALID}: {why}")
