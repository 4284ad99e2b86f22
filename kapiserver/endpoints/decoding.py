"""
Reading a request, for every handler that needs it: the body decoded by its
Content-Type, the verb's options from the query (ListOptions, WriteOptions,
DeleteOptions), and a built-in or custom object's typed decoding under fieldValidation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..auth.context import add_warning
from ..machinery import embedded, errors, fieldmanager, gojson, schema, typed
from ..machinery.errors import StatusError
from ..machinery.meta import place_in_namespace
from ..registry.options import DeleteOptions, ListOptions, WriteOptions
from . import negotiation
from .http import query, query_int, read_body
from .requestinfo import is_true


def list_options(request, store) -> ListOptions:
    options = _query_list_options(request)
    if options.field_selector is not None:
        # The selector's fields checked against the resource's after the options' validation, as upstream
        # converts its field labels only then.
        options.field_selector = store.strategy.check_field_selector(options.field_selector)
    return options


def _query_list_options(request) -> ListOptions:
    """The ListOptions of the query, parsed (a 400 for a selector or number that does not parse) and then
    validated (a 422 naming ListOptions)."""
    from ..machinery import selectors
    options = ListOptions()
    text = query(request, "labelSelector")
    if text:
        options.label_selector = selectors.parse_label_selector(text)
    text = query(request, "fieldSelector")
    if text:
        options.field_selector = selectors.parse_field_selector(text)
    options.limit = query_int(request, "limit", 0) or 0
    options.continue_token = query(request, "continue")
    options.resource_version = query(request, "resourceVersion")
    options.resource_version_match = query(request, "resourceVersionMatch")
    options.allow_bookmarks = is_true(request.args.get(b"allowWatchBookmarks"))
    options.timeout_seconds = query_int(request, "timeoutSeconds")
    if b"sendInitialEvents" in request.args:
        options.send_initial_events = is_true(request.args.get(b"sendInitialEvents"))
    # Only the watch parameter makes the options a watch's: a GET under the old /watch/ path prefix is
    # validated as a list, as upstream's ListResource validates it before it is made a watch.
    watching = is_true(request.args.get(b"watch"))
    if watching and options.send_initial_events is None and not options.resource_version_match and \
            options.resource_version in ("", "0"):
        # WatchList is on in 1.32: a watch from now or from any state is served as a watch-list, as upstream
        # defaults its options (its initial events, then, with bookmarks allowed, the initial-events-end bookmark).
        options.send_initial_events = True
        options.resource_version_match = "NotOlderThan"
    problems = _watch_problems(options) if watching else _list_problems(options)
    if problems:
        raise options_invalid("ListOptions", problems)
    return options


_RV_MATCHES = ("Exact", "NotOlderThan")
_MATCH_WITH_CONTINUE = "resourceVersionMatch is forbidden when continue is provided"


def _list_problems(options: ListOptions) -> list:
    """What is wrong with a list's (or a deletecollection's) options, in upstream's order."""
    problems = []
    match = options.resource_version_match
    if match:
        if not options.resource_version:
            problems.append(errors.forbidden(
                "resourceVersionMatch", "resourceVersionMatch is forbidden unless resourceVersion is provided"))
        if options.continue_token:
            problems.append(errors.forbidden("resourceVersionMatch", _MATCH_WITH_CONTINUE))
        if match not in _RV_MATCHES:
            # The empty match is listed as supported too (it is never refused: it is no match).
            problems.append(errors.not_supported("resourceVersionMatch", match, _RV_MATCHES + ("",)))
        if match == "Exact" and options.resource_version == "0":
            problems.append(errors.forbidden(
                "resourceVersionMatch", 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'))
    if options.send_initial_events is not None:
        problems.append(errors.forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"))
    return problems


def _watch_problems(options: ListOptions) -> list:
    """What is wrong with a watch's options (the WatchList feature on, as it is by default in 1.32): a
    watch-list names sendInitialEvents and resourceVersionMatch=NotOlderThan together (a watch from now or any
    state naming neither has been given both by then, as upstream defaults it)."""
    problems = []
    match = options.resource_version_match
    if options.send_initial_events is not None and match != "NotOlderThan":
        problems.append(errors.forbidden(
            "resourceVersionMatch", "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"))
    if match:
        if options.send_initial_events is None:
            problems.append(errors.forbidden(
                "resourceVersionMatch", "resourceVersionMatch is forbidden for watch unless sendInitialEvents is "
                                        "provided"))
        if match != "NotOlderThan":
            problems.append(errors.not_supported("resourceVersionMatch", match, ["NotOlderThan"]))
        if options.continue_token:
            problems.append(errors.forbidden("resourceVersionMatch", _MATCH_WITH_CONTINUE))
    return problems


# Upstream's allowed fieldValidation values, sorted as it lists them ("" is the default, Warn).
_FIELD_VALIDATIONS = ("", "Ignore", "Strict", "Warn")


def write_options(request) -> WriteOptions:
    """A create's, update's or patch's options, validated as upstream's Validate{Create,Update,Patch}Options
    (a patch's force or an apply's missing fieldManager, then fieldManager, dryRun, fieldValidation: every
    problem in one 422), before the body is read."""
    dry_run = [value.decode("utf-8", "surrogateescape") for value in request.args.get(b"dryRun") or []]
    validation = query(request, "fieldValidation")
    given = query(request, "fieldManager")
    problems = []
    if request.method == b"PATCH":
        if not _is_apply(request):
            if b"force" in request.args:
                problems.append(errors.forbidden("force", "may not be specified for non-apply patch"))
        elif not given:
            problems.append(errors.required("fieldManager", "is required for apply patch"))
    problems += _field_manager_problems(given) + _dry_run_problems(dry_run)
    if validation not in _FIELD_VALIDATIONS:
        problems.append(errors.not_supported("fieldValidation", validation, _FIELD_VALIDATIONS))
    if problems:
        kind = {b"POST": "CreateOptions", b"PUT": "UpdateOptions"}.get(request.method, "PatchOptions")
        raise options_invalid(kind, problems)
    agent = request.getHeader(b"user-agent")
    # A write that names no manager is recorded under its User-Agent's product, as upstream.
    manager = given or fieldmanager.manager_from_user_agent(agent.decode("latin-1") if agent else "")
    return (ApplyOptions if _is_apply(request) else WriteOptions)(dry_run=bool(dry_run), field_manager=manager,
                                                                  field_validation=validation or "Warn")


def _field_manager_problems(manager: str) -> list:
    """fieldManager: at most 128 bytes of printable characters, as upstream validates it."""
    problems = []
    if len(manager.encode()) > 128:
        problems.append(errors.too_long("fieldManager", manager, 128))
    for position, char in enumerate(manager):
        if not char.isprintable() and char != " ":
            problems.append(errors.invalid("fieldManager", manager,
                                           f"invalid character U+{ord(char):04X} (at position {position})"))
    return problems


def _dry_run_problems(values: list[str]) -> list:
    """dryRun: "All" only, however often it is given (none at all is no dry run).  Any other value is refused
    with the whole list shown as Go's %#v shows a []string."""
    if all(value == "All" for value in values):
        return []
    shown = "[]string{" + ", ".join(gojson.go_quote(value) for value in values) + "}"
    return [errors.FieldError("FieldValueNotSupported", "dryRun",
                              f'Unsupported value: {shown}: supported values: "All"')]


def _is_apply(request) -> bool:
    header = content_type(request)
    if request.method != b"PATCH" or not header:
        return False
    try:
        return negotiation.body_media_type(header).type == negotiation.APPLY_PATCH_YAML
    except StatusError:
        return False


@dataclass
class ApplyOptions(WriteOptions):
    """The options of a server-side apply: the Store leaves its managedFields to the apply."""
    operation: str = "Apply"


def delete_options(request, body: bytes) -> DeleteOptions:
    options = DeleteOptions()
    data: dict = {}
    if body.strip():
        data = negotiation.decode_body(request.getHeader(b"content-type") and
                                       request.getHeader(b"content-type").decode(), body)
        if not isinstance(data, dict):
            raise errors.bad_request("DeleteOptions must be an object")
        # Wrong JSON types are a 400 decoding error and nulls mean absent, as upstream's typed decoding.
        data, _ = typed.decode(data, schema.node_for("", "v1", "DeleteOptions"), "DeleteOptions", "v1")
    grace = data.get("gracePeriodSeconds")
    if grace is None:
        grace = query_int(request, "gracePeriodSeconds")
    if grace is not None:
        options.grace_period_seconds = int(grace)
    preconditions = data.get("preconditions") or {}
    options.precondition_uid = preconditions.get("uid")
    options.precondition_resource_version = preconditions.get("resourceVersion")
    options.propagation_policy = data.get("propagationPolicy") or query(request, "propagationPolicy") or None
    orphan = data.get("orphanDependents")
    if orphan is None and query(request, "orphanDependents"):
        orphan = query(request, "orphanDependents").lower() in ("true", "1", "t")
    if orphan is not None:
        options.orphan_dependents = bool(orphan)
    invalid = []
    if orphan is not None and options.propagation_policy is not None:
        invalid.append(errors.invalid("propagationPolicy", options.propagation_policy,
                                      "orphanDependents and deletionPropagation cannot be both set"))
    if options.propagation_policy not in (None, "Orphan", "Background", "Foreground"):
        invalid.append(errors.not_supported(
            "propagationPolicy", options.propagation_policy, ["Foreground", "Background", "Orphan", "nil"]))
    # A null in the body's list is Go's empty string.
    dry_run = [value or "" for value in data.get("dryRun") or []] or \
        [value.decode("utf-8", "surrogateescape") for value in request.args.get(b"dryRun") or []]
    invalid += _dry_run_problems(dry_run)
    if invalid:
        raise errors.invalid_object("meta.k8s.io", "DeleteOptions", "", invalid)
    options.dry_run = bool(dry_run)
    return options


def options_invalid(kind: str, problems: list) -> StatusError:
    status = errors.invalid_object("meta.k8s.io", kind, "", problems)
    # The qualified kind, as upstream's NewInvalid writes it.
    status.message = status.message.replace(f'{kind} ""', f'{kind}.meta.k8s.io ""', 1)
    return status


def content_type(request) -> Optional[str]:
    value = request.getHeader(b"content-type")
    return value.decode("latin-1") if value else None


def decode_typed(request, store, obj: dict, options: WriteOptions, info=None) -> dict:
    """Check a built-in object's JSON types against its schema and drop unknown
    fields, reporting them as fieldValidation asks (Strict: 400, Warn: a Warning header).
    The object is left as upstream's Go struct encodes it: omitempty fields at their
    zero values are dropped too (a custom resource, unstructured upstream, keeps them)."""
    info = info or store.info
    # A custom resource's own kind is decoded by its schema; a subresource's built-in kind (a custom resource's
    # autoscaling/v1 Scale) as that kind, as upstream decodes it with the built-in type's codec.
    custom = not store.builtin and (info.group, info.version, info.kind) == \
        (store.info.group, store.info.version, store.info.kind)
    if custom and isinstance(obj, dict):
        return _decode_custom(request, store, obj, options, info)
    if custom or not isinstance(obj, dict):
        return obj
    node = schema.node_for(info.group, info.version, info.kind)
    if node is None:
        return obj
    duplicates = _duplicate_fields(request, obj, options)
    obj, unknown = typed.decode(obj, node, info.kind, info.version)
    problems = [f'unknown field "{path}"' for path in unknown] + [f'duplicate field "{path}"' for path in duplicates]
    if problems and options.field_validation == "Strict":
        raise errors.bad_request("strict decoding error: " + ", ".join(problems))
    if problems and options.field_validation == "Warn":
        _warn(request, problems)
    return obj


def _duplicate_fields(request, obj: dict, options: WriteOptions) -> list[str]:
    """The fields a JSON create or update body writes twice (Go's strict decoder reports them; the last one
    wins), unless fieldValidation is Ignore."""
    if options.field_validation == "Ignore" or request.method not in (b"POST", b"PUT"):
        return []
    media = negotiation.body_media_type(content_type(request))
    if media.type != negotiation.JSON:
        return []
    request.content.seek(0)
    return gojson.duplicate_fields(request.content.read(), obj)


def _warn(request, problems: list[str]) -> None:
    # Through the request's record, which writes a warning once however often it is given (as upstream).
    for problem in problems:
        add_warning(problem)


def _decode_custom(request, store, obj: dict, options: WriteOptions, info) -> dict:
    """Custom resources: the fields their version's schema does not declare (pruned later by the
    strategy) are a strict decoding error under Strict and warnings under Warn, as upstream.  A value its
    decoding cannot take (in the metadata, the root's or an embedded resource's) is a 400 whatever
    fieldValidation says.  The root's metadata is left as upstream's decoder leaves it, decoded as an
    ObjectMeta and encoded again: fields ObjectMeta lacks and empty ones dropped, before anything
    (managedFields included) sees the object."""
    unknown_metadata: list = []
    try:
        if "metadata" in obj:
            obj["metadata"], unknown_metadata = embedded.unmarshal_metadata(obj["metadata"])
        decoding_error = getattr(store.strategy, "decoding_error", None)
        error = decoding_error(obj) if decoding_error is not None else None
    except ValueError as e:
        error = e
    if error is not None:
        raise errors.bad_request(f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: '
                                 f"{error}")
    unknown_fields = getattr(store.strategy, "unknown_fields", None)
    unknown = [f"metadata.{field}" for field in unknown_metadata] + \
        (unknown_fields(obj) if unknown_fields is not None else [])
    problems = [f'unknown field "{path}"' for path in unknown] + \
        [f'duplicate field "{path}"' for path in _duplicate_fields(request, obj, options)]
    if not problems or options.field_validation == "Ignore":
        return obj
    detail = "strict decoding error: " + ", ".join(problems)
    if options.field_validation == "Strict":
        if request.method == b"PATCH":
            raise errors.bad_request(detail)
        raise errors.bad_request(f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: '
                                 f"{detail}")
    _warn(request, problems)
    return obj


def read_decoded(request, max_bytes: int):
    """The request's body, decoded by its Content-Type; an empty body is a 400."""
    raw = read_body(request, max_bytes)
    if not raw.strip():
        raise errors.bad_request("the body of the request was empty")
    return negotiation.decode_body(content_type(request), raw)


def check_update_target(obj: dict, name: str, namespace: str, namespaced: bool) -> None:
    """A PUT's body names the object of its URL, as upstream's update handler checks it: the namespace first
    (another one is a 400; none is the request's), then the name, which must be given and equal the URL's."""
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta, dict):
        return      # the Store's type check words this one
    place_in_namespace(meta, namespace, namespaced)
    given = meta.get("name") or ""
    if given != name:
        raise errors.bad_request(f"the name of the object ({given}) does not match the name on the URL ({name})")


def body_object(body) -> dict:
    """``body`` if it is a JSON object; a 400 if not."""
    if not isinstance(body, dict):
        raise errors.bad_request("the body of the request was not a JSON object")
    return body
