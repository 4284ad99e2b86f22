"""
Kubernetes' CEL format library (k8s.io/apiserver's library.Format, 1.31; CRD rules
may use it from 1.32), as plain data for cel.py to bind:

- ``format.named(name)`` is the named format as an optional (none for a name not
  in :data:`FORMATS`); ``format.<name>()`` is the format itself;
- ``<format>.validate(s)`` is none when ``s`` is valid, else the list of messages
  :func:`messages` returns: the Kubernetes name checks' own messages, Go's
  url.ParseRequestURI error for "uri", one fixed message for the strfmt formats.
"""

from __future__ import annotations

from typing import Callable

from . import formats, names


class Format:
    """One named format; each exists once, so two are equal when they are the same format."""

    def __init__(self, name: str, check: Callable[[str], list[str]]):
        self.name, self.check = name, check

    def __repr__(self) -> str:
        return f"Format({self.name!r})"


def _request_uri(value: str) -> list[str]:
    error = formats.request_uri_error(value)
    return [error] if error else []


def _strfmt(name: str, message: str) -> Callable[[str], list[str]]:
    return lambda value: [] if formats.valid(name, value) else [message]


# The names after "format." and in format.named(), as upstream's ConstantFormats.
FORMATS: dict[str, Format] = {
    "dns1123Label": Format("DNS1123Label", lambda s: names.name_is_dns_label(s, False)),
    "dns1123Subdomain": Format("DNS1123Subdomain", lambda s: names.name_is_dns_subdomain(s, False)),
    "dns1035Label": Format("DNS1035Label", lambda s: names.name_is_dns1035_label(s, False)),
    "qualifiedName": Format("QualifiedName", names.is_qualified_name),
    "dns1123LabelPrefix": Format("DNS1123LabelPrefix", lambda s: names.name_is_dns_label(s, True)),
    "dns1123SubdomainPrefix": Format("DNS1123SubdomainPrefix", lambda s: names.name_is_dns_subdomain(s, True)),
    "dns1035LabelPrefix": Format("DNS1035LabelPrefix", lambda s: names.name_is_dns1035_label(s, True)),
    "labelValue": Format("LabelValue", names.is_label_value),
    "uri": Format("URI", _request_uri),
    "uuid": Format("uuid", _strfmt("uuid", "does not match the UUID format")),
    "byte": Format("byte", _strfmt("byte", "invalid base64")),
    "date": Format("date", _strfmt("date", "invalid date")),
    "datetime": Format("datetime", _strfmt("datetime", "invalid datetime")),
}


def messages(fmt: Format, value: str) -> list[str]:
    """Why ``value`` is not of ``fmt`` (empty when it is)."""
    return list(fmt.check(value))
