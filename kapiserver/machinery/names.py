"""
Format checks of apimachinery's pkg/util/validation (IsDNS1123Label, IsQualifiedName, ...) and the
per-resource name rules (NameIsDNSSubdomain, ValidatePathSegmentName, ...).

Each ``is_*`` function returns upstream's list of messages, empty when valid.
"""

from __future__ import annotations

import re
from typing import Callable

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
DNS1035_LABEL_MAX = 63
QUALIFIED_NAME_MAX = 63
LABEL_VALUE_MAX = 63

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                      "and must start and end with an alphanumeric character")
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                          "'-' or '.', and must start and end with an alphanumeric character")
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_LABEL_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
                      "an alphabetic character, and end with an alphanumeric character")
_WILDCARD_FMT = "\\*\\." + _DNS1123_SUBDOMAIN_FMT
_WILDCARD_MSG = ("a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which "
                 "must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric "
                 "character")
_QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QNAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
              "alphanumeric character")
_LABEL_VALUE_FMT = "(" + _QNAME_FMT + ")?"
_LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
                    "'.', and must start and end with an alphanumeric character")
_CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
_CONFIG_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
_ENV_NAME_FMT = "[-._a-zA-Z][-._a-zA-Z0-9]*"
_ENV_NAME_MSG = ("a valid environment variable name must consist of alphabetic characters, digits, '_', '-', "
                 "or '.', and must not start with a digit")
_PERCENT_FMT = "[0-9]+%"
_PERCENT_MSG = "a valid percent string must be a numeric string followed by an ending '%'"
_C_IDENTIFIER_FMT = "[A-Za-z_][A-Za-z0-9_]*"
_C_IDENTIFIER_MSG = ("a valid C identifier must start with alphabetic character or '_', followed by a string of "
                     "alphanumeric characters or '_'")


def _stringy(fn):
    """Checks take strings; anything else (a malformed body) is checked as its text."""
    def check(value, *args):
        return fn(value if isinstance(value, str) else ("" if value is None else str(value)), *args)
    check.__name__, check.__doc__ = fn.__name__, fn.__doc__
    return check


# How many valid strings each remembering check keeps (then it starts again).
REMEMBERED_VALID = 4096


def _remembered(fn):
    """_stringy, and the strings found valid remembered: a string valid once is valid always, and the same
    namespaces, label keys and values, data keys come again and again (an object's own name rarely does)."""
    valid: set[str] = set()
    checked = _stringy(fn)

    def check(value):
        if value.__class__ is str and value in valid:
            return []
        errs = checked(value)
        if not errs and value.__class__ is str:
            if len(valid) >= REMEMBERED_VALID:
                valid.clear()
            valid.add(value)
        return errs
    check.__name__, check.__doc__ = fn.__name__, fn.__doc__
    check.valid = valid
    return check


def _full(fmt: str) -> re.Pattern:
    # Go's regexp is RE2: "$" only matches at the very end, as \Z does here.
    return re.compile("^(?:" + fmt + r")\Z")


_DNS1123_LABEL = _full(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN = _full(_DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL = _full(_DNS1035_LABEL_FMT)
_WILDCARD = _full(_WILDCARD_FMT)
_QNAME = _full(_QNAME_FMT)
_LABEL_VALUE = _full(_LABEL_VALUE_FMT)
_CONFIG_KEY = _full(_CONFIG_KEY_FMT)
_ENV_NAME = _full(_ENV_NAME_FMT)
_PERCENT = _full(_PERCENT_FMT)
_C_IDENTIFIER = _full(_C_IDENTIFIER_FMT)
_PORT_NAME_CHARSET = re.compile(r"^[-a-z0-9]+\Z")


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """RegexError: the message, examples and the regex, in upstream's exact punctuation."""
    if not examples:
        return msg + " (regex used for validation is '" + fmt + "')"
    msg += " (e.g. "
    for i, example in enumerate(examples):
        if i > 0:
            msg += " or "
        msg += "'" + example + "', "
    return msg + "regex used for validation is '" + fmt + "')"


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def empty_error() -> str:
    return "must be non-empty"


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


def _blen(value: str) -> int:
    # Go measures strings in bytes.
    return len(value.encode("utf-8", "surrogatepass"))


@_remembered
def is_dns1123_label(value: str) -> list[str]:
    errs = []
    if _blen(value) > DNS1123_LABEL_MAX:
        errs.append(max_len_error(DNS1123_LABEL_MAX))
    if not _DNS1123_LABEL.match(value):
        if _DNS1123_SUBDOMAIN.match(value):
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


@_remembered
def is_dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if _blen(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not _DNS1123_SUBDOMAIN.match(value):
        errs.append(regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


@_stringy
def is_dns1035_label(value: str) -> list[str]:
    errs = []
    if _blen(value) > DNS1035_LABEL_MAX:
        errs.append(max_len_error(DNS1035_LABEL_MAX))
    if not _DNS1035_LABEL.match(value):
        errs.append(regex_error(_DNS1035_LABEL_MSG, _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


@_stringy
def is_wildcard_dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if _blen(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not _WILDCARD.match(value):
        errs.append(regex_error(_WILDCARD_MSG, _WILDCARD_FMT, "*.example.com"))
    return errs


@_remembered
def is_qualified_name(value: str) -> list[str]:
    """IsQualifiedName: an optional DNS-subdomain prefix and "/", then a name part."""
    errs = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part " + empty_error())
        else:
            errs.extend("prefix part " + msg for msg in is_dns1123_subdomain(prefix))
    else:
        return ["a qualified name " + regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part " + empty_error())
    elif _blen(name) > QUALIFIED_NAME_MAX:
        errs.append("name part " + max_len_error(QUALIFIED_NAME_MAX))
    if not _QNAME.match(name):
        errs.append("name part " + regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc"))
    return errs


@_remembered
def is_label_value(value: str) -> list[str]:
    errs = []
    if _blen(value) > LABEL_VALUE_MAX:
        errs.append(max_len_error(LABEL_VALUE_MAX))
    if not _LABEL_VALUE.match(value):
        errs.append(regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def _ch_dir_prefix(value: str) -> list[str]:
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    if value.startswith(".."):
        return ["must not start with '..'"]
    return []


@_remembered
def is_config_map_key(value: str) -> list[str]:
    errs = []
    if _blen(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not _CONFIG_KEY.match(value):
        errs.append(regex_error(_CONFIG_KEY_MSG, _CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    return errs + _ch_dir_prefix(value)


@_stringy
def is_env_var_name(value: str) -> list[str]:
    errs = []
    if not _ENV_NAME.match(value):
        errs.append(regex_error(_ENV_NAME_MSG, _ENV_NAME_FMT, "my.env-name", "MY_ENV.NAME", "MyEnvName1"))
    return errs + _ch_dir_prefix(value)


@_stringy
def is_relaxed_env_var_name(value: str) -> list[str]:
    """The RelaxedEnvironmentVariableValidation rule (beta, on by default in 1.32)."""
    errs = []
    if not value:
        errs.append("environment variable name " + empty_error())
    if any(ord(ch) > 126 or ord(ch) < 32 or ch == "=" for ch in value):
        errs.append("a valid environment variable name must consist only of printable ASCII characters "
                    "other than '='")
    return errs


@_stringy
def is_c_identifier(value: str) -> list[str]:
    if not _C_IDENTIFIER.match(value):
        return [regex_error(_C_IDENTIFIER_MSG, _C_IDENTIFIER_FMT, "my_name", "MY_NAME", "MyName")]
    return []


def is_valid_port_num(port) -> list[str]:
    if isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535:
        return []
    return [inclusive_range_error(1, 65535)]


@_stringy
def is_valid_port_name(port: str) -> list[str]:
    errs = []
    if _blen(port) > 15:
        errs.append(max_len_error(15))
    if not _PORT_NAME_CHARSET.match(port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


@_stringy
def is_valid_percent(value: str) -> list[str]:
    if not _PERCENT.match(value):
        return [regex_error(_PERCENT_MSG, _PERCENT_FMT, "1%", "93%")]
    return []


@_stringy
def is_valid_path_segment_name(name: str) -> list[str]:
    for illegal in (".", ".."):
        if name == illegal:
            return [f"may not be '{illegal}'"]
    return [f"may not contain '{bad}'" for bad in ("/", "%") if bad in name]


@_stringy
def is_valid_path_segment_prefix(name: str) -> list[str]:
    return [f"may not contain '{bad}'" for bad in ("/", "%") if bad in name]


# -- per-resource name rules (ValidateNameFunc: (name, prefix) -> messages) -------------------

NameFunc = Callable[[str, bool], list[str]]


def _mask_trailing_dash(name: str) -> str:
    # A generateName prefix may end in "-": the random suffix follows it.
    if len(name) > 1 and name.endswith("-"):
        return name[:-1] + "a"
    return name


@_stringy
def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    return is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


@_stringy
def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    return is_dns1123_label(_mask_trailing_dash(name) if prefix else name)


@_stringy
def name_is_dns1035_label(name: str, prefix: bool) -> list[str]:
    return is_dns1035_label(_mask_trailing_dash(name) if prefix else name)


@_stringy
def path_segment_name(name: str, prefix: bool) -> list[str]:
    return is_valid_path_segment_prefix(name) if prefix else is_valid_path_segment_name(name)


def any_name(name: str, prefix: bool) -> list[str]:
    return []


RULES: dict[str, NameFunc] = {
    "DNS1123Subdomain": name_is_dns_subdomain,
    "DNS1123Label": name_is_dns_label,
    "DNS1035Label": name_is_dns1035_label,
    "PathSegmentName": path_segment_name,
    "Any": any_name,
}

# Where upstream picks something other than NameIsDNSSubdomain.
_NAME_RULES = {
    ("", "Namespace"): "DNS1123Label",
    ("", "Service"): "DNS1035Label",
    ("apps", "StatefulSet"): "DNS1123Label",
    ("rbac.authorization.k8s.io", "Role"): "PathSegmentName",
    ("rbac.authorization.k8s.io", "ClusterRole"): "PathSegmentName",
    ("rbac.authorization.k8s.io", "RoleBinding"): "PathSegmentName",
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): "PathSegmentName",
    ("certificates.k8s.io", "CertificateSigningRequest"): "Any",
}


def name_rule(group: str, kind: str) -> str:
    """The name rule of a built-in kind: one of the keys of :data:`RULES`."""
    return _NAME_RULES.get((group, kind), "DNS1123Subdomain")


def validate_name(kind_rule: str, name: str, prefix: bool = False) -> list[str]:
    """The messages for ``name`` under a rule of :data:`RULES` (empty when valid)."""
    return RULES[kind_rule](name, prefix)
