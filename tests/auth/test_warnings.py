"""Warning headers as upstream's recorder writes them: each text once, and past 4096 characters in all every
warning cut to 256 characters (those already written too), the rest dropped once that is spent again."""

from __future__ import annotations

from types import SimpleNamespace

from twisted.web.http_headers import Headers

from kapiserver.auth.context import WARNING_TRUNCATED, WARNINGS_TOTAL, ResponseRecord


def _record():
    request = SimpleNamespace(responseHeaders=Headers())
    return ResponseRecord(request), request


def _texts(request) -> list[str]:
    return [value.decode()[len('299 - "'):-1] for value in request.responseHeaders.getRawHeaders(b"Warning", [])]


def test_each_text_once_and_whole_while_they_fit():
    record, request = _record()
    for text in ("a", "b", "a", ""):
        record.add_warning(text)
    assert _texts(request) == ["a", "b"]


def test_past_the_total_every_warning_is_cut_and_then_the_rest_dropped():
    record, request = _record()
    first = "x" * 300
    record.add_warning(first)
    assert _texts(request) == [first]                      # it fits: written whole
    record.add_warning("y" * WARNINGS_TOTAL)               # it does not: everything is cut, the first one too
    assert _texts(request) == ["x" * WARNING_TRUNCATED, "y" * WARNING_TRUNCATED]
    for i in range(20):
        record.add_warning(f"{i:02d}" + "z" * 400)
    written = _texts(request)
    assert all(len(text) <= WARNING_TRUNCATED for text in written)
    # Written while under the total (each cut), none after it is spent.
    assert sum(len(text) for text in written[:-1]) < WARNINGS_TOTAL <= sum(len(text) for text in written)
    assert len(written) == 2 + 14                         # 512 + 14 * 256 = 4096
