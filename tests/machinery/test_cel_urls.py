"""Kubernetes' URL library: url()/isURL() accept what Go's url.ParseRequestURI accepts, and a URL's parts
are Go's (URL.Host, Hostname(), Port(), EscapedPath(), Query())."""

from __future__ import annotations

import pytest

from kapiserver.machinery import cel


def run(source):
    result = cel.compile_expression(source).evaluate({})
    return cel.error_text(result) if isinstance(result, cel.celpy.CELEvalError) else result


@pytest.mark.parametrize("text, valid", [
    ("http://#%blah$#@", False), ("http://a b.com/", False), ("http://a.com/%zz", False),
    ("http://[::1", False), ("http://a.com:8x/", False), ("", False), ("a.com/x", False), ("#x", False),
    ("https://example.com/p?q=1#f", True), ("/relative/path", True), ("*", True), ("mailto:a@b.c", True),
    ("http://a.com/x y", True), ("http://[::1]:80/", True), ("//a/b", True),
])
def test_is_url_is_go_parse_request_uri(text, valid):
    """isURL(s) is true exactly when Go's url.ParseRequestURI(s) succeeds."""
    assert run(f"isURL({text!r})") == valid   # an error would be its text, equal to neither


def test_url_error_is_go_s():
    """url() of what ParseRequestURI refuses is its *url.Error, after upstream's prefix."""
    assert run("url('http://a.com/%zz')") == \
        'URL parse error during conversion from string: parse "http://a.com/%zz": invalid URL escape "%zz"'


@pytest.mark.parametrize("source, result", [
    ("url('HTTPS://a.com/').getScheme()", "https"),
    ("url('http://u:p@a.com:8080/x').getHost()", "a.com:8080"),
    ("url('http://u:p@a.com:8080/x').getHostname()", "a.com"),
    ("url('http://a.com:8080/x').getPort()", "8080"),
    ("url('http://a.com/x').getPort()", ""),
    ("url('http://[::1]:80/').getHost()", "[::1]:80"),
    ("url('http://[::1]:80/').getHostname()", "::1"),
    ("url('http://[::1]/').getHostname()", "::1"),
    ("url('http://[::1]/').getPort()", ""),
    ("url('http://a.com/ü').getEscapedPath()", "/%C3%BC"),
    ("url('http://a.com/x y').getEscapedPath()", "/x%20y"),
    ("url('http://a.com/a%2Fb').getEscapedPath()", "/a%2Fb"),
    ("url('http://a.com/p#frag').getEscapedPath()", "/p"),
    ("url('/a/b?x=1').getEscapedPath()", "/a/b"),
    ("url('//a/b').getHost()", "a"),
    ("url('https://a.com/?k=a+b&k=%41&e&bad=%zz&s;x=1').getQuery()", {"k": ["a b", "A"], "e": [""]}),
])
def test_url_parts_are_go_s(source, result):
    """getScheme/getHost/getHostname/getPort/getEscapedPath/getQuery answer as Go's net/url."""
    assert run(source) == result
