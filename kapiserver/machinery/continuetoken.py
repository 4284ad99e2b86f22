"""
Continue tokens for paged lists, in upstream's encoding: base64 (URL-safe,
no padding is not used upstream: standard RawURLEncoding) of
``{"v":"meta.k8s.io/v1","rv":<revision>,"start":"<key after the prefix>"}``.
Every page of one list reads at the same revision ``rv``.
"""

from __future__ import annotations

import base64

from . import codec, errors

VERSION = "meta.k8s.io/v1"


def encode(revision: int, start: str) -> str:
    raw = codec.dumps({"v": VERSION, "rv": revision, "start": start})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str) -> tuple[int, str]:
    """(revision, start key relative to the list prefix); 400 on a malformed token.
    Revision -1 is an inconsistent continue (read on at the current revision)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = codec.loads(raw)
        if data.get("v") != VERSION:
            raise ValueError("unknown version")
        revision = int(data["rv"])
        start = data["start"]
        if not isinstance(start, str) or start.startswith("/") or "/../" in ("/" + start + "/") \
                or revision == 0 or revision < -1:
            raise ValueError("invalid start")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise errors.bad_request("continue key is not valid: incorrect encoded start resourceVersion "
                                 "(version meta.k8s.io/v1)") from None
    return revision, start
