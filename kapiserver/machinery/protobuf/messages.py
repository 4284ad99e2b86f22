"""
The message tables, compiled on first use.

Each ``tables/<group>_<version>.py`` module holds one string per message:
``"<number> <jsonName> <type><flags>; ..."`` where the type is a scalar
(``string``, ``int32``, ``bytes``...), a message (bare for the same package,
else ``package.Name``) or ``map<K,V>``, and the flags are

- ``*`` repeated;
- ``?`` a pointer scalar: printed whenever it is on the wire, even as a zero value;
- ``!`` always printed, as Go's JSON prints it: a value (non-pointer) struct, or a
  scalar, slice or map whose JSON tag has no ``omitempty`` (an absent slice or map is null);
- ``^`` inlined: the JSON form merges the message's fields into the parent.

Fields without ``?`` or ``!`` are printed only when non-zero (``omitempty``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Optional

_MODULES = (
    "meta_v1", "runtime", "runtime_schema", "resource", "intstr",
    "core_v1", "admissionregistration_v1", "apps_v1", "authentication_v1", "authorization_v1",
    "autoscaling_v1", "autoscaling_v2", "batch_v1", "certificates_v1", "coordination_v1",
    "discovery_v1", "events_v1", "flowcontrol_v1", "networking_v1", "node_v1", "policy_v1",
    "rbac_v1", "scheduling_v1", "storage_v1",
)

SCALARS = frozenset({"double", "float", "int64", "uint64", "int32", "fixed64", "fixed32", "bool",
                     "string", "bytes", "uint32", "sfixed32", "sfixed64", "sint32", "sint64"})


@dataclass(frozen=True, slots=True)
class Type:
    """A field's value type: a scalar name, a message's full name, or a map."""
    name: str                       # "string", "core.v1.Container", "map"
    key: Optional["Type"] = None    # maps only
    value: Optional["Type"] = None  # maps only

    @property
    def scalar(self) -> bool:
        return self.name in SCALARS


@dataclass(frozen=True, slots=True)
class Field:
    number: int
    name: str
    type: Type
    repeated: bool
    keep_zero: bool    # a zero value read from the wire is printed
    always: bool       # printed even when absent from the wire
    inline: bool


@dataclass(frozen=True, slots=True)
class Message:
    name: str                       # full short name, e.g. "core.v1.Pod"
    fields: dict[int, Field]        # by number
    list_wrapper: bool              # JSON form is the list of its ``items``


_specs: dict[str, str] = {}
_lists: set[str] = set()
_kinds: dict[str, frozenset] = {}
_compiled: dict[str, Message] = {}


def _load() -> None:
    if _specs:
        return
    for module_name in _MODULES:
        module = importlib.import_module(f"{__package__}.tables.{module_name}")
        package = module.PACKAGE
        for name, spec in module.MESSAGES.items():
            _specs[f"{package}.{name}"] = spec
        _lists.update(f"{package}.{name}" for name in module.LISTS)
        _kinds[package] = module.KINDS


def _parse_type(text: str, package: str) -> Type:
    if text.startswith("map<"):
        key, value = text[4:-1].split(",", 1)
        return Type("map", _parse_type(key, package), _parse_type(value, package))
    if text in SCALARS or "." in text:
        return Type(text)
    return Type(f"{package}.{text}")


def _compile(name: str) -> Message:
    spec = _specs[name]
    package = name.rpartition(".")[0]
    fields = {}
    for part in spec.split(";"):
        part = part.strip()
        if not part:
            continue
        number, json_name, type_text = part.split()
        flags = ""
        while type_text[-1] in "*?!^":
            flags += type_text[-1]
            type_text = type_text[:-1]
        fields[int(number)] = Field(int(number), json_name, _parse_type(type_text, package),
                                    "*" in flags, "?" in flags or "!" in flags, "!" in flags, "^" in flags)
    return Message(name, fields, name in _lists)


def message(name: str) -> Optional[Message]:
    """The compiled table of one message (``"core.v1.Pod"``), or None if it is not known."""
    _load()
    found = _compiled.get(name)
    if found is None and name in _specs:
        found = _compiled[name] = _compile(name)
    return found


def is_kind(package: str, kind: str) -> bool:
    """Whether ``kind`` is an API kind of ``package`` (``"apps.v1"``, ``"meta.v1"``)."""
    _load()
    return kind in _kinds.get(package, ())


def names() -> list[str]:
    """Every message in the tables (for coverage reports and tests)."""
    _load()
    return sorted(_specs)
