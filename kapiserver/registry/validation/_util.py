"""Shared pieces of the validators: error constructors, Go value rendering, selectors."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from ...machinery import codec
from ...machinery.errors import (FieldError, duplicate, forbidden, invalid, not_found_field,  # noqa: F401
                                 not_supported, required, too_long)
from ...machinery import names

FIELD_IMMUTABLE = "field is immutable"

Errors = list[FieldError]


def text(value: Any) -> str:
    """A string field's value; a malformed (non-string) one is checked as its text."""
    if isinstance(value, str):
        return value
    return "" if value is None or value is False else str(value)


def seq(value: Any) -> list:
    """A list field's value; anything else (a malformed body) counts as empty."""
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def as_dicts(value: Any) -> list[dict]:
    """A list of objects' members, a malformed (non-dict) one counted as an empty object, so that each keeps its
    index in the error paths (a malformed list is empty)."""
    return [as_dict(item) for item in value] if isinstance(value, list) else []


def dict_items(value: Any) -> list[dict]:
    """The dict members of a list (a malformed list yields nothing to check)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def invalid_go(field: str, rendered: str, detail: str = "") -> FieldError:
    """field.Invalid whose bad value Go prints with %#v (maps, structs, slices)."""
    return FieldError("FieldValueInvalid", field, f"Invalid value: {rendered}" + (f": {detail}" if detail else ""))


def duplicate_go(field: str, rendered: str) -> FieldError:
    return FieldError("FieldValueDuplicate", field, f"Duplicate value: {rendered}")


def go_quote(value: Any) -> str:
    return codec.dumps("" if value is None else str(value)).decode()


def go_string_map(value: Any) -> str:
    """%#v of a map[string]string: keys sorted, as fmt prints maps."""
    if value is None:
        return "map[string]string(nil)"
    if not isinstance(value, dict):
        return go_quote(value)
    body = ", ".join(f"{go_quote(k)}:{go_quote(v)}" for k, v in sorted(value.items()))
    return "map[string]string{" + body + "}"


def go_strings(value: Any) -> str:
    if value is None:
        return "[]string(nil)"
    return "[]string{" + ", ".join(go_quote(v) for v in (value if isinstance(value, list) else [value])) + "}"


def go_label_selector(selector: Any) -> str:
    """%#v of a metav1.LabelSelector value."""
    selector = as_dict(selector)
    expressions = selector.get("matchExpressions")
    if not isinstance(expressions, list):
        rendered = "[]v1.LabelSelectorRequirement(nil)"
    else:
        rendered = "[]v1.LabelSelectorRequirement{" + ", ".join(
            f"v1.LabelSelectorRequirement{{Key:{go_quote(e.get('key'))}, Operator:{go_quote(e.get('operator'))}, "
            f"Values:{go_strings(e.get('values'))}}}" for e in dict_items(expressions)) + "}"
    return (f"v1.LabelSelector{{MatchLabels:{go_string_map(selector.get('matchLabels'))}, "
            f"MatchExpressions:{rendered}}}")


def go_int_or_string(value: Any) -> str:
    if isinstance(value, str):
        return f"intstr.IntOrString{{Type:1, IntVal:0, StrVal:{go_quote(value)}}}"
    return f"intstr.IntOrString{{Type:0, IntVal:{value or 0}, StrVal:\"\"}}"


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def nonnegative(value: Any, field: str) -> Errors:
    """ValidateNonnegativeField."""
    if is_int(value) and value < 0:
        return [invalid(field, value, "must be greater than or equal to 0")]
    return []


def immutable(new: Any, old: Any, field: str, render=None) -> Errors:
    """ValidateImmutableField."""
    if new != old:
        if render is not None:
            return [invalid_go(field, render(new), FIELD_IMMUTABLE)]
        return [invalid(field, new, FIELD_IMMUTABLE)]
    return []


def dns1123_label(value: str, field: str) -> Errors:
    return [invalid(field, value, msg) for msg in names.is_dns1123_label(value)]


def dns1123_subdomain(value: str, field: str) -> Errors:
    return [invalid(field, value, msg) for msg in names.is_dns1123_subdomain(value)]


def qualified_name(value: str, field: str) -> Errors:
    return [invalid(field, value, msg) for msg in names.is_qualified_name(value)]


def labels(value: Any, field: str) -> Errors:
    """ValidateLabels: keys are qualified names, values label values; the path is the map's."""
    errs: Errors = []
    if not isinstance(value, dict):
        return errs
    for key in sorted(value):
        errs += [invalid(field, key, msg) for msg in names.is_qualified_name(key)]
        errs += [invalid(field, value[key], msg) for msg in names.is_label_value(str(value[key]))]
    return errs


_SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def label_selector(selector: Any, field: str) -> Errors:
    """ValidateLabelSelector (strict label values)."""
    errs: Errors = []
    if not isinstance(selector, dict):
        return errs
    expressions = selector.get("matchExpressions")
    for i, expr in enumerate(seq(expressions)):
        path = f"{field}.matchExpressions[{i}]"
        if not isinstance(expr, dict):
            continue
        operator, values = expr.get("operator"), expr.get("values")
        values = seq(values)
        if operator in ("In", "NotIn"):
            if not values:
                errs.append(required(f"{path}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                errs.append(forbidden(f"{path}.values",
                                      "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            errs.append(invalid(f"{path}.operator", operator, "not a valid selector operator"))
        errs += qualified_name(str(expr.get("key", "")), f"{path}.key")
        for j, v in enumerate(values):
            errs += [invalid(f"{path}.values[{j}]", v, msg) for msg in names.is_label_value(str(v))]
    errs += labels(selector.get("matchLabels"), f"{field}.matchLabels")
    return errs


def selector_matches(selector: Any, target: Any) -> bool:
    """Whether a LabelSelector selects a label set.  A missing selector selects nothing;
    an empty one selects everything."""
    if not isinstance(selector, dict):
        return False
    target = as_dict(target)
    for key, value in as_dict(selector.get("matchLabels")).items():
        if target.get(key) != value:
            return False
    for expr in dict_items(selector.get("matchExpressions")):
        key, operator, values = str(expr.get("key")), expr.get("operator"), expr.get("values")
        values = seq(values)
        if operator == "In" and target.get(key) not in values:
            return False
        if operator == "NotIn" and key in target and target[key] in values:
            return False
        if operator == "Exists" and key not in target:
            return False
        if operator == "DoesNotExist" and key in target:
            return False
    return True


def selector_empty(selector: Any) -> bool:
    selector = as_dict(selector)
    return not (selector.get("matchLabels") or selector.get("matchExpressions"))


def one_of(value: Any, field: str, supported: Iterable[str]) -> Errors:
    """Required when empty, NotSupported when not among ``supported``."""
    supported = list(supported)
    if value in (None, ""):
        return [required(field, "")]
    if value not in supported:
        return [not_supported(field, value, supported)]
    return []


def supported_once(values: list, field: str, supported: Sequence[str]) -> Errors:
    """Each member of a list one of ``supported`` (NotSupported) and none twice (Duplicate), reported at its
    index, in the list's order."""
    errs: Errors = []
    seen: set = set()
    for i, value in enumerate(values):
        if value not in supported:
            errs.append(not_supported(f"{field}[{i}]", value, supported))
        if value in seen:
            errs.append(duplicate(f"{field}[{i}]", value))
        seen.add(value)
    return errs


def int_or_percent(value: Any, field: str) -> Errors:
    """ValidatePositiveIntOrPercent (its "5%%" is upstream's literal text)."""
    if isinstance(value, str):
        return [invalid_go(field, go_int_or_string(value), msg) for msg in names.is_valid_percent(value)]
    if is_int(value):
        return nonnegative(value, field)
    return [invalid_go(field, go_int_or_string(value), "must be an integer or percentage (e.g '5%%')")]


def percent_value(value: Any) -> tuple[int, bool]:
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        return int(value[:-1]), True
    return 0, False


def not_more_than_100_percent(value: Any, field: str) -> Errors:
    number, is_percent = percent_value(value)
    if is_percent and number > 100:
        return [invalid_go(field, go_int_or_string(value), "must not be greater than 100%")]
    return []


def int_or_percent_value(value: Any) -> int:
    if isinstance(value, str):
        return percent_value(value)[0]
    return value if is_int(value) else 0


def go_field(name: str) -> str:
    """A JSON field's Go name (its first letter upper-cased)."""
    return name[:1].upper() + name[1:]


def go_diff(type_name: str, old: dict, new: dict) -> str:
    """What changed between two structs, in the spirit of upstream's cmp.Diff in "may not change" messages (Go
    field names; the values as JSON, where Go prints Go values)."""
    lines = [f"  {type_name}{{"]
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            if key in old:
                lines.append(f"- \t{go_field(key)}: {codec.dumps(old[key]).decode()},")
            if key in new:
                lines.append(f"+ \t{go_field(key)}: {codec.dumps(new[key]).decode()},")
    lines.append("  }")
    return "\n".join(lines) + "\n"
