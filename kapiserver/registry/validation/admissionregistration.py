"""Validation of admissionregistration.k8s.io/v1 MutatingWebhookConfiguration and
ValidatingWebhookConfiguration, as upstream's ValidateMutatingWebhookConfiguration and
ValidateValidatingWebhookConfiguration: each webhook's name, rules, policies, client config,
admission review versions, selectors and match conditions (which must compile as CEL)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ...machinery.errors import FieldError
from . import meta as _meta
from . import names
from ._util import (Errors, duplicate, invalid, is_int, label_selector, not_supported, qualified_name, required,
                    text)

OPERATIONS = ("*", "CONNECT", "CREATE", "DELETE", "UPDATE")
SCOPES = ("*", "Cluster", "Namespaced")
FAILURE_POLICIES = ("Fail", "Ignore")
MATCH_POLICIES = ("Equivalent", "Exact")
SIDE_EFFECTS = ("None", "NoneOnDryRun")
REINVOCATION_POLICIES = ("IfNeeded", "Never")
REVIEW_VERSIONS = ("v1", "v1beta1")
MAX_MATCH_CONDITIONS = 64
# The variables a match condition may use, as upstream declares them.
MATCH_CONDITION_VARIABLES = frozenset({"object", "oldObject", "request", "authorizer"})


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _fully_qualified(name: str, path: str) -> Errors:
    if not name:
        return [required(path, "")]
    errs = [invalid(path, name, msg) for msg in names.is_dns1123_subdomain(name)]
    if not errs and len(name.split(".")) < 3:
        errs.append(invalid(path, name, "should be a domain with at least three segments separated by dots"))
    return errs


def _wildcard_alone(values: list, path: str, what: str) -> Errors:
    if len(values) > 1 and "*" in values:
        return [invalid(path, values, f"if '*' is present, must not specify other {what}")]
    return []


def _rule(rule: dict, path: str) -> Errors:
    errs: Errors = []
    operations = _list(rule.get("operations"))
    if not operations:
        errs.append(required(f"{path}.operations", ""))
    errs += _wildcard_alone(operations, f"{path}.operations", "operations")
    for i, operation in enumerate(operations):
        if operation not in OPERATIONS:
            errs.append(not_supported(f"{path}.operations[{i}]", operation, OPERATIONS))
    groups = _list(rule.get("apiGroups"))
    if not groups:
        errs.append(required(f"{path}.apiGroups", ""))
    errs += _wildcard_alone(groups, f"{path}.apiGroups", "API groups")
    versions = _list(rule.get("apiVersions"))
    if not versions:
        errs.append(required(f"{path}.apiVersions", ""))
    errs += _wildcard_alone(versions, f"{path}.apiVersions", "API versions")
    for i, version in enumerate(versions):
        if not version:
            errs.append(required(f"{path}.apiVersions[{i}]", ""))
    resources = _list(rule.get("resources"))
    if not resources:
        errs.append(required(f"{path}.resources", ""))
    for i, resource in enumerate(resources):
        if not resource:
            errs.append(required(f"{path}.resources[{i}]", ""))
    scope = rule.get("scope")
    if scope is not None and scope not in SCOPES:
        errs.append(not_supported(f"{path}.scope", scope, SCOPES))
    return errs


def _client_config(config: dict, path: str) -> Errors:
    url, service = config.get("url"), config.get("service")
    if (url is None) == (service is None):
        return [required(path, "exactly one of url or service is required")]
    errs: Errors = []
    if url is not None:
        field = f"{path}.url"
        parts = urlsplit(text(url))
        if parts.scheme != "https":
            errs.append(invalid(field, parts.scheme, "'https' is the only allowed URL scheme"))
        if not parts.netloc:
            errs.append(invalid(field, parts.netloc, "host must be specified"))
        if parts.username or parts.password:
            errs.append(invalid(field, parts.netloc, "user information is not permitted in the URL"))
        if parts.fragment:
            errs.append(invalid(field, parts.fragment, "fragments are not permitted in the URL"))
        if parts.query:
            errs.append(invalid(field, parts.query, "query parameters are not permitted in the URL"))
        return errs
    service = _dict(service)
    field = f"{path}.service"
    if not service.get("name"):
        errs.append(required(f"{field}.name", "service name is required"))
    if not service.get("namespace"):
        errs.append(required(f"{field}.namespace", "service namespace is required"))
    service_path = service.get("path")
    if service_path is not None and not text(service_path).startswith("/"):
        errs.append(invalid(f"{field}.path", service_path, "must start with a '/'"))
    port = service.get("port")
    if port is not None and (not is_int(port) or not 1 <= port <= 65535):
        errs.append(invalid(f"{field}.port", port, "port is not valid: must be between 1 and 65535, inclusive"))
    return errs


def _review_versions(versions: Any, path: str) -> Errors:
    versions = _list(versions)
    if not versions:
        return [required(path, f"must specify one of {', '.join(REVIEW_VERSIONS)}")]
    errs: Errors = []
    seen = set()
    for i, version in enumerate(versions):
        if version in seen:
            errs.append(duplicate(f"{path}[{i}]", version))
        seen.add(version)
        errs += [invalid(f"{path}[{i}]", version, msg) for msg in names.is_dns1035_label(text(version))]
    if not any(v in REVIEW_VERSIONS for v in versions):
        errs.append(invalid(path, versions, f"must include at least one of {', '.join(REVIEW_VERSIONS)}"))
    return errs


def match_condition_errors(expression: str, path: str) -> Errors:
    """The compile errors of one match condition's expression ("compilation failed: ..."), if any."""
    from ...machinery import cel
    try:
        cel.compile_expression(expression, MATCH_CONDITION_VARIABLES)
    except cel.CompileError as e:
        return [invalid(path, expression, str(e))]
    return []


def _match_conditions(conditions: Any, path: str) -> Errors:
    conditions = _list(conditions)
    if len(conditions) > MAX_MATCH_CONDITIONS:
        return [FieldError("FieldValueTooMany", path,
                           f"Too many: {len(conditions)}: must have at most {MAX_MATCH_CONDITIONS} items")]
    errs: Errors = []
    seen = set()
    for i, condition in enumerate(conditions):
        condition = _dict(condition)
        expression = text(condition.get("expression")).strip()
        if not expression:
            errs.append(required(f"{path}[{i}].expression", ""))
        else:
            errs += match_condition_errors(expression, f"{path}[{i}].expression")
        name = text(condition.get("name"))
        if not name:
            errs.append(required(f"{path}[{i}].name", ""))
        else:
            errs += qualified_name(name, f"{path}[{i}].name")
            if name in seen:
                errs.append(duplicate(f"{path}[{i}].name", name))
            seen.add(name)
    return errs


def _webhook(hook: dict, path: str, mutating: bool) -> Errors:
    errs = _fully_qualified(text(hook.get("name")), f"{path}.name")
    for i, rule in enumerate(_list(hook.get("rules"))):
        errs += _rule(_dict(rule), f"{path}.rules[{i}]")
    for key, allowed in (("failurePolicy", FAILURE_POLICIES), ("matchPolicy", MATCH_POLICIES)) + \
            ((("reinvocationPolicy", REINVOCATION_POLICIES),) if mutating else ()):
        value = hook.get(key)
        if value is not None and value not in allowed:
            errs.append(not_supported(f"{path}.{key}", value, allowed))
    side_effects = hook.get("sideEffects")
    if side_effects is None:
        errs.append(required(f"{path}.sideEffects", f"must specify one of {', '.join(SIDE_EFFECTS)}"))
    elif side_effects not in SIDE_EFFECTS:
        errs.append(not_supported(f"{path}.sideEffects", side_effects, SIDE_EFFECTS))
    timeout = hook.get("timeoutSeconds")
    if timeout is not None and (not is_int(timeout) or not 1 <= timeout <= 30):
        errs.append(invalid(f"{path}.timeoutSeconds", timeout, "the timeout value must be between 1 and 30 seconds"))
    errs += _review_versions(hook.get("admissionReviewVersions"), f"{path}.admissionReviewVersions")
    errs += _client_config(_dict(hook.get("clientConfig")), f"{path}.clientConfig")
    for key in ("namespaceSelector", "objectSelector"):
        if hook.get(key) is not None:
            errs += label_selector(hook.get(key), f"{path}.{key}")
    errs += _match_conditions(hook.get("matchConditions"), f"{path}.matchConditions")
    return errs


def _configuration(obj: dict, mutating: bool) -> Errors:
    errs: Errors = []
    seen = set()
    for i, hook in enumerate(_list(obj.get("webhooks"))):
        hook = _dict(hook)
        errs += _webhook(hook, f"webhooks[{i}]", mutating)
        name = text(hook.get("name"))
        if name:
            if name in seen:
                errs.append(duplicate(f"webhooks[{i}].name", name))
            seen.add(name)
    return errs


def validate_mutating(obj: dict, namespaced: bool) -> Errors:
    return _meta.object_meta(obj.get("metadata"), namespaced, names.name_is_dns_subdomain) + \
        _configuration(obj, True)


def validate_validating(obj: dict, namespaced: bool) -> Errors:
    return _meta.object_meta(obj.get("metadata"), namespaced, names.name_is_dns_subdomain) + \
        _configuration(obj, False)


def _update(validate):
    def update(new: dict, old: dict, namespaced: bool) -> Errors:
        errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
        return errs + [e for e in validate(new, namespaced) if not e.field.startswith("metadata.")]
    return update


GROUP = "admissionregistration.k8s.io"
CREATE = {(GROUP, "MutatingWebhookConfiguration"): validate_mutating,
          (GROUP, "ValidatingWebhookConfiguration"): validate_validating}
UPDATE = {key: _update(validate) for key, validate in CREATE.items()}
