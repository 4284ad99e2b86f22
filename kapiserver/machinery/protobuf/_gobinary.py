"""
Facts read out of a Go program built on k8s.io/api (a development tool for
_generate.py, never imported by the server): the FileDescriptorProtos that the
generated code registers, and the struct tags that reflection keeps.

Only amd64 ELF executables whose runtime type data sits in ``.rodata`` (how kubectl is built) are read.
"""

from __future__ import annotations

import re
import struct
import zlib

from . import wire

# abi.Kind values, and where things sit in abi.Type and its kind-specific tails (amd64).
_ARRAY, _MAP, _PTR, _SLICE, _STRUCT = 17, 21, 22, 23, 25
_TYPE_SIZE = 48
_TFLAG_UNCOMMON, _TFLAG_EXTRA_STAR = 1, 2
_NAME_HAS_TAG, _NAME_EMBEDDED = 2, 8


class GoBinary:
    def __init__(self, path: str):
        self.data = data = open(path, "rb").read()
        if data[:4] != b"\x7fELF" or data[4] != 2:
            raise ValueError(f"{path}: not a 64-bit ELF executable")
        section_offset, = struct.unpack_from("<Q", data, 0x28)
        entry_size, count, names_index = struct.unpack_from("<HHH", data, 0x3A)
        headers = [struct.unpack_from("<IIQQQQ", data, section_offset + i * entry_size) for i in range(count)]
        names_at = headers[names_index][4]
        self.sections = {}
        for name, _, _, address, offset, size in headers:
            label = data[names_at + name:data.index(b"\0", names_at + name)].decode()
            self.sections[label] = (address, offset, size)
        self._ranges = [v for v in self.sections.values() if v[0]]
        self._types = self.sections[".rodata"][0]   # runtime.types: name and type offsets count from here

    # --- generated.proto descriptors --------------------------------------------------------------

    def descriptors(self) -> dict[str, dict]:
        """Every embedded generated.proto: file name -> {package, go_package, messages{full name: ...}}."""
        files = {}
        for match in re.finditer(rb"\x1f\x8b\x08\x00\x00\x00\x00\x00[\x00\x02]\xff", self.data):
            try:
                raw = zlib.decompressobj(31).decompress(self.data[match.start():match.start() + (1 << 21)])
            except zlib.error:
                continue
            if b"generated.proto" not in raw[:120]:
                continue
            info = {"package": "", "go_package": "", "messages": {}}
            name, bodies = "", []
            for n, _, v in wire.fields(raw):
                if n == 1:
                    name = _text(v)
                elif n == 2:
                    info["package"] = _text(v)
                elif n == 4:
                    bodies.append(v)
                elif n == 8:
                    info["go_package"] = _text(_options(v).get(11, b""))
            for body in bodies:
                _message(body, "." + info["package"], info["messages"])
            files[name] = info
        return files

    # --- Go struct types --------------------------------------------------------------------------

    def structs(self) -> dict[tuple[str, str], list[tuple[str, str, bool]]]:
        """Named struct types reachable from the type links:
        (package path, "pkg.Name") -> [(field name, tag, embedded)]."""
        found = {}
        seen = set()
        address, offset, size = self.sections[".typelink"]
        stack = [self._types + o for o in struct.unpack_from(f"<{size // 4}i", self.data, offset)]
        while stack:
            t = stack.pop()
            if not t or t in seen:
                continue
            seen.add(t)
            kind = self._u8(t + 23) & 31
            if kind in (_PTR, _SLICE, _ARRAY):
                stack.append(self._u64(t + _TYPE_SIZE))
            elif kind == _MAP:
                stack += [self._u64(t + _TYPE_SIZE), self._u64(t + _TYPE_SIZE + 8)]
            elif kind == _STRUCT:
                fields_at, count = self._u64(t + _TYPE_SIZE + 8), self._u64(t + _TYPE_SIZE + 16)
                fields = []
                for i in range(count):
                    field = fields_at + 24 * i
                    flags, name, tag = self._name(self._u64(field))
                    fields.append((name, tag, bool(flags & _NAME_EMBEDDED)))
                    stack.append(self._u64(field + 8))
                package = ""
                if self._u8(t + 20) & _TFLAG_UNCOMMON:
                    package = self._name(self._types + self._i32(t + _TYPE_SIZE + 32))[1]
                found[(package, self._type_name(t))] = fields
        return found

    def _type_name(self, t: int) -> str:
        name = self._name(self._types + self._i32(t + 40))[1]
        return name[1:] if self._u8(t + 20) & _TFLAG_EXTRA_STAR else name

    def _name(self, address: int) -> tuple[int, str, str]:
        at = self._offset(address)
        flags = self.data[at]
        length, at = wire.read_varint(memoryview(self.data), at + 1)
        name = self.data[at:at + length].decode("utf-8", "replace")
        at += length
        tag = ""
        if flags & _NAME_HAS_TAG:
            length, at = wire.read_varint(memoryview(self.data), at)
            tag = self.data[at:at + length].decode("utf-8", "replace")
        return flags, name, tag

    def _offset(self, address: int) -> int:
        for start, offset, size in self._ranges:
            if start <= address < start + size:
                return address - start + offset
        raise KeyError(hex(address))

    def _u64(self, address: int) -> int:
        return struct.unpack_from("<Q", self.data, self._offset(address))[0]

    def _i32(self, address: int) -> int:
        return struct.unpack_from("<i", self.data, self._offset(address))[0]

    def _u8(self, address: int) -> int:
        return self.data[self._offset(address)]


def json_fields(fields: list[tuple[str, str, bool]]) -> dict[int, tuple[str, bool, bool]]:
    """A struct's fields by protobuf number: (JSON name, omitempty, inline)."""
    out = {}
    for _, tag, _ in fields:
        proto = re.search(r'protobuf:"[a-z0-9]+,(\d+),', tag)
        json_tag = re.search(r'json:"([^"]*)"', tag)
        if not proto or not json_tag:
            continue
        name, *options = json_tag.group(1).split(",")
        out[int(proto.group(1))] = (name, "omitempty" in options, "inline" in options)
    return out


def _text(value) -> str:
    return bytes(value).decode()


def _options(data) -> dict:
    return {n: v for n, _, v in wire.fields(data)}


def _field(data) -> dict:
    field = {"options": {}}
    for n, _, v in wire.fields(data):
        key = {1: "name", 3: "number", 4: "label", 5: "type", 6: "type_name"}.get(n)
        if key:
            field[key] = _text(v) if key in ("name", "type_name") else v
        elif n == 8:
            field["options"] = _options(v)
    return field


def _message(data, prefix: str, out: dict) -> None:
    message = {"fields": [], "options": {}}
    nested = []
    for n, _, v in wire.fields(data):
        if n == 1:
            message["name"] = _text(v)
        elif n == 2:
            message["fields"].append(_field(v))
        elif n == 3:
            nested.append(v)
        elif n == 7:
            message["options"] = _options(v)
    full = f"{prefix}.{message['name']}"
    out[full] = message
    for item in nested:
        _message(item, full, out)
