"""
The protobuf wire format, read only: varints, fixed-width numbers and
length-delimited fields.  Knows nothing of Kubernetes.

:func:`fields` splits one message into ``(number, wire_type, value)`` triples,
where ``value`` is an int for varint and fixed fields and a ``memoryview``
slice for length-delimited ones.  Malformed input raises :class:`WireError`.
"""

from __future__ import annotations

import struct
from typing import Iterator, Union

VARINT = 0
FIXED64 = 1
BYTES = 2
START_GROUP = 3
END_GROUP = 4
FIXED32 = 5

Value = Union[int, memoryview]


class WireError(ValueError):
    """The bytes are not well-formed protobuf."""


def read_varint(data: memoryview, pos: int) -> tuple[int, int]:
    """Return ``(value, next_position)`` for the unsigned varint at ``pos``."""
    result = 0
    shift = 0
    end = len(data)
    while True:
        if pos >= end:
            raise WireError("unexpected end of data in varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise WireError("varint is longer than 10 bytes")


def fields(data: Union[bytes, memoryview]) -> Iterator[tuple[int, int, Value]]:
    """Yield every field of one encoded message, in wire order."""
    view = memoryview(data)
    pos = 0
    end = len(view)
    while pos < end:
        key, pos = read_varint(view, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise WireError("illegal field number 0")
        if wire_type == VARINT:
            value, pos = read_varint(view, pos)
        elif wire_type == BYTES:
            length, pos = read_varint(view, pos)
            if pos + length > end:
                raise WireError(f"field {number}: length {length} runs past the end of the message")
            value = view[pos:pos + length]
            pos += length
        elif wire_type == FIXED64:
            if pos + 8 > end:
                raise WireError(f"field {number}: truncated fixed64")
            value = int.from_bytes(view[pos:pos + 8], "little")
            pos += 8
        elif wire_type == FIXED32:
            if pos + 4 > end:
                raise WireError(f"field {number}: truncated fixed32")
            value = int.from_bytes(view[pos:pos + 4], "little")
            pos += 4
        else:
            # Groups are never produced by Kubernetes' generated code.
            raise WireError(f"field {number}: unsupported wire type {wire_type}")
        yield number, wire_type, value


def int64(value: int) -> int:
    """A varint reinterpreted as a two's-complement signed 64-bit integer."""
    value &= 0xFFFFFFFFFFFFFFFF
    return value - (1 << 64) if value >> 63 else value


def int32(value: int) -> int:
    """A varint reinterpreted as a signed 32-bit integer (negatives are sign-extended to 64 bits)."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >> 31 else value


def zigzag(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


def double(value: int) -> float:
    return struct.unpack("<d", value.to_bytes(8, "little"))[0]


def float32(value: int) -> float:
    return struct.unpack("<f", value.to_bytes(4, "little"))[0]


def packed_varints(data: memoryview) -> Iterator[int]:
    """The values of a packed repeated varint field."""
    pos = 0
    while pos < len(data):
        value, pos = read_varint(data, pos)
        yield value
