"""
The string formats a CRD schema's ``format`` may name, checked as kube-openapi's
strfmt registry checks them (apiextensions validates exactly these, since 1.0).

- A format's name is normalised by dropping every "-" ("date-time" is "datetime");
  a name not in :data:`SUPPORTED` is ignored, as upstream ignores it.
- The checks are strfmt's, quirks included: "byte" refuses the empty string,
  "hostname" wants a dot or a single label, "datetime" looks only at the text
  after the first "T", "ipv4" tolerates leading zeros.
- Go's regular expressions match ASCII for ``\\d`` and ``\\s`` and end only at the
  end of the text: the patterns here say so explicitly.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from typing import Callable, Optional

from ..flags import duration_nanoseconds
from .gojson import go_quote


def normalize(name: str) -> str:
    return name.replace("-", "")


# -- uuid, colours, ssn, base64 (govalidator's patterns) -------------------------------------------

_HEX = "[0-9a-fA-F]"
_UUID = re.compile(rf"{_HEX}{{8}}-?{_HEX}{{4}}-?{_HEX}{{4}}-?{_HEX}{{4}}-?{_HEX}{{12}}")
_UUID3 = re.compile(rf"{_HEX}{{8}}-?{_HEX}{{4}}-?3{_HEX}{{3}}-?{_HEX}{{4}}-?{_HEX}{{12}}")
_UUID_VARIANT = rf"{_HEX}{{8}}-?{_HEX}{{4}}-?%s{_HEX}{{3}}-?[89abAB]{_HEX}{{3}}-?{_HEX}{{12}}"
_UUID4 = re.compile(_UUID_VARIANT % "4")
_UUID5 = re.compile(_UUID_VARIANT % "5")
_HEX_COLOR = re.compile(rf"#?(?:{_HEX}{{3}}|{_HEX}{{6}})")
_BYTE = "(?:0|[1-9][0-9]?|1[0-9][0-9]?|2[0-4][0-9]|25[0-5])"
_RGB_COLOR = re.compile(rf"rgb\([\t\n\f\r ]*{_BYTE}[\t\n\f\r ]*,[\t\n\f\r ]*{_BYTE}[\t\n\f\r ]*,"
                        rf"[\t\n\f\r ]*{_BYTE}[\t\n\f\r ]*\)")
_SSN = re.compile(r"[0-9]{3}[- ]?[0-9]{2}[- ]?[0-9]{4}")
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})")
_CREDIT_CARD = re.compile("4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}|"
                          "3(?:0[0-5]|[68][0-9])[0-9]{11}|(?:2131|1800|35[0-9]{3})[0-9]{11}")
_BSON_OBJECT_ID = re.compile(f"{_HEX}{{24}}")


def _full(pattern: re.Pattern) -> Callable[[str], bool]:
    return lambda value: pattern.fullmatch(value) is not None


def is_ssn(value: str) -> bool:
    return len(value.encode()) == 11 and _SSN.fullmatch(value) is not None


def is_credit_card(value: str) -> bool:
    digits = re.sub("[^0-9]+", "", value)
    if not _CREDIT_CARD.fullmatch(digits):
        return False
    total = 0
    for position, digit in enumerate(int(d) for d in reversed(digits)):
        if position % 2:
            digit *= 2
            digit = digit % 10 + 1 if digit >= 10 else digit
        total += digit
    return total % 10 == 0


def _isbn_digits(value: str) -> str:
    return re.sub("[\t\n\f\r -]+", "", value)


def is_isbn10(value: str) -> bool:
    digits = _isbn_digits(value)
    if not re.fullmatch("[0-9]{9}X|[0-9]{10}", digits):
        return False
    total = sum((i + 1) * int(d) for i, d in enumerate(digits[:9]))
    total += 10 * (10 if digits[9] == "X" else int(digits[9]))
    return total % 11 == 0


def is_isbn13(value: str) -> bool:
    digits = _isbn_digits(value)
    if not re.fullmatch("[0-9]{13}", digits):
        return False
    total = sum((3 if i % 2 else 1) * int(d) for i, d in enumerate(digits[:12]))
    return int(digits[12]) == (10 - total % 10) % 10


# -- hostname ---------------------------------------------------------------------------------------
# strfmt's pattern lets letters (\p{L}) and symbols (\p{S}) of any script stand where ASCII letters and
# digits do, except in the last label, which must be two or more letters.  Python's re has no \p{..}: each
# character is first mapped to its class (L letter, D digit, S symbol, or itself), then matched.
_HOSTNAME = re.compile(r"[LDS](?:-?[LDS]{0,62})?|(?:[LDS](?:[LDS-]{0,61}[LDS])?\.)+L{2,63}")


def _hostname_class(ch: str) -> str:
    if "a" <= ch <= "z" or "A" <= ch <= "Z":
        return "L"
    if "0" <= ch <= "9":
        return "D"
    if ch in "-.":
        return ch
    category = unicodedata.category(ch)
    if category.startswith("L"):
        return "L"
    if category.startswith("S"):
        return "S"
    return "?"


def is_hostname(value: str) -> bool:
    if not _HOSTNAME.fullmatch("".join(_hostname_class(ch) for ch in value)):
        return False
    return len(value.encode()) <= 255 and all(len(label.encode()) <= 63 for label in value.split("."))


# -- addresses: ipv4, ipv6, cidr, mac ----------------------------------------------------------------

def parse_ip(value: str) -> Optional[ipaddress._BaseAddress]:
    """Go's net.ParseIP: dotted IPv4 without leading zeros, or IPv6 (an IPv4 tail allowed), no zone."""
    if "%" in value or not value.isascii():
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


# k8s.io/utils' "sloppy" parsing: an IPv4 address (at the end, maybe after a ":", maybe with a prefix
# length) may carry leading zeros, as Go's parser allowed before 1.17.
_LEADING_ZEROS = re.compile(r"(^|:)0*(0|[1-9][0-9]*)\.0*(0|[1-9][0-9]*)\.0*(0|[1-9][0-9]*)\.0*(0|[1-9][0-9]*)"
                            r"(?:(/)0*(0|[1-9][0-9]*))?\Z")


def _strip_zeros(value: str) -> str:
    return _LEADING_ZEROS.sub(lambda m: f"{m[1]}{m[2]}.{m[3]}.{m[4]}.{m[5]}{m[6] or ''}{m[7] or ''}", value)


def parse_ip_sloppy(value: str):
    return parse_ip(value) or parse_ip(_strip_zeros(value))


def parse_cidr(value: str, parse_address=None) -> Optional[tuple]:
    """Go's net.ParseCIDR: (the address, the prefix length: ASCII digits, at most the address's bits), or
    None.  ``parse_address`` parses the address part (parse_ip, Go's net.ParseIP, by default)."""
    address, slash, length = value.partition("/")
    ip = (parse_address or parse_ip)(address)
    if not slash or ip is None or not re.fullmatch("[0-9]+", length) or \
            int(length) > (32 if ip.version == 4 else 128):
        return None
    return ip, int(length)


def parse_network_sloppy(value: str):
    """Go's ParseCIDRSloppy as an ipaddress network (host bits cleared), or None: a prefix length is needed, an
    IPv4 address may carry leading zeros, no zone."""
    parsed = parse_cidr(value, parse_ip_sloppy) if isinstance(value, str) else None
    return None if parsed is None else ipaddress.ip_network(parsed, strict=False)


def _parse_cidr(value: str) -> bool:
    return parse_cidr(value) is not None


def is_ipv4(value: str) -> bool:
    return parse_ip_sloppy(value) is not None and "." in value


def is_ipv6(value: str) -> bool:
    return parse_ip(value) is not None and ":" in value


def is_cidr(value: str) -> bool:
    return _parse_cidr(value) or _parse_cidr(_strip_zeros(value))


# Go's net.ParseMAC: 6, 8 or 20 octets, as xx:xx:.. or xx-xx-.., or as xxxx.xxxx...
_MAC = re.compile("|".join([rf"{_HEX}{{2}}(?:{separator}{_HEX}{{2}}){{{n}}}" for separator in (":", "-")
                            for n in (5, 7, 19)] + [rf"{_HEX}{{4}}(?:\.{_HEX}{{4}}){{{n}}}" for n in (2, 3, 9)]))


def is_mac(value: str) -> bool:
    """Go's net.ParseMAC."""
    return _MAC.fullmatch(value) is not None


# -- uri: Go's url.ParseRequestURI -------------------------------------------------------------------

_SCHEME_CHARS = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_USERINFO_CHARS = re.compile(r"[A-Za-z0-9\-._:~!$&'()*+,;=%@]*")
_HOST_PUNCTUATION = set("-_.~!$&'()*+,;=:[]<>\"")


def _unescape(text: str, mode: str = "path") -> Optional[str]:
    """Why Go's unescape refuses ``text`` (a bad %-escape, or a character a host or zone may not hold), or
    None.  ``mode`` is "path" (also userinfo), "host" or "zone"."""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "%":
            escape = text[i:i + 3]
            if not re.fullmatch(f"%{_HEX}{_HEX}", escape):
                return f"invalid URL escape {go_quote(escape)}"
            if mode == "host" and int(escape[1], 16) < 8 and escape != "%25":
                return f"invalid URL escape {go_quote(escape)}"
            i += 3
            continue
        if mode != "path" and ord(ch) < 0x80 and not (ch.isalnum() or ch in _HOST_PUNCTUATION):
            return f"invalid character {go_quote(ch)} in host name"
        i += 1
    return None


def _valid_optional_port(port: str) -> bool:
    return port == "" or (port[0] == ":" and all("0" <= c <= "9" for c in port[1:]))


def _host_error(host: str) -> Optional[str]:
    if host.startswith("["):
        end = host.rfind("]")
        if end < 0:
            return "missing ']' in host"
        if not _valid_optional_port(host[end + 1:]):
            return f"invalid port {go_quote(host[end + 1:])} after host"
    elif ":" in host:
        port = host[host.rfind(":"):]
        if not _valid_optional_port(port):
            return f"invalid port {go_quote(port)} after host"
    zone = host.find("%25") if host.startswith("[") else -1
    if zone >= 0:
        end = host.rfind("]")
        return _unescape(host[:zone], "host") or _unescape(host[zone:end], "zone") or _unescape(host[end:], "host")
    return _unescape(host, "host")


def _request_uri_error(value: str) -> Optional[str]:
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "net/url: invalid control character in URL"
    if value == "":
        return "empty url"
    if value == "*":
        return None
    scheme, rest = "", value
    colon = value.find(":")
    if colon == 0:
        return "missing protocol scheme"
    if colon > 0 and _SCHEME_CHARS.fullmatch(value[:colon]):
        scheme, rest = value[:colon], value[colon + 1:]
    if rest.endswith("?") and rest.count("?") == 1:
        rest = rest[:-1]
    else:
        rest = rest.partition("?")[0]
    if not rest.startswith("/"):
        return None if scheme else "invalid URI for request"
    if scheme and rest.startswith("//"):
        authority, slash, path = rest[2:].partition("/")
        rest = slash + path
        at = authority.rfind("@")
        error = _host_error(authority[at + 1:])
        if error:
            return error
        if at >= 0:
            userinfo = authority[:at]
            if not _USERINFO_CHARS.fullmatch(userinfo):
                return "net/url: invalid userinfo"
            error = _unescape(userinfo)
            if error:
                return error
    return _unescape(rest)


def request_uri_error(value: str) -> Optional[str]:
    """Go's url.ParseRequestURI's error text (``parse "<value>": <why>``), or None when it parses."""
    error = _request_uri_error(value)
    return None if error is None else f"parse {go_quote(value)}: {error}"


def is_uri(value: str) -> bool:
    return _request_uri_error(value) is None


# -- email: Go's net/mail.ParseAddress ---------------------------------------------------------------
# A mailbox: an addr-spec, or a display name (words or quoted strings) and "<addr-spec>"; spaces around.
# Groups and comments are not taken (upstream takes a group of one address and trailing comments).

_SPECIALS = set('()<>[]:;@\\,"')


def _is_atext(ch: str, dot: bool) -> bool:
    if ch == ".":
        return dot
    return ch not in _SPECIALS and ("!" <= ch <= "~" or ord(ch) >= 0x80)


class _MailParser:
    def __init__(self, text: str):
        self.s = text

    def skip_space(self):
        self.s = self.s.lstrip(" \t")

    def consume(self, ch: str) -> bool:
        if self.s.startswith(ch):
            self.s = self.s[1:]
            return True
        return False

    def atom(self, dot: bool, permissive: bool) -> Optional[str]:
        i = 0
        while i < len(self.s) and _is_atext(self.s[i], dot):
            i += 1
        atom, self.s = self.s[:i], self.s[i:]
        if not atom:
            return None
        if not permissive and (atom.startswith(".") or ".." in atom or atom.endswith(".")):
            return None
        return atom

    def quoted_string(self) -> Optional[str]:
        if not self.consume('"'):
            return None
        out, i = [], 0
        while i < len(self.s):
            ch = self.s[i]
            if ch == '"':
                self.s = self.s[i + 1:]
                return "".join(out)
            if ch == "\\":
                if i + 1 >= len(self.s) or not ("!" <= self.s[i + 1] <= "~" or self.s[i + 1] in " \t"
                                                 or ord(self.s[i + 1]) >= 0x80):
                    return None
                out.append(self.s[i + 1])
                i += 2
                continue
            if not ("!" <= ch <= "~" or ch in " \t" or ord(ch) >= 0x80):
                return None
            out.append(ch)
            i += 1
        return None

    def addr_spec(self) -> bool:
        saved = self.s
        self.skip_space()
        local = self.quoted_string() if self.s.startswith('"') else self.atom(True, False)
        if not local or not self.consume("@"):
            self.s = saved
            return False
        self.skip_space()
        if self.s.startswith("["):
            end = self.s.find("]")
            literal = self.s[1:end] if end > 0 else None
            if literal is None or any(c in "[\\" or not ("!" <= c <= "~" or ord(c) >= 0x80) for c in literal) \
                    or parse_ip(literal) is None:
                self.s = saved
                return False
            self.s = self.s[end + 1:]
            return True
        if self.atom(True, False) is None:
            self.s = saved
            return False
        return True

    def phrase(self) -> bool:
        words = 0
        while True:
            self.skip_space()
            word = self.quoted_string() if self.s.startswith('"') else self.atom(True, True)
            if word is None:
                return words > 0
            words += 1


def is_email(value: str) -> bool:
    parser = _MailParser(value)
    parser.skip_space()
    if not parser.s:
        return False
    if not parser.addr_spec():
        parser = _MailParser(value)
        parser.skip_space()
        if not parser.s.startswith("<") and not parser.phrase():
            return False
        parser.skip_space()
        if not parser.consume("<") or not parser.addr_spec() or not parser.consume(">"):
            return False
    parser.skip_space()
    return parser.s == ""


# -- date, date-time, duration -----------------------------------------------------------------------

def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def is_date(value: str) -> bool:
    """Go's time.Parse with the layout "2006-01-02": a real day of the proleptic Gregorian calendar."""
    found = re.fullmatch("([0-9]{4})-([0-9]{2})-([0-9]{2})", value)
    if not found:
        return False
    year, month, day = (int(part) for part in found.groups())
    return 1 <= month <= 12 and 1 <= day <= _days_in_month(year, month)


_TIME = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(?:.[0-9]+)?(?:z|[+-][0-9]{2}:[0-9]{2})")


def is_date_time(value: str) -> bool:
    """strfmt's IsDateTime: split (lower-cased) at every "t", the first part a date and the second a time."""
    if len(value.encode()) < 4:
        return False
    parts = value.lower().split("t")
    if len(parts) < 2 or not is_date(parts[0]):
        return False
    found = _TIME.fullmatch(parts[1])
    return found is not None and found[1] <= "23" and found[2] <= "59" and found[3] <= "59"


def parse_duration(text: str) -> Optional[int]:
    """Go's time.ParseDuration(text) in nanoseconds (kapiserver.flags.duration_nanoseconds), or None."""
    try:
        return duration_nanoseconds(text)
    except ValueError:
        return None


# strfmt's fallback: "<digits> <unit word>" pairs anywhere in the text, a unit known by a name or, for the
# longest name of each unit, by a prefix ("5 minutes", "3 hrs").
_UNIT_WORDS = (("ns", "nano"), ("us", "\u00b5s", "micro"), ("ms", "milli"), ("s", "sec"), ("m", "min"),
               ("h", "hr", "hour"), ("d", "day"), ("w", "wk", "week"))
_DURATION_PAIR = re.compile("([0-9]+)[\t\n\f\r ]*([A-Za-z\u00b5]+)")


def is_duration(value: str) -> bool:
    if parse_duration(value) is not None:
        return True
    known = False
    for found in _DURATION_PAIR.finditer(value):
        if int(found[1]) >= 2 ** 63:
            return False        # Go's strconv.Atoi fails, and with it the whole parse
        unit = found[2].lower()
        known = known or any(unit == word or (word == words[-1] and unit.startswith(word))
                             for words in _UNIT_WORDS for word in words)
    return known


# -- the registry -------------------------------------------------------------------------------------

CHECKS: dict[str, Callable[[str], bool]] = {
    "bsonobjectid": _full(_BSON_OBJECT_ID),
    "uri": is_uri,
    "email": is_email,
    "hostname": is_hostname,
    "ipv4": is_ipv4,
    "ipv6": is_ipv6,
    "cidr": is_cidr,
    "mac": is_mac,
    "uuid": _full(_UUID),
    "uuid3": _full(_UUID3),
    "uuid4": _full(_UUID4),
    "uuid5": _full(_UUID5),
    "isbn": lambda value: is_isbn10(value) or is_isbn13(value),
    "isbn10": is_isbn10,
    "isbn13": is_isbn13,
    "creditcard": is_credit_card,
    "ssn": is_ssn,
    "hexcolor": _full(_HEX_COLOR),
    "rgbcolor": _full(_RGB_COLOR),
    "byte": _full(_BASE64),
    "password": lambda value: True,
    "date": is_date,
    "duration": is_duration,
    "datetime": is_date_time,
}
SUPPORTED = frozenset(CHECKS)


def valid(format_name: str, value: str) -> bool:
    """Whether ``value`` has the format ``format_name`` names; True for a format apiextensions ignores."""
    check = CHECKS.get(normalize(format_name))
    return check is None or check(value)
