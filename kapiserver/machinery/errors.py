"""
Status errors: the one error type hierarchy of the API.

A :class:`StatusError` carries a ``metav1.Status``; handlers raise them and the
endpoints layer writes ``to_status()`` with its ``code``.  Messages, reasons and
details follow upstream's k8s.io/apimachinery/pkg/api/errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Optional

from . import codec, gojson


@dataclass(frozen=True, slots=True)
class GroupResource:
    group: str
    resource: str

    def __str__(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource


# How Go prints a nil field path: the field of an error about the object as a whole (a CEL rule at its root,
# apiextensions' composite schema errors).
NIL_PATH = "<nil>"


@dataclass(frozen=True, slots=True)
class FieldError:
    """One validation failure (field.Error): ``reason`` is the StatusCause type
    (FieldValueRequired, FieldValueInvalid, ...)."""

    reason: str
    field: str
    body: str

    def __str__(self) -> str:
        # field.Error's text names the path even when it is empty (": Forbidden: ...").
        return f"{self.field}: {self.body}"

    def cause(self) -> dict:
        # A StatusCause's field is omitempty.
        if not self.field:
            return {"reason": self.reason, "message": self.body}
        return {"reason": self.reason, "message": self.body, "field": self.field}


def _show(value: Any) -> str:
    """How field.ErrorBody prints a bad value: scalars plainly (strings as Go's %q quotes them, no value as
    ``"null"``), and a map or slice decoded from JSON with Go's %#v (``map[string]interface {}{"name":"x",
    "value":"1"}``)."""
    if isinstance(value, (dict, list, tuple)):
        return gojson.go_syntax(value)
    if isinstance(value, str):
        return gojson.go_quote(value)
    if value is None:
        return '"null"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return codec.dumps(value).decode()


def required(field: str, detail: str = "") -> FieldError:
    return FieldError("FieldValueRequired", field, "Required value" + (f": {detail}" if detail else ""))


def invalid(field: str, value: Any, detail: str = "") -> FieldError:
    body = f"Invalid value: {_show(value)}" + (f": {detail}" if detail else "")
    return FieldError("FieldValueInvalid", field, body)


def not_supported(field: str, value: Any, supported: Iterable[str]) -> FieldError:
    body = f"Unsupported value: {_show(value)}"
    values = list(supported)
    if values:
        body += ": supported values: " + ", ".join(f'"{v}"' for v in values)
    return FieldError("FieldValueNotSupported", field, body)


def duplicate(field: str, value: Any) -> FieldError:
    return FieldError("FieldValueDuplicate", field, f"Duplicate value: {_show(value)}")


def forbidden(field: str, detail: str) -> FieldError:
    return FieldError("FieldValueForbidden", field, f"Forbidden: {detail}")


def too_long(field: str, value: Any, max_length: int) -> FieldError:
    return FieldError("FieldValueTooLong", field, f"Too long: may not be more than {max_length} bytes")


def not_found_field(field: str, value: Any) -> FieldError:
    return FieldError("FieldValueNotFound", field, f"Not found: {_show(value)}")


class StatusError(Exception):
    """An API error with its Status.  ``code`` is the HTTP status."""

    def __init__(self, code: int, reason: str, message: str, details: Optional[dict] = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.list_meta: dict = {}   # the Status's ListMeta (an expired list's inconsistent continue)

    def to_status(self) -> dict:
        status: dict = {"kind": "Status", "apiVersion": "v1", "metadata": dict(self.list_meta),
                        "status": "Failure"}
        if self.message:
            status["message"] = self.message
        if self.reason:
            status["reason"] = self.reason
        if self.details is not None:  # upstream writes "details":{} when set but empty
            status["details"] = self.details
        status["code"] = self.code
        return status

    def __repr__(self) -> str:
        return f"StatusError({self.code}, {self.reason!r}, {self.message!r})"


def _details(qualified: GroupResource, name: str = "", kind: Optional[str] = None, **extra) -> dict:
    details: dict = {}
    if name:
        details["name"] = name
    if qualified.group:
        details["group"] = qualified.group
    details["kind"] = kind if kind is not None else qualified.resource
    if not details["kind"]:
        del details["kind"]
    details.update(extra)
    return details


def not_found(qualified: GroupResource, name: str) -> StatusError:
    return StatusError(404, "NotFound", f'{qualified} "{name}" not found', _details(qualified, name))


def already_exists(qualified: GroupResource, name: str) -> StatusError:
    return StatusError(409, "AlreadyExists", f'{qualified} "{name}" already exists',
                       _details(qualified, name))


def conflict(qualified: GroupResource, name: str, why: str) -> StatusError:
    return StatusError(409, "Conflict", f'Operation cannot be fulfilled on {qualified} "{name}": {why}',
                       _details(qualified, name))


OBJECT_MODIFIED = "the object has been modified; please apply your changes to the latest version and try again"


def modified(qualified: GroupResource, name: str) -> StatusError:
    return conflict(qualified, name, OBJECT_MODIFIED)


def aggregate(errors: Iterable[Any]) -> str:
    """The text of an aggregate error (utilerrors.NewAggregate's Error(), as field.ErrorList.ToAggregate makes
    it): one error as its own text; more flattened (a member that is a list is an aggregate in it), each
    distinct text once, in order, in brackets when more than one is left; none, ""."""
    items = list(errors)
    if len(items) == 1:
        only = items[0]
        return aggregate(only) if isinstance(only, list) else str(only)
    seen: dict[str, None] = {}

    def visit(members: list) -> None:
        for member in members:
            if isinstance(member, list):
                visit(member)
            else:
                seen.setdefault(str(member), None)
    visit(items)
    unique = list(seen)
    if not unique:
        return ""
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def invalid_object(group: str, kind: str, name: str, errors: list[FieldError]) -> StatusError:
    """NewInvalid: every error is a cause (a repeated one too), while the message lists each distinct error
    once, as ErrorList.ToAggregate makes it."""
    details: dict = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = kind
    details["causes"] = [e.cause() for e in errors]
    qualified_kind = f"{kind}.{group}" if group else kind   # schema.GroupKind's String()
    message = f'{qualified_kind} "{name}" is invalid' + (f": {aggregate(errors)}" if errors else "")
    return StatusError(422, "Invalid", message, details)


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def unauthorized(message: str = "Unauthorized") -> StatusError:
    return StatusError(401, "Unauthorized", message)


def forbidden_request(qualified: GroupResource, name: str, message: str) -> StatusError:
    return StatusError(403, "Forbidden", message, _details(qualified, name))


def method_not_supported(qualified: GroupResource, action: str) -> StatusError:
    return StatusError(405, "MethodNotAllowed",
                       f"{action} is not supported on resources of kind {_quote_resource(qualified)}",
                       _details(qualified))


def _quote_resource(qualified: GroupResource) -> str:
    return f'"{qualified}"'


def path_not_found() -> StatusError:
    """The 404 of a path nothing is served at (upstream's NotFound in its generic words, without details); a new
    one each time: an exception raised again keeps the traceback it had and grows it."""
    return StatusError(404, "NotFound", "the server could not find the requested resource", {})


def not_acceptable(accepted: Iterable[str]) -> StatusError:
    return StatusError(406, "NotAcceptable",
                       "only the following media types are accepted: " + ", ".join(accepted))


def gone(message: str) -> StatusError:
    return StatusError(410, "Gone", message)


def resource_expired(message: str) -> StatusError:
    return StatusError(410, "Expired", message)


def request_entity_too_large(message: str) -> StatusError:
    return StatusError(413, "RequestEntityTooLarge", f"Request entity too large: {message}")


def unsupported_media_type(content_type: str, supported: Iterable[str]) -> StatusError:
    return StatusError(415, "UnsupportedMediaType",
                       "the body of the request was in an unknown format - accepted media types include: "
                       + ", ".join(supported))


def too_many_requests(message: str, retry_after: int) -> StatusError:
    return StatusError(429, "TooManyRequests", message, {"retryAfterSeconds": retry_after})


def internal_error(message: str) -> StatusError:
    return StatusError(500, "InternalError", f"Internal error occurred: {message}",
                       {"causes": [{"message": message}]})


def service_unavailable(message: str) -> StatusError:
    return StatusError(503, "ServiceUnavailable", message)


def timeout(message: str, retry_after: int = 0) -> StatusError:
    details = {"retryAfterSeconds": retry_after} if retry_after else None
    return StatusError(504, "Timeout", message, details)


def too_large_resource_version(requested: int, current: int, retry_after: int = 0) -> StatusError:
    """504 for a read at a resourceVersion not reached yet; the ResourceVersionTooLarge cause is
    what client-go's reflector looks for to fall back to a consistent list."""
    details: dict = {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}]}
    if retry_after:
        details["retryAfterSeconds"] = retry_after
    return StatusError(504, "Timeout", f"Timeout: Too large resource version: {requested}, current: {current}",
                       details)


def success_status(details: Optional[dict] = None) -> dict:
    status: dict = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    if details:
        status["details"] = details
    return status
