"""What the apiserver's proxy (pods/NAME/proxy, services/NAME/proxy, nodes/NAME/proxy) rewrites in a backend's
answer, as upstream's proxy transport (k8s.io/apimachinery pkg/util/proxy/transport.go) does, sans-IO:

- a Location header: a same-host absolute path is moved under the proxy's path;
- a text/html body (plain, gzip or raw-deflate encoded): every start tag is written again (name and attribute
  names lower-cased, each value double-quoted and escaped), and the URL-valued attributes of the tags listed in
  ``URL_ATTRIBUTES`` are rewritten as a Location is.

URLs are read and written as Go's net/url reads and writes them (a rewritten value is Go's URL.String(), so a
relative link comes back re-escaped), tags found as Go's html tokenizer finds them (comments, raw-text elements,
quoted attribute values), so the bytes are upstream's."""

from __future__ import annotations

import gzip
import html.entities
import re
import zlib
from typing import Callable, List, Optional, Tuple

from ..machinery.gojson import go_quote

# The URL-valued attributes of each tag (upstream's atomsToAttrs).
URL_ATTRIBUTES = {
    "a": ("href",), "applet": ("codebase",), "area": ("href",), "audio": ("src",), "base": ("href",),
    "blockquote": ("cite",), "body": ("background",), "button": ("formaction",), "command": ("icon",),
    "del": ("cite",), "embed": ("src",), "form": ("action",), "frame": ("longdesc", "src"), "head": ("profile",),
    "html": ("manifest",), "iframe": ("longdesc", "src"), "img": ("longdesc", "src", "usemap"),
    "input": ("src", "usemap", "formaction"), "ins": ("cite",), "link": ("href",),
    "object": ("classid", "codebase", "data", "usemap"), "q": ("cite",), "script": ("src",), "source": ("src",),
    "video": ("poster", "src"),
}


class URLError(ValueError):
    """A URL Go's url.Parse refuses; ``str()`` is Go's error text."""


# -- Go's net/url ---------------------------------------------------------------------------------------------
_PATH, _HOST, _USER, _FRAGMENT = "path", "host", "user", "fragment"
_ALNUM = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_HOST_OK = frozenset(b"!$&'()*+,;=:[]<>\"")
_RESERVED = frozenset(b"$&+,/:;=?@")
_SUB_DELIMS = frozenset(b"!$&'()*+,;=:@[]%")
_USERINFO_OK = frozenset(b"-._:~!$&'()*+,;=%@")


def _should_escape(c: int, mode: str) -> bool:
    if c in _ALNUM:
        return False
    if mode == _HOST and c in _HOST_OK:
        return False
    if c in b"-_.~":
        return False
    if c in _RESERVED:
        if mode == _PATH:
            return c == ord("?")
        if mode == _USER:
            return c in b"@/?:"
        return False                        # a fragment keeps every reserved character
    if mode == _FRAGMENT and c in b"!()*":
        return False
    return True


def _escape(text: str, mode: str) -> str:
    raw = text.encode("utf-8", "surrogateescape")
    return "".join(f"%{c:02X}" if _should_escape(c, mode) else chr(c) for c in raw)


def _unescape(text: str, mode: str) -> str:
    raw = text.encode("utf-8", "surrogateescape")
    out, i = bytearray(), 0
    while i < len(raw):
        c = raw[i]
        if c == 0x25:
            piece = raw[i:i + 3]
            if len(piece) < 3 or not all(chr(h) in "0123456789abcdefABCDEF" for h in piece[1:]):
                raise URLError(f"invalid URL escape {go_quote(piece.decode('utf-8', 'surrogateescape'))}")
            if mode == _HOST and int(piece[1:2], 16) < 8 and piece != b"%25":
                raise URLError(f"invalid URL escape {go_quote(piece.decode('ascii'))}")
            out.append(int(piece[1:], 16))
            i += 3
            continue
        if mode == _HOST and c < 0x80 and _should_escape(c, mode):
            raise URLError(f"invalid character {go_quote(chr(c))} in host name")
        out.append(c)
        i += 1
    return out.decode("utf-8", "surrogateescape")


def _valid_encoded(text: str, mode: str) -> bool:
    return all(c in _SUB_DELIMS or not _should_escape(c, mode) for c in text.encode("utf-8", "surrogateescape"))


def _valid_port(port: str) -> bool:
    return port == "" or port.startswith(":") and port[1:].isascii() and (port[1:].isdigit() or port == ":")


class URL:
    """A URL as Go's url.Parse reads it; ``str()`` is Go's URL.String()."""

    def __init__(self):
        self.scheme = self.opaque = self.host = self.path = self.raw_path = ""
        self.fragment = self.raw_fragment = self.raw_query = ""
        self.user: Optional[Tuple[str, Optional[str]]] = None
        self.force_query = self.omit_host = False

    @classmethod
    def parse(cls, raw: str) -> "URL":
        before, hash_, fragment = raw.partition("#")
        try:
            url = cls._parse(before)
        except URLError as e:
            raise URLError(f"parse {go_quote(before)}: {e}") from None
        if hash_ and fragment:
            try:
                url.fragment = _unescape(fragment, _FRAGMENT)
            except URLError as e:
                raise URLError(f"parse {go_quote(raw)}: {e}") from None
            url.raw_fragment = "" if _escape(url.fragment, _FRAGMENT) == fragment else fragment
        return url

    @classmethod
    def _parse(cls, raw: str) -> "URL":
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
            raise URLError("net/url: invalid control character in URL")
        url = cls()
        if raw == "*":
            url.path = "*"
            return url
        found = re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", raw)
        if raw.startswith(":"):
            raise URLError("missing protocol scheme")
        rest = raw
        if found:
            url.scheme, rest = found.group()[:-1].lower(), raw[found.end():]
        if rest.endswith("?") and rest.count("?") == 1:
            url.force_query, rest = True, rest[:-1]
        else:
            rest, _, url.raw_query = rest.partition("?")
        if not rest.startswith("/"):
            if url.scheme:
                url.opaque = rest
                return url
            if ":" in rest.partition("/")[0]:
                raise URLError("first path segment in URL cannot contain colon")
        if (url.scheme or not rest.startswith("///")) and rest.startswith("//"):
            authority, slash, path = rest[2:].partition("/")
            url.user, url.host = _parse_authority(authority)
            rest = slash + path
        elif url.scheme and rest.startswith("/"):
            url.omit_host = True
        url.path = _unescape(rest, _PATH)
        url.raw_path = "" if _escape(url.path, _PATH) == rest else rest
        return url

    def escaped_path(self) -> str:
        if self.raw_path and _valid_encoded(self.raw_path, _PATH):
            try:
                if _unescape(self.raw_path, _PATH) == self.path:
                    return self.raw_path
            except URLError:
                pass
        return "*" if self.path == "*" else _escape(self.path, _PATH)

    def __str__(self) -> str:
        out = []
        if self.scheme:
            out.append(self.scheme + ":")
        if self.opaque:
            out.append(self.opaque)
        else:
            if (self.scheme or self.host or self.user is not None) and not (
                    self.omit_host and not self.host and self.user is None):
                if self.host or self.path or self.user is not None:
                    out.append("//")
                if self.user is not None:
                    name, password = self.user
                    out.append(_escape(name, _USER) + ("" if password is None else ":" + _escape(password, _USER))
                               + "@")
                if self.host:
                    out.append(_escape(self.host, _HOST))
            path = self.escaped_path()
            if path and not path.startswith("/") and self.host:
                out.append("/")
            if not out and ":" in path.partition("/")[0]:
                out.append("./")
            out.append(path)
        if self.force_query or self.raw_query:
            out.append("?" + self.raw_query)
        if self.fragment:
            fragment = self.raw_fragment
            valid = fragment and _valid_encoded(fragment, _FRAGMENT)
            if not (valid and _unescape(fragment, _FRAGMENT) == self.fragment):
                fragment = _escape(self.fragment, _FRAGMENT)
            out.append("#" + fragment)
        return "".join(out)


def _parse_authority(authority: str) -> Tuple[Optional[Tuple[str, Optional[str]]], str]:
    at = authority.rfind("@")
    host = _parse_host(authority[at + 1:] if at >= 0 else authority)
    if at < 0:
        return None, host
    userinfo = authority[:at]
    if not all(c in _ALNUM or c in _USERINFO_OK for c in userinfo.encode("utf-8", "surrogateescape")):
        raise URLError("net/url: invalid userinfo")
    if ":" not in userinfo:
        return (_unescape(userinfo, _USER), None), host
    name, _, password = userinfo.partition(":")
    return (_unescape(name, _USER), _unescape(password, _USER)), host


def _parse_host(host: str) -> str:
    if host.startswith("["):
        close = host.rfind("]")
        if close < 0:
            raise URLError("missing ']' in host")
        if not _valid_port(host[close + 1:]):
            raise URLError(f"invalid port {go_quote(host[close + 1:])} after host")
    elif ":" in host:
        port = host[host.rfind(":"):]
        if not _valid_port(port):
            raise URLError(f"invalid port {go_quote(port)} after host")
    return _unescape(host, _HOST)


def clean_path(path: str) -> str:
    """Go's path.Clean."""
    if not path:
        return "."
    rooted = path.startswith("/")
    parts: List[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    joined = "/".join(parts)
    return ("/" + joined) if rooted else (joined or ".")


def join_path(*elements: str) -> str:
    """Go's path.Join: the non-empty elements joined by slashes, cleaned."""
    kept = [e for e in elements if e]
    return clean_path("/".join(kept)) if kept else ""


def join_host_port(host: str, port) -> str:
    """Go's net.JoinHostPort."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Rewriter:
    """How one proxied request's answer is rewritten: ``prepend`` is the proxy's own path (the request's path
    less the backend's), ``backend_host`` the host[:port] dialled, ``request_host`` the client's Host header;
    ``forwarded_uri`` is the X-Forwarded-Uri the backend is told, ``backend_path`` the (escaped) path it is asked
    for."""

    def __init__(self, prepend: str, backend_host: str, request_host: str, forwarded_uri: str = "",
                 backend_path: str = "/"):
        self.prepend, self.backend_host, self.request_host = prepend, backend_host, request_host
        self.forwarded_uri, self.backend_path = forwarded_uri, backend_path

    @classmethod
    def for_proxy(cls, path: str, rest: List[str], backend_host: str, request_host: str) -> "Rewriter":
        """The rewriter of a request for ``path`` (decoded) whose segments after .../proxy are ``rest``: the
        backend's path is those segments joined and cleaned (a trailing slash kept), and the proxy's own path
        is what is left of ``path`` before it, as upstream's connect options and UpgradeAwareHandler have them.
        The backend is asked for that path escaped as Go's URL.EscapedPath escapes it ("/" for none)."""
        trailing = path.endswith("/")
        sub = "/".join(rest)
        if sub and not sub.startswith("/"):
            sub = "/" + sub
        if trailing and not sub.endswith("/"):
            sub += "/"
        location = join_path(sub)
        if sub.endswith("/") and not location.endswith("/"):
            location += "/"
        backend_path = location + ("/" if trailing and not location.endswith("/") else "")
        prepend = path[:-len(location)] if location and path.endswith(location) else path
        escaped = _escape(backend_path, _PATH)
        forwarded = join_path(prepend, escaped) + ("/" if backend_path.endswith("/") else "")
        return cls(prepend, backend_host, request_host, forwarded, escaped or "/")

    def url(self, url: URL) -> str:
        """A link moved under the proxy when it is an absolute path on the backend's host (or on the
        apiserver's, as the client named it), else as it was (written again)."""
        elsewhere = url.host and url.host not in (self.backend_host, self.request_host)
        if elsewhere or not url.path.startswith("/"):
            return str(url)
        if url.host != self.request_host:
            url.scheme = url.host = ""         # the proxy's own scheme and host, empty on a server's request
        if url.path.startswith(self.prepend):
            return str(url)
        trailing = url.path.endswith("/")
        url.path = join_path(self.prepend, url.path) + ("/" if trailing else "")
        return str(url)

    def location(self, value: str) -> str:
        """A Location header's value rewritten; URLError when Go's url.Parse refuses it."""
        return self.url(URL.parse(value))

    def html(self, body: bytes) -> bytes:
        return rewrite_html(body, self._attribute)

    def _attribute(self, value: str) -> str:
        try:
            return self.url(URL.parse(value))
        except URLError:
            return value


class BodyError(Exception):
    """A text/html body that could not be read (a broken gzip or deflate stream); ``str()`` is Go's words."""


# The most of a text/html body rewritten, as it came and once decoded: past it, an answer is relayed as it came
# (upstream's rewriting streams; here the body is held whole, so its size is bounded instead).
MAX_BODY = 16 * 1024 * 1024


def rewrite_body(body: bytes, encoding: str, rewrite: Callable[[bytes], bytes],
                 limit: int = MAX_BODY) -> Optional[bytes]:
    """A text/html body with its links rewritten, in the same Content-Encoding (identity, gzip, or deflate as Go
    reads it: a raw DEFLATE stream); None for an encoding not understood or a body whose text passes ``limit``
    bytes (the body is sent as it came), decompressed ``limit`` bytes at most.  Raises BodyError where upstream's
    rewriting fails."""
    if encoding == "":
        return rewrite(body) if len(body) <= limit else None
    if encoding == "gzip":
        if not body:
            raise BodyError("errorf making gzip reader: EOF")
        if len(body) < 10:
            raise BodyError("errorf making gzip reader: unexpected EOF")
        if body[:3] != b"\x1f\x8b\x08":
            raise BodyError("errorf making gzip reader: gzip: invalid header")
        try:
            plain = _gunzip(body, limit)
        except zlib.error:
            raise BodyError("gzip: invalid checksum") from None
        return None if plain is None else gzip.compress(rewrite(plain), mtime=0)
    if encoding == "deflate":
        try:
            plain, rest = _inflate(body, -15, limit)
        except zlib.error:
            raise BodyError("flate: corrupt input before offset 0") from None
        if plain is None:
            return None
        writer = zlib.compressobj(9, zlib.DEFLATED, -15)
        return writer.compress(rewrite(plain)) + writer.flush()
    return None


def _inflate(data: bytes, wbits: int, limit: int) -> Tuple[Optional[bytes], bytes]:
    """One zlib stream at the start of ``data`` decompressed, at most ``limit`` bytes at a time held: (its bytes,
    what follows it), (None, b"") past ``limit``; BodyError("unexpected EOF") for a stream cut short."""
    reader = zlib.decompressobj(wbits)
    parts, size = [], 0
    while data and not reader.eof:
        part = reader.decompress(data, limit + 1 - size)
        size += len(part)
        if size > limit:
            return None, b""
        parts.append(part)
        data = reader.unconsumed_tail
    if not reader.eof:
        raise BodyError("unexpected EOF")
    return b"".join(parts), reader.unused_data


def _gunzip(body: bytes, limit: int) -> Optional[bytes]:
    """The members of a gzip body decompressed one after the other (as gzip.decompress reads them: zero bytes
    between them skipped), None past ``limit`` bytes in all."""
    members, size = [], 0
    while body:
        plain, body = _inflate(body, 16 + zlib.MAX_WBITS, limit - size)
        if plain is None:
            return None
        members.append(plain)
        size += len(plain)
        body = body.lstrip(b"\x00")
    return b"".join(members)


# -- Go's html tokenizer, as far as finding start tags goes ---------------------------------------------------
_SPACE = " \n\r\t\f"
_RAW_TEXT = ("iframe", "noembed", "noframes", "noscript", "plaintext", "script", "style", "textarea", "title",
             "xmp")
_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ESCAPES = str.maketrans({"&": "&amp;", "'": "&#39;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "\r": "&#13;"})


class _Tag:
    def __init__(self, name: str, attributes: List[Tuple[str, str]], end: int, self_closing: bool):
        self.name, self.attributes, self.end, self.self_closing = name, attributes, end, self_closing


def _read_tag(text: str, i: int) -> Optional[_Tag]:
    """The tag whose name starts at text[i] (just after '<' or '</'), or None when the text ends inside it."""
    n = len(text)
    start = i
    while i < n and text[i] not in _SPACE and text[i] not in "/>":
        i += 1
    name = text[start:i].translate(_LOWER)
    attributes: List[Tuple[str, str]] = []
    while True:
        while i < n and text[i] in _SPACE:
            i += 1
        if i >= n:
            return None
        if text[i] == ">":
            return _Tag(name, attributes, i + 1, text[i - 1] == "/")
        key_start = i
        i += 1 if text[i] == "=" else 0      # an '=' first is part of the key
        while i < n and text[i] not in _SPACE and text[i] not in "/=>":
            i += 1
        key = text[key_start:i]
        if i < n and text[i] in _SPACE + "/":
            i += 1
        value = ""
        j = i
        while j < n and text[j] in _SPACE:
            j += 1
        if j < n and text[j] == "=":
            i = j + 1
            while i < n and text[i] in _SPACE:
                i += 1
            if i < n and text[i] in "'\"":
                close = text.find(text[i], i + 1)
                if close < 0:
                    return None
                value, i = text[i + 1:close], close + 1
            elif i < n and text[i] != ">":
                value_start = i
                while i < n and text[i] not in _SPACE and text[i] != ">":
                    i += 1
                value = text[value_start:i]
        if key:
            attributes.append((key.translate(_LOWER),
                               _unescape_attribute(value.replace("\r\n", "\n").replace("\r", "\n"))))
        if i >= n:
            return None


def _skip_raw_text(text: str, i: int, tag: str) -> int:
    """Where a raw-text element's text (after its start tag at i) ends: at its end tag, or the end."""
    if tag == "plaintext":
        return len(text)
    lowered = text.translate(_LOWER)
    while True:
        found = lowered.find("</" + tag, i)
        if found < 0:
            return len(text)
        after = found + 2 + len(tag)
        if after >= len(text) or text[after] in _SPACE + "/>":
            return found
        i = found + 1


def _skip_comment(text: str, i: int) -> int:
    """Where a comment whose '<!--' ends at i ends."""
    dashes, beginning, n = 0, True, len(text)
    while i < n:
        c = text[i]
        i += 1
        if c == "-":
            dashes += 1
            continue
        if c == ">" and (dashes >= 2 or beginning):
            return i
        if c == "!" and dashes >= 2 and i < n:
            if text[i] == ">":
                return i + 1
            if text[i] == "-":
                i += 1
                dashes, beginning = 1, False
                continue
        dashes, beginning = 0, False
    return n


def _until_close_angle(text: str, i: int) -> int:
    close = text.find(">", i)
    return len(text) if close < 0 else close + 1


def rewrite_html(body: bytes, rewrite_url: Callable[[str], str]) -> bytes:
    """``body`` with each start tag written again, the URL-valued attributes of URL_ATTRIBUTES' tags through
    ``rewrite_url``; everything else byte for byte (a tag the body ends inside is dropped, as upstream's)."""
    text = body.decode("utf-8", "surrogateescape")
    out: List[str] = []
    i, n = 0, len(text)
    while i < n:
        lt = text.find("<", i)
        if lt < 0 or lt + 1 >= n:
            out.append(text[i:])
            break
        c = text[lt + 1]
        if c.isascii() and c.isalpha():
            out.append(text[i:lt])
            tag = _read_tag(text, lt + 1)
            if tag is None:
                break
            out.append(_start_tag(tag, rewrite_url))
            i = tag.end
            if tag.name in _RAW_TEXT:
                end = _skip_raw_text(text, i, tag.name)
                out.append(text[i:end])
                i = end
        elif c == "/":
            if lt + 2 >= n:
                out.append(text[i:])
                break
            c = text[lt + 2]
            if c.isascii() and c.isalpha():
                tag = _read_tag(text, lt + 2)
                if tag is None:
                    out.append(text[i:lt])
                    break
                end = tag.end
            else:
                end = lt + 3 if c == ">" else _until_close_angle(text, lt + 2)
            out.append(text[i:end])
            i = end
        elif c in "!?":
            if c == "!" and text.startswith("--", lt + 2):
                end = _skip_comment(text, lt + 4)
            else:
                end = _until_close_angle(text, lt + 2)
            out.append(text[i:end])
            i = end
        else:
            out.append(text[i:lt + 1])
            i = lt + 1
    return "".join(out).encode("utf-8", "surrogateescape")


def _start_tag(tag: _Tag, rewrite_url: Callable[[str], str]) -> str:
    wanted = URL_ATTRIBUTES.get(tag.name, ())
    parts = [tag.name]
    for key, value in tag.attributes:
        if key in wanted:
            value = rewrite_url(value)
        parts.append(f'{key}="{value.translate(_ESCAPES)}"')
    return "<" + " ".join(parts) + ("/>" if tag.self_closing else ">")


# -- character references in attribute values, as Go's html.UnescapeString reads them in an attribute --------
_ENTITY = re.compile(r"&(#[xX]?[0-9A-Za-z]*;?|[0-9A-Za-z]*;?)")


def _numeric(reference: str) -> Tuple[Optional[str], int]:
    """(the character, characters used after '&') of a numeric reference, or (None, 0)."""
    hex_ = reference[1:2] in ("x", "X")
    digits_at = 2 if hex_ else 1
    allowed = "0123456789abcdefABCDEF" if hex_ else "0123456789"
    j = digits_at
    while j < len(reference) and reference[j] in allowed:
        j += 1
    digits = reference[digits_at:j]
    used = j + (1 if reference[j:j + 1] == ";" else 0)
    if used + 1 <= 3 or len(reference) + 1 <= 3:
        return None, 0
    value = int(digits, 16 if hex_ else 10) if digits else 0
    if 0x80 <= value <= 0x9F:
        try:
            return bytes([value]).decode("cp1252"), used
        except UnicodeDecodeError:
            return chr(value), used
    if value == 0 or 0xD800 <= value <= 0xDFFF or value > 0x10FFFF:
        return "\ufffd", used
    return chr(value), used


def _unescape_attribute(value: str) -> str:
    if "&" not in value:
        return value

    def replace(match: re.Match) -> str:
        reference = match.group(1)
        if reference.startswith("#"):
            char, used = _numeric(reference)
            return match.group() if char is None else char + reference[used:]
        if not reference or (not reference.endswith(";") and value[match.end():match.end() + 1] == "="):
            return match.group()
        return html.entities.html5.get(reference, match.group())
    return _ENTITY.sub(replace, value)
