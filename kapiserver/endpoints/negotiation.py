"""
Content negotiation: which media type a request body is in, and which
representation the client accepts back (JSON, YAML, Table, PartialObjectMetadata).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Optional

from ..machinery import codec, errors

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH_YAML = "application/apply-patch+yaml"

BODY_TYPES = (JSON, YAML, PROTOBUF)
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH_YAML)
# What a 406 lists: the serializers' media types, as upstream names them (Table and the other
# transformations are parameters of JSON, not media types of their own).
ACCEPTED_RESPONSE_TYPES = (JSON, YAML, "application/vnd.kubernetes.protobuf")

TABLE_CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"


@dataclass(frozen=True)
class MediaType:
    type: str                     # "application/json"
    params: tuple[tuple[str, str], ...] = ()

    def param(self, name: str) -> Optional[str]:
        for key, value in self.params:
            if key == name:
                return value
        return None


def parse_media_type(text: str) -> MediaType:
    pieces = [p.strip() for p in text.split(";")]
    params = []
    for piece in pieces[1:]:
        if "=" in piece:
            key, value = piece.split("=", 1)
            params.append((key.strip().lower(), value.strip().strip('"')))
    return MediaType(pieces[0].lower(), tuple(params))


def parse_accept(header: Optional[str]) -> list[MediaType]:
    if not header:
        return [MediaType("*/*")]
    return [parse_media_type(part) for part in header.split(",") if part.strip()]


@dataclass(frozen=True)
class Representation:
    """What to answer with: ``media`` is json or yaml; ``target`` is "" (the
    object itself), "Table", "PartialObjectMetadata" or "PartialObjectMetadataList"."""
    media: str
    target: str = ""
    target_version: str = "v1"

    @property
    def content_type(self) -> str:
        if self.target == "Table":
            return f"application/json;as=Table;v={self.target_version};g=meta.k8s.io"
        if self.target:
            return f"application/json;as={self.target};v={self.target_version};g=meta.k8s.io"
        return self.media

    def encode(self, obj) -> bytes:
        return codec.dump_yaml(obj) if self.media == YAML else codec.encode(obj)


_PLAIN = Representation(JSON)


@functools.lru_cache(maxsize=256)
def negotiate_output(accept_header: Optional[str], allow_targets: bool = True) -> Representation:
    """The representation for an object response; 406 when none is acceptable.  Remembered per Accept header
    (a client sends the same one every time; a Representation does not change)."""
    for media in parse_accept(accept_header):
        as_ = media.param("as")
        if as_:
            if not allow_targets or media.type not in (JSON, "application/*", "*/*"):
                continue
            if media.param("g") != "meta.k8s.io" or media.param("v") not in ("v1", "v1beta1"):
                continue
            if as_ in ("Table", "PartialObjectMetadata", "PartialObjectMetadataList"):
                return Representation(JSON, as_, media.param("v"))
            continue
        if media.type in (JSON, "application/*", "*/*"):
            return _PLAIN
        if media.type in (YAML, "application/yaml", "text/yaml"):
            return Representation(YAML)
    raise errors.not_acceptable(ACCEPTED_RESPONSE_TYPES)


# What a watch can be served as: the media types with a stream serializer, in upstream's words.
ACCEPTED_STREAM_TYPES = (JSON + ";stream=watch", "application/vnd.kubernetes.protobuf;stream=watch")


def negotiate_watch(accept_header: Optional[str]) -> Representation:
    """The representation of a watch's events: as for an object, but YAML has no stream serializer upstream, so
    an Accept whose first acceptable type is YAML is a 406 naming the stream types."""
    rep = negotiate_output(accept_header)
    if rep.media == YAML:
        raise errors.not_acceptable(ACCEPTED_STREAM_TYPES)
    return rep


@functools.lru_cache(maxsize=256)
def body_media_type(content_type: Optional[str]) -> MediaType:
    """The request body's media type; a missing Content-Type is JSON.  Remembered per header (a client sends the
    same few; a MediaType does not change)."""
    if not content_type:
        return MediaType(JSON)
    return parse_media_type(content_type)


def decode_body(content_type: Optional[str], body: bytes):
    """Decode a create/update body (JSON, YAML or Kubernetes protobuf)."""
    media = body_media_type(content_type)
    if media.type == JSON or media.type == "*/*":
        try:
            return codec.loads(body)
        except ValueError as e:
            raise errors.bad_request(f"error decoding JSON body: {e}") from None
    if media.type in (YAML, "text/yaml"):
        try:
            return codec.load_yaml(body)
        except ValueError as e:
            raise errors.bad_request(f"error decoding YAML body: {e}") from None
    if media.type == PROTOBUF:
        from ..machinery import protobuf
        return protobuf.decode(body)
    raise errors.unsupported_media_type(media.type, BODY_TYPES)
