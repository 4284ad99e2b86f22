"""
Kubernetes protobuf request bodies (``application/vnd.kubernetes.protobuf``)
turned into the JSON-shaped dict the same object has in JSON.

A body is the magic ``k8s\\x00`` followed by a ``runtime.Unknown``: the
envelope names the kind, its ``raw`` field holds the object's message.  The
dict is what Go would print after unmarshalling the message into the typed
struct: zero values of ``omitempty`` fields dropped, pointers kept, maps with
sorted keys, ``bytes`` as base64, and the special types (Time, MicroTime,
Duration, Quantity, IntOrString, RawExtension, FieldsV1) in their JSON forms.
"""

from __future__ import annotations

import base64
import datetime
from typing import Any, Optional

from .. import codec, errors
from . import messages, wire
from .messages import Field, Message, Type

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"

# apiVersion group -> the proto package's first label (k8s.io/api/<label>/<version>)
GROUP_PACKAGES = {
    "": "core", "admissionregistration.k8s.io": "admissionregistration", "apps": "apps",
    "authentication.k8s.io": "authentication", "authorization.k8s.io": "authorization",
    "autoscaling": "autoscaling", "batch": "batch", "certificates.k8s.io": "certificates",
    "coordination.k8s.io": "coordination", "discovery.k8s.io": "discovery", "events.k8s.io": "events",
    "flowcontrol.apiserver.k8s.io": "flowcontrol", "meta.k8s.io": "meta", "networking.k8s.io": "networking",
    "node.k8s.io": "node", "policy": "policy", "rbac.authorization.k8s.io": "rbac",
    "scheduling.k8s.io": "scheduling", "storage.k8s.io": "storage",
}

# metav1 kinds that every group-version registers (AddToGroupVersion).
META_KINDS = frozenset({"DeleteOptions", "CreateOptions", "UpdateOptions", "PatchOptions", "GetOptions",
                        "ListOptions", "Status", "WatchEvent"})

_MAX_NESTED_ENVELOPES = 16
_ZERO_TIME_SECONDS = -62135596800   # Go's time.Time{}: year 1, printed as null
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

_VARINT_TYPES = frozenset({"int64", "uint64", "int32", "uint32", "bool", "sint32", "sint64"})
_FIXED64_TYPES = frozenset({"double", "fixed64", "sfixed64"})
_FIXED32_TYPES = frozenset({"float", "fixed32", "sfixed32"})


class ProtobufError(ValueError):
    """The message does not match its table (wrong wire type, bad nested data)."""


def decode(body: bytes, default_api_version: str = "", default_kind: str = "") -> dict:
    """Decode a protobuf request body into its JSON-shaped dict, ``apiVersion`` and ``kind`` first.

    The defaults fill an envelope that omits them, as upstream fills them from the endpoint.
    Malformed bodies raise a 400 BadRequest StatusError; a kind missing from
    the tables raises 400 too, as upstream's "no kind is registered" does.
    """
    return _decode_envelope(body, default_api_version, default_kind, 0)


def _decode_envelope(body: bytes, default_api_version: str, default_kind: str, depth: int) -> dict:
    if not body.startswith(MAGIC):
        raise errors.bad_request("provided data does not appear to be a protobuf message, "
                                 f"expected prefix {list(MAGIC)}".replace(",", ""))
    try:
        envelope = _envelope(memoryview(body)[len(MAGIC):])
    except (wire.WireError, ProtobufError) as e:
        raise errors.bad_request(f"proto: runtime.Unknown: {e}") from None
    api_version = envelope.get("apiVersion") or default_api_version
    kind = envelope.get("kind") or default_kind
    if envelope.get("contentEncoding"):
        raise errors.bad_request(f"unsupported content encoding {envelope['contentEncoding']!r} "
                                 "in the protobuf envelope")
    if envelope.get("contentType", MEDIA_TYPE) not in ("", MEDIA_TYPE):
        raise errors.bad_request(f"unsupported content type {envelope['contentType']!r} in the protobuf envelope")
    if not kind:
        raise errors.bad_request("Object 'Kind' is missing in the protobuf envelope")
    table = _kind_table(api_version, kind)
    try:
        obj = _decode_message(table, envelope.get("raw", memoryview(b"")), depth)
    except (wire.WireError, ProtobufError) as e:
        version = api_version.rpartition("/")[2]
        raise errors.bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: '
                                 f"proto: {kind}: {e}") from None
    except RecursionError:
        raise errors.bad_request(f"{kind}: the object is nested too deeply") from None
    result = {"apiVersion": api_version, "kind": kind}
    result.update(obj)
    return result


def _envelope(data: memoryview) -> dict[str, Any]:
    """runtime.Unknown: typeMeta{apiVersion=1, kind=2}=1, raw=2, contentEncoding=3, contentType=4."""
    out: dict[str, Any] = {}
    names = {3: "contentEncoding", 4: "contentType"}
    for number, wire_type, value in wire.fields(data):
        if wire_type != wire.BYTES:
            raise ProtobufError(f"wrong wireType = {wire_type} for field {number}")
        if number == 1:
            for inner, inner_type, text in wire.fields(value):
                if inner in (1, 2) and inner_type == wire.BYTES:
                    out["apiVersion" if inner == 1 else "kind"] = bytes(text).decode("utf-8", "replace")
        elif number == 2:
            out["raw"] = value
        elif number in names:
            out[names[number]] = bytes(value).decode("utf-8", "replace")
    return out


def _kind_table(api_version: str, kind: str) -> Message:
    group, _, version = api_version.rpartition("/")
    label = GROUP_PACKAGES.get(group)
    if label is not None and version:
        package = f"{label}.{version}"
        if messages.is_kind(package, kind):
            table = messages.message(f"{package}.{kind}")
            if table is not None:
                return table
    if kind in META_KINDS and version:
        return messages.message(f"meta.v1.{kind}")
    raise errors.bad_request(f'no kind "{kind}" is registered for version "{api_version}"')


def _decode_message(table: Message, data: memoryview, depth: int) -> Any:
    """One message's JSON form (a dict, or a string/number/list for the special types)."""
    special = _SPECIAL.get(table.name)
    if special is not None:
        return special(table, data, depth)
    values: dict[int, Any] = {}
    chunks: dict[int, list] = {}   # singular messages: every occurrence is merged, as proto does
    for number, wire_type, raw in wire.fields(data):
        field = table.fields.get(number)
        if field is None:
            continue   # unknown fields are skipped, as generated Go code does
        kind = field.type
        if kind.name == "map":
            _check(field, wire_type, wire.BYTES)
            key, value = _map_entry(field, raw, depth)
            values.setdefault(number, {})[key] = value
        elif not kind.scalar:
            _check(field, wire_type, wire.BYTES)
            if field.repeated:
                values.setdefault(number, []).append(_decode_message(_table(kind), raw, depth))
            else:
                chunks.setdefault(number, []).append(raw)
        elif field.repeated:
            if wire_type == wire.BYTES and kind.name not in ("string", "bytes"):
                items = values.setdefault(number, [])
                items.extend(_packed(field, raw))
            else:
                values.setdefault(number, []).append(_scalar(field, wire_type, raw))
        else:
            values[number] = _scalar(field, wire_type, raw)
    for number, parts in chunks.items():
        joined = memoryview(b"".join(parts)) if len(parts) > 1 else parts[0]
        values[number] = _decode_message(_table(table.fields[number].type), joined, depth)
    if table.list_wrapper:
        return values.get(1)
    for number, field in table.fields.items():
        if field.always and number not in values:
            values[number] = _absent(field, depth)
    out: dict[str, Any] = {}
    for number in sorted(values):
        field = table.fields[number]
        value = values[number]
        if field.inline:
            out.update(value)
        elif field.type.name == "map" and value is not None:
            out[field.name] = {key: value[key] for key in sorted(value)}
        elif field.repeated or field.keep_zero or not field.type.scalar or value:
            out[field.name] = value
    return out


def _absent(field: Field, depth: int) -> Any:
    """What Go prints for a field that was not on the wire but is printed regardless."""
    if field.repeated or field.type.name in ("map", "bytes"):
        return None
    if field.type.scalar:
        return _zero(field.type)
    return _decode_message(_table(field.type), memoryview(b""), depth)


def _table(kind: Type) -> Message:
    table = messages.message(kind.name)
    if table is None:
        raise ProtobufError(f"no table for message {kind.name}")
    return table


def _check(field: Field, wire_type: int, expected: int) -> None:
    if wire_type != expected:
        raise ProtobufError(f"wrong wireType = {wire_type} for field {field.name}")


def _scalar(field: Field, wire_type: int, raw) -> Any:
    name = field.type.name
    if name == "string":
        _check(field, wire_type, wire.BYTES)
        return bytes(raw).decode("utf-8", errors="replace")
    if name == "bytes":
        _check(field, wire_type, wire.BYTES)
        return base64.b64encode(raw).decode()
    if name in _VARINT_TYPES:
        _check(field, wire_type, wire.VARINT)
    elif name in _FIXED64_TYPES:
        _check(field, wire_type, wire.FIXED64)
    else:
        _check(field, wire_type, wire.FIXED32)
    return _number(name, raw)


def _number(name: str, value: int) -> Any:
    if name in ("int64", "sfixed64"):
        return wire.int64(value)
    if name in ("int32", "sfixed32"):
        return wire.int32(value)
    if name == "uint32":
        return value & 0xFFFFFFFF
    if name in ("uint64", "fixed64", "fixed32"):
        return value & 0xFFFFFFFFFFFFFFFF
    if name == "bool":
        return value != 0
    if name in ("sint32", "sint64"):
        return wire.zigzag(value)
    if name == "double":
        return wire.double(value)
    if name == "float":
        return wire.float32(value)
    raise ProtobufError(f"unsupported scalar type {name}")


def _packed(field: Field, raw: memoryview) -> list:
    name = field.type.name
    if name in _VARINT_TYPES:
        return [_number(name, v) for v in wire.packed_varints(raw)]
    size = 8 if name in _FIXED64_TYPES else 4
    if len(raw) % size:
        raise ProtobufError(f"bad packed length for field {field.name}")
    return [_number(name, int.from_bytes(raw[i:i + size], "little")) for i in range(0, len(raw), size)]


def _map_entry(field: Field, raw: memoryview, depth: int) -> tuple[Any, Any]:
    key_type, value_type = field.type.key, field.type.value
    key: Any = _zero(key_type)
    value: Any = None
    for number, wire_type, item in wire.fields(raw):
        if number == 1:
            key = _scalar(Field(1, field.name + ".key", key_type, False, True, False, False), wire_type, item)
        elif number == 2:
            if value_type.scalar:
                value = _scalar(Field(2, field.name + ".value", value_type, False, True, False, False), wire_type,
                                item)
            else:
                _check(field, wire_type, wire.BYTES)
                value = _decode_message(_table(value_type), item, depth)
    if value is None:
        # An absent value is the zero value of its type.
        value = _zero(value_type) if value_type.scalar else _decode_message(_table(value_type), memoryview(b""),
                                                                            depth)
    return key, value


def _zero(kind: Type) -> Any:
    if kind.name in ("string", "bytes"):
        return ""
    if kind.name == "bool":
        return False
    return 0


# --- the types whose JSON form is not an object --------------------------------------------------

def _plain(table: Message, data: memoryview) -> dict[int, Any]:
    """The scalar fields of a small special message, by number, last occurrence winning;
    ``bytes`` fields come back raw rather than base64."""
    out: dict[int, Any] = {}
    for number, wire_type, raw in wire.fields(data):
        field = table.fields.get(number)
        if field is None or not field.type.scalar:
            continue
        if field.type.name == "bytes":
            _check(field, wire_type, wire.BYTES)
            out[number] = bytes(raw)
        else:
            out[number] = _scalar(field, wire_type, raw)
    return out


def _timestamp(seconds: int, micros: int, fraction: bool) -> str:
    try:
        moment = _EPOCH + datetime.timedelta(seconds=seconds, microseconds=micros)
    except OverflowError:
        raise ProtobufError(f"timestamp {seconds} is out of range") from None
    # Formatted by hand: strftime does not zero-pad years before 1000 everywhere, Go does.
    text = (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
            f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}")
    if fraction:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


def _time(table: Message, data: memoryview, depth: int) -> Optional[str]:
    # metav1.Time keeps whole seconds only; an empty message is the zero time, printed as null.
    if not len(data):
        return None
    seconds = _plain(table, data).get(1, 0)
    return None if seconds == _ZERO_TIME_SECONDS else _timestamp(seconds, 0, False)


def _micro_time(table: Message, data: memoryview, depth: int) -> Optional[str]:
    if not len(data):
        return None
    fields = _plain(table, data)
    seconds, nanos = fields.get(1, 0), fields.get(2, 0)
    if seconds == _ZERO_TIME_SECONDS and nanos == 0:
        return None
    extra, nanos = divmod(nanos, 1_000_000_000)
    return _timestamp(seconds + extra, nanos // 1000, True)


def go_duration(nanos: int) -> str:
    """Go's time.Duration.String(): ``1h2m3.5s``, ``150ms``, ``0s``."""
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    n = abs(nanos)
    if n < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if n >= size:
                return sign + _fraction(n, size) + unit
    hours, rest = divmod(n, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = _fraction(rest, 1_000_000_000) + "s"
    if hours or minutes:
        text = f"{minutes}m" + text
    if hours:
        text = f"{hours}h" + text
    return sign + text


def _fraction(value: int, unit: int) -> str:
    whole, part = divmod(value, unit)
    if not part:
        return str(whole)
    digits = str(part).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


def _duration(table: Message, data: memoryview, depth: int) -> str:
    return go_duration(_plain(table, data).get(1, 0))


def _quantity(table: Message, data: memoryview, depth: int) -> str:
    return _plain(table, data).get(1) or "0"


def _int_or_string(table: Message, data: memoryview, depth: int) -> Any:
    fields = _plain(table, data)
    if fields.get(1, 0) == 1:
        return fields.get(3, "")
    return fields.get(2, 0)


def _raw_json(raw: Optional[bytes], depth: int) -> Any:
    if not raw:
        return None
    if raw.startswith(MAGIC):
        if depth >= _MAX_NESTED_ENVELOPES:
            raise ProtobufError("embedded objects are nested too deeply")
        try:
            return _decode_envelope(raw, "", "", depth + 1)
        except errors.StatusError as e:
            raise ProtobufError(f"embedded object: {e.message}") from None
    try:
        return codec.loads(raw)
    except ValueError as e:
        raise ProtobufError(f"embedded object is not valid JSON: {e}") from None


def _raw_extension(table: Message, data: memoryview, depth: int) -> Any:
    return _raw_json(_plain(table, data).get(1), depth)


def _fields_v1(table: Message, data: memoryview, depth: int) -> Any:
    raw = _plain(table, data).get(1)
    if not raw:
        return None
    try:
        return codec.loads(raw)
    except ValueError as e:
        raise ProtobufError(f"managed fields are not valid JSON: {e}") from None


_SPECIAL = {
    "meta.v1.Time": _time,
    "meta.v1.MicroTime": _micro_time,
    "meta.v1.Duration": _duration,
    "meta.v1.FieldsV1": _fields_v1,
    "resource.Quantity": _quantity,
    "intstr.IntOrString": _int_or_string,
    "runtime.RawExtension": _raw_extension,
}
