"""
The parts of a CustomResourceDefinition's validation that are not about its schema, as upstream's
apiextensions validation: a version's deprecationWarning, subresources and additionalPrinterColumns,
the names (spec.names), and status.storedVersions against spec.versions.
kapiserver.registry.crd.validate_crd calls these in upstream's order.
"""

from __future__ import annotations

from ...machinery import names as _names
from ...machinery.errors import FieldError, invalid, required
from ._util import as_dict

# additionalPrinterColumns: the types and formats a column may name (listed sorted, as upstream's sets are).
COLUMN_TYPES = ("boolean", "date", "integer", "number", "string")
COLUMN_FORMATS = ("byte", "date", "date-time", "double", "float", "int32", "int64", "password")
DEPRECATION_WARNING_MAX = 256


def deprecation_warning(version: dict, path: str) -> list[FieldError]:
    """``deprecationWarning``: only on a deprecated version, non-empty, at most 256 bytes, printable."""
    text = version.get("deprecationWarning")
    if text is None:
        return []
    field = f"{path}.deprecationWarning"
    if not version.get("deprecated"):
        return [invalid(field, text, "can only be set for deprecated versions")]
    text = str(text)
    problems = []
    if len(text.encode("utf-8", "surrogatepass")) > DEPRECATION_WARNING_MAX:
        problems.append(f"must be <= {DEPRECATION_WARNING_MAX} characters long")
    if not text:
        problems.append("must not be an empty string")
    offset = 0
    for char in text:
        # Python's isprintable and Go's unicode.IsPrint agree: letters, marks, numbers, punctuation, symbols
        # and the ASCII space.  The index is the byte offset, as ranging over a Go string gives.
        if not char.isprintable():
            problems.append("must only contain printable UTF-8 characters; non-printable character found at "
                            f"index {offset}")
            break
        offset += len(char.encode("utf-8", "surrogatepass"))
    return [invalid(field, text, problem) for problem in problems]


def _simple_json_path(value: str, field: str) -> list[FieldError]:
    if not value:
        return [invalid(field, value, "must not be empty")]
    if value[0] != ".":
        return [invalid(field, value, "must be a simple json path starting with .")]
    return []


def subresources(subs, path: str) -> list[FieldError]:
    """The scale subresource's paths: simple JSON paths, replicas under .spec. and .status., the label
    selector under either."""
    scale = (subs or {}).get("scale") if isinstance(subs, dict) else None
    if not isinstance(scale, dict):
        return []
    out: list[FieldError] = []
    base = f"{path}.scale"
    for key, prefixes, where in (("specReplicasPath", (".spec.",), ".spec"),
                                 ("statusReplicasPath", (".status.",), ".status")):
        value = scale.get(key) or ""
        field = f"{base}.{key}"
        if not value:
            out.append(required(field))
            continue
        errs = _simple_json_path(value, field)
        if not errs and not value.startswith(prefixes):
            errs = [invalid(field, value, f"should be a json path under {where}")]
        out += errs
    selector = scale.get("labelSelectorPath")
    if selector:
        field = f"{base}.labelSelectorPath"
        errs = _simple_json_path(selector, field)
        if not errs and not selector.startswith((".spec.", ".status.")):
            errs = [invalid(field, selector, "should be a json path under either .spec or .status")]
        out += errs
    return out


def printer_column(column: dict, path: str) -> list[FieldError]:
    """One additionalPrinterColumns entry: a name, a known type and format, a simple JSON path."""
    out: list[FieldError] = []
    if not column.get("name"):
        out.append(required(f"{path}.name"))
    kinds = "must be one of " + ",".join(COLUMN_TYPES)
    kind = column.get("type") or ""
    if not kind:
        out.append(required(f"{path}.type", kinds))
    elif kind not in COLUMN_TYPES:
        out.append(invalid(f"{path}.type", kind, kinds))
    form = column.get("format") or ""
    if form and form not in COLUMN_FORMATS:
        out.append(invalid(f"{path}.format", form, "must be one of " + ",".join(COLUMN_FORMATS)))
    json_path = column.get("jsonPath") or ""
    # Upstream names the field by its internal Go name here.
    if not json_path:
        out.append(required(f"{path}.JSONPath"))
    else:
        out += _simple_json_path(json_path, f"{path}.JSONPath")
    return out


def version(version: dict, path: str) -> list[FieldError]:
    """What a version carries besides its schema, checked after the schema as upstream does."""
    out = subresources(version.get("subresources"), f"{path}.subresources")
    for index, column in enumerate(version.get("additionalPrinterColumns") or []):
        out += printer_column(as_dict(column), f"{path}.additionalPrinterColumns[{index}]")
    return out


def dns1035_errors(field: str, value, mixed_case: bool = False) -> list[FieldError]:
    """``value`` at ``field`` as a DNS-1035 label (a kind's case aside, with ``mixed_case``): its error, if any."""
    text = value if isinstance(value, str) else str(value)
    problems = _names.is_dns1035_label(text.lower() if mixed_case else text)
    if not problems:
        return []
    detail = ",".join(problems)
    return [invalid(field, value, "may have mixed case, but should otherwise match: " + detail if mixed_case
                    else detail)]


def crd_names(names: dict, path: str = "spec.names") -> list[FieldError]:
    """plural, singular, shortNames and categories are DNS-1035 labels; kind and listKind are too, but for
    their case; kind and listKind differ."""
    out: list[FieldError] = []
    for key in ("plural", "singular", "kind", "listKind"):
        if names.get(key):
            out += dns1035_errors(f"{path}.{key}", names[key], mixed_case=key in ("kind", "listKind"))
    for index, short in enumerate(names.get("shortNames") or []):
        out += dns1035_errors(f"{path}.shortNames[{index}]", short)
    if names.get("kind") and names.get("kind") == names.get("listKind"):
        out.append(invalid(f"{path}.listKind", names["listKind"], "kind and listKind may not be the same"))
    for index, category in enumerate(names.get("categories") or []):
        out += dns1035_errors(f"{path}.categories[{index}]", category)
    return out


def stored_versions(crd: dict) -> list[FieldError]:
    """status.storedVersions: at least one, the storage version among them, and each still in spec.versions
    (a version may leave spec.versions only once a storage migration has taken it out of storedVersions)."""
    path = "status.storedVersions"
    stored = list((crd.get("status") or {}).get("storedVersions") or [])
    if not stored:
        # Go prints the empty []string this way.
        return [FieldError("FieldValueInvalid", path, "Invalid value: []string{}: must have at least one stored "
                                                      "version")]
    out: list[FieldError] = []
    missing = {name: index for index, name in enumerate(stored)}
    for entry in (crd.get("spec") or {}).get("versions") or []:
        name = entry.get("name")
        if entry.get("storage") and name not in stored:
            # Upstream prints the whole version struct (pointers and all); its name says as much.
            out.append(invalid(path, name, f"must have the storage version {name}"))
        missing.pop(name, None)
    for name, index in sorted(missing.items(), key=lambda item: item[1]):
        out.append(invalid(f"{path}[{index}]", name, "must appear in spec.versions"))
    return out
