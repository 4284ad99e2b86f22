"""The user a request is being served for and its response record, set by the security filter; the server
hands this module to the admission chain, which puts both into every request's Attributes."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Optional

from ..registry.attributes import add_warning, current_record, set_current_record  # noqa: F401 (add_warning: re-exported)
from .user import INSECURE_USER, UserInfo

_current_user: ContextVar[Optional[UserInfo]] = ContextVar("kapiserver_user", default=None)


def set_user(user: UserInfo) -> None:
    _current_user.set(user)


def current_user() -> UserInfo:
    """The request's (possibly impersonated) user; the insecure port's user outside any request."""
    return _current_user.get() or INSECURE_USER


# Upstream's warning recorder: at most this many characters of warnings in all before it truncates each to
# WARNING_TRUNCATED characters.
WARNINGS_TOTAL = 4 * 1024
WARNING_TRUNCATED = 256


class ResponseRecord:
    """What code serving a request hands back to its response: warnings (each a
    ``299 -`` Warning header, written once however often it is added, as upstream's
    recorder does) and audit annotations (the audit log adds them to the event).
    Admission reaches it as its Attributes' ``record``."""

    def __init__(self, request):
        self.request = request
        self.warnings: list[str] = []
        self.audit_annotations: dict[str, str] = {}
        self._truncating = False
        self._written = 0      # characters of warnings written

    def add_warning(self, text: str) -> None:
        """A Warning header, once per text, as upstream's recorder writes them: past 4096 characters in all, every
        warning (those written before too) is cut to 256 characters, and once past that again the rest are
        dropped."""
        if not text or text in self.warnings or (self._truncating and self._written >= WARNINGS_TOTAL):
            return
        self.warnings.append(text)
        if self._truncating:
            self._write(text[:WARNING_TRUNCATED])
            return
        if self._written + len(text) <= WARNINGS_TOTAL:
            self._write(text)
            return
        self._truncating, self._written = True, 0
        self.request.responseHeaders.removeHeader(b"Warning")
        for written in self.warnings:
            self._write(written[:WARNING_TRUNCATED])

    def _write(self, text: str) -> None:
        self._written += len(text)
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        self.request.responseHeaders.addRawHeader(b"Warning", f'299 - "{escaped}"'.encode("utf-8"))

    def add_audit_annotation(self, key: str, value: str) -> None:
        self.audit_annotations[key] = value


def set_request(request) -> None:
    """Start recording for ``request`` (its audit annotations also land on ``request.kapi_audit_annotations``)."""
    record = ResponseRecord(request)
    request.kapi_audit_annotations = record.audit_annotations
    set_current_record(record)


def add_audit_annotation(key: str, value: str) -> None:
    """An annotation on the audit event of the request being served; dropped outside any request."""
    current_record().add_audit_annotation(key, value)
