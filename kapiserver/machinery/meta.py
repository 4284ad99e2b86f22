"""Object metadata helpers: timestamps, uids, generated names, the Go field order of ObjectMeta."""

from __future__ import annotations

import datetime
import os
import random
import time
from typing import Optional

from . import errors

# The order of ObjectMeta's fields in Go, which is the order upstream writes them.
OBJECT_META_ORDER = (
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
    "ownerReferences", "finalizers", "managedFields",
)


class _Ranks(dict):
    """Sort ranks by name; a name not listed ranks ``other`` (a plain __getitem__ serves sorted() as its
    key without a Python-level call per item)."""

    def __init__(self, ranks: dict, other: int):
        super().__init__(ranks)
        self.other = other

    def __missing__(self, name):
        return self.other


_META_RANK = _Ranks({name: i for i, name in enumerate(OBJECT_META_ORDER)}, 99)
# kind, apiVersion, metadata, spec first and status last, as Go's structs have them.
_TOP_RANK = _Ranks({"kind": 0, "apiVersion": 1, "metadata": 2, "spec": 3, "status": 5}, 4)

# Lower-case consonants and digits without vowels or look-alikes, as upstream's rand.String.
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
MAX_GENERATED_NAME_LENGTH = 63 - 5
GENERATED_SUFFIX_LENGTH = 5


# The last second rfc3339 formatted: a burst of writes stamps the same second many times.
_last_second: tuple[int, str] = (-1, "")


def rfc3339(ts: float) -> str:
    """Seconds-precision UTC RFC 3339, as metav1.Time marshals."""
    global _last_second
    second = int(ts)
    if _last_second[0] != second:
        _last_second = (second, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second)))
    return _last_second[1]


def rfc3339_micro(ts: float) -> str:
    """Microsecond-precision UTC RFC 3339, as metav1.MicroTime marshals."""
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> float:
    """Parse an RFC 3339 time as clients send it ("Z" or "+00:00" offsets)."""
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return datetime.datetime.fromisoformat(text).timestamp()


def parse_resource_version(text: str) -> int:
    """A resourceVersion from a request as the storage revision it names; 400 when it is not one."""
    from .errors import bad_request
    try:
        value = int(text)
        if value < 0:
            raise ValueError
        return value
    except ValueError:
        raise bad_request(f'invalid resource version "{text}"') from None


def new_uid() -> str:
    """A random (version 4) UUID as text, what ``str(uuid.uuid4())`` gives: from os.urandom as uuid4's, but
    drawn UID_BATCH at a time (a system call per uid cost more than the rest of making it; under gVisor
    several microseconds) and formatted without making a UUID object.  Safe from any thread: each uid is
    taken by one list.pop."""
    while True:
        try:
            return _uids.pop()
        except IndexError:
            _uids.extend(_format_uids(os.urandom(16 * UID_BATCH).hex()))


# How many uids' worth of random bytes one os.urandom call draws.
UID_BATCH = 256
# RFC 4122's variant: the top two bits of the clock sequence are 10, so its first hex digit is one of these.
_UUID_VARIANT = "89ab"
# The uids made and not handed out yet.
_uids: list[str] = []


def _format_uids(hexed: str) -> list[str]:
    out = []
    for at in range(0, len(hexed), 32):
        h = hexed[at:at + 32]
        out.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_UUID_VARIANT[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}")
    return out


def _forget_uids() -> None:
    """In a forked child: draw afresh, so that parent and child never hand out the same uids."""
    _uids.clear()


os.register_at_fork(after_in_child=_forget_uids)


# Upstream draws generated names from math/rand seeded once, not from a cryptographic source; a
# seeded generator spares the system call per character secrets.choice makes.
_name_random = random.Random()


def generate_name(base: str) -> str:
    if len(base) > MAX_GENERATED_NAME_LENGTH:
        base = base[:MAX_GENERATED_NAME_LENGTH]
    return base + "".join(_name_random.choices(_ALPHANUMS, k=GENERATED_SUFFIX_LENGTH))


def place_in_namespace(meta: dict, namespace: Optional[str], namespaced: bool) -> None:
    """A request's object put in the request's namespace, as upstream's handlers put it: another namespace named
    in it is a 400; a cluster-scoped object has none."""
    if not namespaced:
        meta.pop("namespace", None)
        return
    given = meta.get("namespace")
    if given and namespace and given != namespace:
        raise errors.bad_request("the namespace of the provided object does not match the namespace sent on the "
                                 "request")
    if namespace:
        meta["namespace"] = namespace


def ordered_metadata(meta: dict) -> dict:
    """ObjectMeta's fields in Go's order."""
    return {name: meta[name] for name in sorted(meta, key=_META_RANK.__getitem__)}


def ordered_object(obj: dict) -> dict:
    """The object with kind, apiVersion, metadata first and metadata in Go's order."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta = ordered_metadata(meta)
    out = {name: obj[name] for name in sorted(obj, key=_TOP_RANK.__getitem__)}
    if meta is not None:
        out["metadata"] = meta
    return out
