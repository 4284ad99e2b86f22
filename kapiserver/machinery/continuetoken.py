"""
Continue tokens for paged lists, in upstream's encoding: base64 (URL-safe,
without padding: Go's RawURLEncoding) of
``{"v":"meta.k8s.io/v1","rv":<revision>,"start":"<key after the prefix>"}``.
Every page of one list reads at the same revision ``rv``.
"""

from __future__ import annotations

import base64
import posixpath

from . import codec, errors, gojson

VERSION = "meta.k8s.io/v1"


def encode(revision: int, start: str) -> str:
    raw = codec.dumps({"v": VERSION, "rv": revision, "start": start})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_NOT_VALID = "continue key is not valid"


def decode(token: str) -> tuple[int, str]:
    """(revision, start key relative to the list prefix); a 400 "invalid continue token: ..." for a malformed
    token, each fault in upstream's words (its storage's DecodeContinue). Revision -1 is an inconsistent continue
    (read on at the current revision)."""
    raw = token.encode("utf-8", "surrogateescape")
    for index, byte in enumerate(raw):
        if byte not in _ALPHABET:
            raise _invalid(f"{_NOT_VALID}: illegal base64 data at input byte {index}")
    if len(raw) % 4 == 1:       # a lone last character holds no whole byte
        raise _invalid(f"{_NOT_VALID}: illegal base64 data at input byte {len(raw) - 1}")
    data = base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
    try:
        fields = codec.loads(data)
    except ValueError:
        raise _invalid(f"{_NOT_VALID}: {gojson.syntax_error(data) or gojson.END}") from None
    if not isinstance(fields, dict):
        raise _invalid(f"{_NOT_VALID}: json: cannot unmarshal {gojson.json_kind(fields)} into Go value of type "
                       f"storage.continueToken")
    for name, want, go_type in (("v", str, "string"), ("rv", int, "int64"), ("start", str, "string")):
        value = fields.get(name)
        if value is not None and (not isinstance(value, want) or isinstance(value, bool)):
            raise _invalid(f"{_NOT_VALID}: json: cannot unmarshal {gojson.json_kind(value)} into Go struct field "
                           f"continueToken.{name} of type {go_type}")
    version, revision, start = fields.get("v") or "", fields.get("rv") or 0, fields.get("start") or ""
    if version != VERSION:
        raise _invalid(f"{_NOT_VALID}: server does not recognize this encoded version {version}")
    if revision == 0 or revision < -1:
        raise _invalid(f"{_NOT_VALID}: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    if not start:
        raise _invalid(f"{_NOT_VALID}: encoded start key empty (version meta.k8s.io/v1)")
    # A start key that a path's cleaning would change (.., ., doubled slashes) could range outside the list's
    # prefix: refused, naming it. A leading slash is no part of the key.
    key = start if start.startswith("/") else "/" + start
    if _cleaned(key) != key:
        raise _invalid(f"{_NOT_VALID}: {start}")
    return revision, key[1:]


def _invalid(why: str) -> errors.StatusError:
    return errors.bad_request(f"invalid continue token: {why}")


def _cleaned(key: str) -> str:
    """Go's path.Clean of a key that begins with a slash: one leading slash, no ".", "..", empty or trailing
    element."""
    cleaned = posixpath.normpath(key)
    return "/" + cleaned.lstrip("/")
