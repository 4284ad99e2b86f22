"""
What every printer shares: the Printer type, column definitions with upstream's
descriptions, and the formatting helpers of pkg/printers/internalversion and
k8s.io/apimachinery/pkg/util/duration.

The server always prints "wide" (upstream's table convertor asks for Wide), so a
row carries a cell for every column, priority-1 columns included.
"""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping, Optional

from ...machinery import schema
from ._retired import RETIRED_DOCS

Obj = Mapping[str, Any]
Cells = Callable[[Obj, datetime], list]

_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


class Printer:
    """Columns plus the function that turns one object into one row of cells.

    ``columns`` is the Table's ``columnDefinitions`` (dicts with name, type, format,
    description, priority, in upstream's order); ``row(obj, now)`` the cells;
    ``conditions(obj)`` the row conditions (only pods have any), or None; ``order``, when
    given, the sort key the rows of a list are printed in (upstream's list printer sorts
    FlowSchemas), else they keep the list's order; ``headers_always`` for a convertor that
    writes its columns whatever noHeaders asks (the aggregator's APIService table)."""

    def __init__(self, columns: Callable[[], list[dict]], cells: Cells,
                 conditions: Optional[Callable[[Obj], Optional[list[dict]]]] = None,
                 rows_start_nil: bool = False, order: Optional[Callable[[Obj], Any]] = None,
                 headers_always: bool = False):
        self._columns = columns
        self._cells = cells
        self._conditions = conditions
        self.order = order
        self.headers_always = headers_always
        # upstream's default convertor appends rows to a nil slice: no objects -> "rows": null
        self.rows_start_nil = rows_start_nil

    @functools.cached_property
    def columns(self) -> list[dict]:
        # built on first use: the descriptions come from the 1.3 MB upstream definitions
        return self._columns()

    def row(self, obj: Obj, now: datetime) -> list:
        return self._cells(obj, now)

    def conditions(self, obj: Obj) -> Optional[list[dict]]:
        return self._conditions(obj) if self._conditions else None


def doc(definition: str, field: str) -> str:
    """The upstream description of ``field`` in ``definition`` (short names are io.k8s.api.*; a retired
    version's definition, which upstream's printers still read, from _retired)."""
    if f"{definition}.{field}" in RETIRED_DOCS:
        return RETIRED_DOCS[f"{definition}.{field}"]
    if not definition.startswith("io.k8s."):
        definition = "io.k8s.api." + definition
    node = schema.definitions().get(definition, {})
    return node.get("properties", {}).get(field, {}).get("description", "")


def column(name: str, type_: str, description: str, priority: int = 0, format_: str = "") -> dict:
    return {"name": name, "type": type_, "format": format_, "description": description,
            "priority": priority}


def name_column(priority: int = 0, format_: str = "name") -> dict:
    return column("Name", "string", doc(_META, "name"), priority, format_)


def age_column() -> dict:
    return column("Age", "string", doc(_META, "creationTimestamp"))


CONTAINERS_DOC = "Names of each container in the template."
IMAGES_DOC = "Images referenced by each container in the template."


def container_columns() -> list[dict]:
    """The wide Containers and Images columns of every workload."""
    return [column("Containers", "string", CONTAINERS_DOC, 1), column("Images", "string", IMAGES_DOC, 1)]


# --- durations and timestamps ------------------------------------------------------------------

def human_duration(seconds: float) -> str:
    """duration.HumanDuration: ``5s``, ``3m2s``, ``15m``, ``5h3m``, ``2d3h``, ``3y45d``..."""
    micros = round(seconds * 1_000_000)
    return _human(micros)


def _human(micros: int) -> str:
    secs = int(micros / 1_000_000) if micros >= 0 else -((-micros) // 1_000_000)
    if secs < -1:
        return "<invalid>"  # more than the two seconds of clock skew it tolerates
    if secs < 0:
        return "0s"
    if secs < 60 * 2:
        return f"{secs}s"
    minutes = micros // 60_000_000
    if minutes < 10:
        s = secs % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = micros // 3_600_000_000
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def parse_time(value: Any) -> Optional[datetime]:
    """An RFC 3339 timestamp (metav1.Time or MicroTime) as an aware datetime; None when unset."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    if parsed.year == 1 and parsed.month == 1 and parsed.day == 1 and parsed.hour == 0 \
            and parsed.minute == 0 and parsed.second == 0:
        return None  # Go's zero time
    return parsed


# Go's Time.Sub saturates at time.Duration's range (int64 nanoseconds, about 292 years) either way
_MAX_MICROS = (2 ** 63 - 1) // 1000
_MIN_MICROS = -(2 ** 63) // 1000


def _elapsed(later: datetime, earlier: datetime) -> int:
    delta = later - earlier
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return max(_MIN_MICROS, min(_MAX_MICROS, micros))


def translate_timestamp_since(timestamp: Any, now: datetime) -> str:
    """The age of a timestamp as upstream prints it; ``<unknown>`` when unset."""
    when = parse_time(timestamp)
    if when is None:
        return "<unknown>"
    return _human(_elapsed(now, when))


def since(when: datetime, now: datetime) -> str:
    return _human(_elapsed(now, when))


def duration_between(start: datetime, end: datetime) -> str:
    return _human(_elapsed(end, start))


def age(obj: Obj, now: datetime) -> str:
    return translate_timestamp_since(meta(obj).get("creationTimestamp"), now)


# --- small accessors ---------------------------------------------------------------------------

def get(obj: Any, path: str, default: Any = None) -> Any:
    """The value at a dotted path, or ``default`` when any step is missing or null."""
    node = obj
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return default
        node = node.get(part)
        if node is None:
            return default
    return node


def meta(obj: Obj) -> Mapping:
    return obj.get("metadata") or {}


def name(obj: Obj) -> str:
    return meta(obj).get("name", "")


def deleting(obj: Obj) -> bool:
    return meta(obj).get("deletionTimestamp") is not None


def int_cell(value: Any) -> int:
    return int(value or 0)


def layout_containers(containers: Optional[Iterable[Mapping]]) -> tuple[str, str]:
    """The Containers and Images cells: names and images, comma-joined in order."""
    containers = list(containers or [])
    return (",".join(c.get("name", "") for c in containers),
            ",".join(c.get("image", "") for c in containers))


def quantity(value: Any) -> str:
    """A resource.Quantity as printed; the stored form is already canonical, and unset is 0."""
    return "0" if value is None or value == "" else str(value)


def int_or_string(value: Any) -> str:
    return str(value)


def join_host_port(host: str, port: Any) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def list_with_more(items: list[str], more: bool, count: int, limit: int, empty: str = "<unset>") -> str:
    text = ",".join(items)
    if more:
        return f"{text} + {count - limit} more..."
    return text or empty


def controller_of(obj: Obj) -> Optional[Mapping]:
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def ptr(value: Any, unset: str) -> Any:
    """A pointer field's cell: ``unset`` only when absent (an empty string prints as empty)."""
    return unset if value is None else value


def bool_ptr(value: Optional[bool]) -> str:
    if value is None:
        return "<unset>"
    return "True" if value else "False"
