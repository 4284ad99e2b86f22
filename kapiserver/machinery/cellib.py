"""
Kubernetes' own CEL libraries (k8s.io/apiserver pkg/cel/library): quantities, URLs, IPs and CIDRs, the
authorizer and the format library.  Their functions are ``KUBERNETES_LIBRARIES``.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Optional

import celpy
from celpy import celtypes

from . import celformat
from .celconv import StringConvertible
from .celext import Optional_, eval_error
from .quantity import parse_quantity


# Kubernetes' quantity library: quantity("1Gi"), isQuantity(s), and a Quantity's methods.
_QUANTITY = re.compile(r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?")

class Quantity:
    """A resource quantity as an exact number (its text kept for string())."""

    def __init__(self, value: Fraction, text: str = ""):
        self.value, self.text = value, text or _quantity_text(value)

    def __eq__(self, other) -> bool:
        return isinstance(other, Quantity) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __str__(self) -> str:
        return self.text


def _method(cls, getter):
    """A library method of values of ``cls``: ``getter(value)``; "no such overload" for anything else."""
    def function(value):
        return getter(value) if isinstance(value, cls) else eval_error("no such overload", TypeError)
    return function


def _quantity_text(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{int(value * 1000)}m"


def _parse_quantity(text: str) -> Optional[Fraction]:
    return parse_quantity(str(text)) if isinstance(text, str) else None


def _quantity(text):
    value = _parse_quantity(text)
    if value is None:
        return eval_error(f"quantities must match the regular expression '{_QUANTITY.pattern}'")
    return Quantity(value, str(text))


def _quantity_operand(value) -> Optional[Fraction]:
    if isinstance(value, Quantity):
        return value.value
    if isinstance(value, int) and not isinstance(value, bool):
        return Fraction(int(value))
    return None


def _quantity_arithmetic(sign: int):
    def function(q, other):
        right = _quantity_operand(other)
        if not isinstance(q, Quantity) or right is None:
            return eval_error("no such overload", TypeError)
        return Quantity(q.value + sign * right)
    return function


def _quantity_compare(q, other):
    if not isinstance(q, Quantity) or not isinstance(other, Quantity):
        return eval_error("no such overload", TypeError)
    return celtypes.IntType((q.value > other.value) - (q.value < other.value))


def _quantity_order(q, other, wanted: int):
    compared = _quantity_compare(q, other)
    return compared if isinstance(compared, celpy.CELEvalError) else celtypes.BoolType(compared == wanted)


def _as_integer(q):
    if not isinstance(q, Quantity):
        return eval_error("no such overload", TypeError)
    if q.value.denominator != 1 or not -2 ** 63 <= q.value < 2 ** 63:
        return eval_error("cannot convert value to integer")
    return celtypes.IntType(int(q.value))


# Kubernetes' URL library: url(s), isURL(s), and a URL's parts.  A URL is what Go's url.ParseRequestURI
# accepts, its parts what url.Parse makes of it (the fragment dropped, the scheme lower-cased).
_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_PATH_SUBDELIMS = set("!$&'()*+,;=:@[]%")
_PATH_UNRESERVED = set("-_.~$&+,/:;=@")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class _URL:
    def __init__(self, scheme: str, host: str, path: str, query: str):
        self.scheme, self.host, self.path, self.query = scheme, host, path, query

    def _key(self):
        return self.scheme, self.host, self.path, self.query

    def __eq__(self, other) -> bool:
        return isinstance(other, _URL) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def split_host(self) -> tuple[str, str]:
        """Go's URL.Hostname() and URL.Port()."""
        host, port = self.host, ""
        colon = host.rfind(":")
        if colon >= 0 and all("0" <= c <= "9" for c in host[colon + 1:]):
            host, port = host[:colon], host[colon + 1:]
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        return host, port

    def escaped_path(self) -> str:
        """Go's URL.EscapedPath(): the path as written when that is a valid encoding, else re-escaped."""
        from urllib.parse import unquote_to_bytes
        if all(c in _PATH_SUBDELIMS or not _path_escapes(c) for c in self.path):
            return self.path
        return "".join(chr(b) if not _path_escapes(chr(b)) else f"%{b:02X}"
                       for b in unquote_to_bytes(self.path))


def _path_escapes(c: str) -> bool:
    """Go's shouldEscape(c, encodePath)."""
    return not (c.isascii() and c.isalnum() or c in _PATH_UNRESERVED)


def _url(text):
    from urllib.parse import unquote
    from .formats import request_uri_error
    if not isinstance(text, str):
        return eval_error("no such overload", TypeError)
    error = request_uri_error(str(text))
    if error is not None:
        return eval_error(f"URL parse error during conversion from string: {error}")
    rest = str(text).partition("#")[0]
    scheme = ""
    found = _URL_SCHEME.match(rest)
    if found:
        scheme, rest = found.group(1).lower(), rest[found.end():]
    if rest.endswith("?") and rest.count("?") == 1:
        rest, query = rest[:-1], ""
    else:
        rest, _, query = rest.partition("?")
    if scheme and not rest.startswith("/"):
        return _URL(scheme, "", "", query)         # opaque: no host, no path
    host = ""
    if rest.startswith("//") and (scheme or not rest.startswith("///")):
        authority, slash, path = rest[2:].partition("/")
        host, rest = unquote(authority.rpartition("@")[2]), slash + path
    return _URL(scheme, host, rest, query)


def _url_query(u: _URL):
    """Go's URL.Query(): '&'-separated pairs, a pair with ';' or a bad escape left out."""
    from urllib.parse import unquote_plus
    out: dict = {}
    for pair in u.query.split("&"):
        if not pair or ";" in pair:
            continue
        key, _, value = pair.partition("=")
        if _BAD_ESCAPE.search(pair):
            continue
        out.setdefault(unquote_plus(key), []).append(unquote_plus(value))
    return celtypes.MapType({celtypes.StringType(k): celtypes.ListType([celtypes.StringType(v) for v in vs])
                             for k, vs in out.items()})


# Kubernetes' authorizer library: ``authorizer`` (an Authorizer) builds checks
# (authorizer.group(g).resource(r).namespace(ns).name(n).check(verb), authorizer.path(p).check(verb),
# authorizer.requestResource.check(verb), authorizer.serviceAccount(ns, name)...) whose Decisions say allowed(),
# reason(), errored() and error().  The decision itself comes from ``decide(user, check, verb)``, which the
# caller supplies: a dict of the check's attributes, answered with an AuthzDecision (or a CELEvalError when it
# cannot answer yet).

class AuthzDecision:
    def __init__(self, allowed: bool, reason: str = "", error: str = ""):
        self.allowed, self.reason, self.error = allowed, reason, error


class _AuthzCheck:
    """A check being built: a resource check (group, resource, ...) or a path check."""

    def __init__(self, authorizer: "Authorizer", fields: dict):
        self.authorizer, self.fields = authorizer, fields

    def with_field(self, key: str, value) -> "_AuthzCheck":
        return _AuthzCheck(self.authorizer, dict(self.fields, **{key: str(value)}))


class Authorizer(celtypes.MapType):
    """The ``authorizer`` variable, for ``user`` (None: the request's user); ``requestResource`` is a check of
    the resource being admitted."""

    def __init__(self, decide, request_resource: Optional[dict] = None, user: Optional[tuple] = None):
        self.decide, self.user = decide, user
        super().__init__({} if request_resource is None else
                         {celtypes.StringType("requestResource"): _AuthzCheck(self, dict(request_resource))})


def _authz_builder(kind: str, key: str):
    def function(target, value):
        if kind == "root" and isinstance(target, Authorizer):
            return _AuthzCheck(target, {key: str(value)})
        if kind == "resource" and isinstance(target, _AuthzCheck) and "path" not in target.fields:
            return target.with_field(key, value)
        return eval_error("no such overload", TypeError)
    return function


def _authz_check(target, verb):
    if not isinstance(target, _AuthzCheck):
        return eval_error("no such overload", TypeError)
    if "path" not in target.fields and "resource" not in target.fields:
        return eval_error("a resource check needs a resource: authorizer.group(g).resource(r)")
    return target.authorizer.decide(target.authorizer.user, dict(target.fields), str(verb))


def _authz_service_account(target, namespace, name):
    if not isinstance(target, Authorizer):
        return eval_error("no such overload", TypeError)
    user = (f"system:serviceaccount:{namespace}:{name}",
            ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"))
    return Authorizer(target.decide, None, user)


AUTHZ_LIBRARY = {
    "group": _authz_builder("root", "group"),
    "path": _authz_builder("root", "path"),
    "resource": _authz_builder("resource", "resource"),
    "subresource": _authz_builder("resource", "subresource"),
    "namespace": _authz_builder("resource", "namespace"),
    "name": _authz_builder("resource", "name"),
    "check": _authz_check,
    "serviceAccount": _authz_service_account,
    "allowed": _method(AuthzDecision, lambda d: celtypes.BoolType(d.allowed)),
    "reason": _method(AuthzDecision, lambda d: celtypes.StringType(d.reason)),
    "errored": _method(AuthzDecision, lambda d: celtypes.BoolType(bool(d.error))),
    "error": _method(AuthzDecision, lambda d: celtypes.StringType(d.error)),
}


# Kubernetes' IP and CIDR libraries: ip("10.0.0.1"), cidr("10.0.0.0/8"), isIP/isCIDR, and their methods.
# As upstream, an IPv4-mapped IPv6 address and an address with a zone are refused.
class IP(StringConvertible):
    def __init__(self, address):
        self.address = address

    def __eq__(self, other) -> bool:
        return isinstance(other, IP) and self.address == other.address

    def __hash__(self) -> int:
        return hash(self.address)

    def __str__(self) -> str:
        return str(self.address)


class CIDR(StringConvertible):
    def __init__(self, network, address):
        self.network, self.address = network, address      # the prefix as written, and its address

    def __eq__(self, other) -> bool:
        return isinstance(other, CIDR) and (self.network, self.address) == (other.network, other.address)

    def __hash__(self) -> int:
        return hash((self.network, self.address))

    def __str__(self) -> str:
        return f"{self.address}/{self.network.prefixlen}"


def _parse_ip(text):
    # Go's net.ParseIP (formats.parse_ip), less the IPv4-mapped IPv6 form, which the library refuses.
    from .formats import parse_ip
    address = parse_ip(str(text)) if isinstance(text, str) else None
    if address is not None and address.version == 6 and address.ipv4_mapped is not None:
        return None
    return address


def _ip(text):
    if isinstance(text, IP):
        return text
    address = _parse_ip(text)
    return IP(address) if address is not None else eval_error(f"IP Address {str(text)!r} parse error during "
                                                               f"conversion from string")


def _parse_cidr(text):
    import ipaddress

    from .formats import parse_cidr
    found = parse_cidr(str(text), _parse_ip) if isinstance(text, str) else None
    if found is None:
        return None
    address, length = found
    return CIDR(ipaddress.ip_network(f"{address}/{length}", strict=False), address)


def _cidr(text):
    if isinstance(text, CIDR):
        return text
    found = _parse_cidr(text)
    return found if found is not None else eval_error(f"network address parse error during conversion from "
                                                        f"string: network address {str(text)!r}")


def _ip_method(getter):
    return _method(IP, lambda ip: getter(ip.address))


def _contains_ip(cidr, other):
    ip = _ip(other) if isinstance(other, str) else other
    if not isinstance(cidr, CIDR) or not isinstance(ip, IP):
        return ip if isinstance(ip, celpy.CELEvalError) else eval_error("no such overload", TypeError)
    return celtypes.BoolType(ip.address.version == cidr.network.version and ip.address in cidr.network)


def _contains_cidr(cidr, other):
    inner = _cidr(other) if isinstance(other, str) else other
    if not isinstance(cidr, CIDR) or not isinstance(inner, CIDR):
        return inner if isinstance(inner, celpy.CELEvalError) else eval_error("no such overload", TypeError)
    return celtypes.BoolType(inner.network.version == cidr.network.version and
                             inner.network.subnet_of(cidr.network))


def _ip_or_cidr_ip(value):
    """ip(string) and cidr.ip(): one name, two overloads."""
    if isinstance(value, CIDR):
        return IP(value.address)
    return _ip(value)


NETWORK_LIBRARY = {
    "ip": _ip_or_cidr_ip,
    "isIP": lambda s: celtypes.BoolType(_parse_ip(s) is not None),
    "family": _ip_method(lambda a: celtypes.IntType(a.version)),
    "isUnspecified": _ip_method(lambda a: celtypes.BoolType(a.is_unspecified)),
    "isLoopback": _ip_method(lambda a: celtypes.BoolType(a.is_loopback)),
    "isLinkLocalMulticast": _ip_method(lambda a: celtypes.BoolType(
        a.is_multicast and (a in __import__("ipaddress").ip_network("224.0.0.0/24") if a.version == 4
                            else (int(a) >> 112) & 0xff0f == 0xff02))),
    "isLinkLocalUnicast": _ip_method(lambda a: celtypes.BoolType(a.is_link_local and not a.is_multicast)),
    "isGlobalUnicast": _ip_method(lambda a: celtypes.BoolType(
        not (a.is_unspecified or a.is_loopback or a.is_multicast or a.is_link_local or
             (a.version == 4 and int(a) == 0xffffffff)))),
    "cidr": _cidr,
    "isCIDR": lambda s: celtypes.BoolType(_parse_cidr(s) is not None),
    "containsIP": _contains_ip,
    "containsCIDR": _contains_cidr,
    "masked": _method(CIDR, lambda c: CIDR(c.network, c.network.network_address)),
    "prefixLength": _method(CIDR, lambda c: celtypes.IntType(c.network.prefixlen)),
}


# Kubernetes' format library: ``format`` is a value of its own (put in the activation of an expression that
# names it), whose methods are the formats' constructors and named(); a Format's validate() is an optional.
FORMAT = "format"


class _FormatLibrary:
    def __repr__(self) -> str:
        return FORMAT


FORMAT_LIBRARY = _FormatLibrary()


def _format_constructor(name: str):
    def function(library):
        return celformat.FORMATS[name] if library is FORMAT_LIBRARY else eval_error("no such overload", TypeError)
    return function


def _format_named(library, name):
    if library is not FORMAT_LIBRARY or not isinstance(name, str):
        return eval_error("no such overload", TypeError)
    found = celformat.FORMATS.get(str(name))
    return Optional_(found, found is not None)


def _format_validate(fmt, value):
    if not isinstance(fmt, celformat.Format) or not isinstance(value, str):
        return eval_error("no such overload", TypeError)
    found = celformat.messages(fmt, str(value))
    return Optional_(celtypes.ListType([celtypes.StringType(m) for m in found]), True) if found else Optional_()


FORMAT_CONSTRUCTORS = {**{name: _format_constructor(name) for name in celformat.FORMATS}, "named": _format_named}
FORMAT_LIBRARY_FUNCTIONS = {**FORMAT_CONSTRUCTORS, "validate": _format_validate}


KUBERNETES_LIBRARIES = {
    **NETWORK_LIBRARY,
    "quantity": _quantity,
    "isQuantity": lambda s: celtypes.BoolType(_parse_quantity(s) is not None),
    "sign": lambda q: celtypes.IntType((q.value > 0) - (q.value < 0)) if isinstance(q, Quantity)
    else eval_error("no such overload", TypeError),
    "isInteger": lambda q: celtypes.BoolType(q.value.denominator == 1) if isinstance(q, Quantity)
    else eval_error("no such overload", TypeError),
    "asInteger": _as_integer,
    "asApproximateFloat": lambda q: celtypes.DoubleType(float(q.value)) if isinstance(q, Quantity)
    else eval_error("no such overload", TypeError),
    "add": _quantity_arithmetic(1),
    "sub": _quantity_arithmetic(-1),
    "compareTo": _quantity_compare,
    "isGreaterThan": lambda q, o: _quantity_order(q, o, 1),
    "isLessThan": lambda q, o: _quantity_order(q, o, -1),
    "url": _url,
    "isURL": lambda s: celtypes.BoolType(not isinstance(_url(s), celpy.CELEvalError)),
    "getScheme": _method(_URL, lambda u: celtypes.StringType(u.scheme)),
    "getHost": _method(_URL, lambda u: celtypes.StringType(u.host)),
    "getHostname": _method(_URL, lambda u: celtypes.StringType(u.split_host()[0])),
    "getPort": _method(_URL, lambda u: celtypes.StringType(u.split_host()[1])),
    "getEscapedPath": _method(_URL, lambda u: celtypes.StringType(u.escaped_path())),
    "getQuery": _method(_URL, _url_query),
    **AUTHZ_LIBRARY,
    **FORMAT_LIBRARY_FUNCTIONS,
}
